//! Identifier keywords inside compounds and the national numbers of Latin America.

use super::*;

use super::tests::{found, hit, miss};

#[test]
fn a_compound_ending_in_a_keyword_is_that_keyword_s() {
    hit(
        Kind::MedicalId,
        "was bedeutet der buchstabe bei der krankenversichertennummer? auf meiner karte steht R754823993",
        "R754823993",
    );
    hit(
        Kind::NationalId,
        "Auf meinem Sozialversicherungsausweis steht 53 110490 W 272. Mein Arbeitgeber sagt",
        "53 110490 W 272",
    );
    // A German tax office's "ID-Nr.": a valid Steuer-ID only.
    hit(
        Kind::NationalId,
        "bei meiner ID-Nr. 15059368722 'ungültiges Format'",
        "15059368722",
    );
    miss("bei meiner ID-Nr. 15059368723 'ungültiges Format'");
    // A Swiss AHV number is national, whoever asks for it.
    hit(
        Kind::NationalId,
        "das Formular der neuen Krankenkasse will die AHV-Nummer. Meine ist 756.5572.7837.04",
        "756.5572.7837.04",
    );
}

#[test]
fn chilean_argentine_and_mexican_numbers_with_their_checks() {
    hit(
        Kind::NationalId,
        "vendedor: Patricio Núñez Soto, rut 21.473.241-6, fono +56 9 7654 3210",
        "21.473.241-6",
    );
    miss("mi rut es 21.473.241-7 según el carnet");
    hit(
        Kind::NationalId,
        "me pide el CUIL, el de ella es 27-27590502-5. Se puede",
        "27-27590502-5",
    );
    miss("me pide el CUIL, el de ella es 27-27590502-4. Se puede");
    hit(
        Kind::NationalId,
        "el sistema dice \"CURP no válida\" pero la copié: SAOB941108MJCLCR02 que puede ser",
        "SAOB941108MJCLCR02",
    );
    miss("el sistema dice \"CURP no válida\" pero la copié: SAOB941108MJCLCR03 que puede ser");
}

#[test]
fn postcodes_and_service_names_are_no_ids() {
    // A British postcode after "passport" is the passport office's.
    miss(
        "what's the address for a passport application to HM Passport Office? \"Durham DH98 1BT\"",
    );
    // `sns` in an ARN is Amazon's notification service, not Spain's health system.
    let arn = "\"arn\": \"arn:aws:sns:us-east-1:411253066538:billing-alerts\"";
    assert!(
        found(arn).iter().all(|(k, _)| *k != Kind::MedicalId),
        "{:?}",
        found(arn)
    );
}

#[test]
fn ward_and_therapy_notes_label_their_record_numbers() {
    hit(
        Kind::MedicalId,
        "letto 12 - sig.ra Anna Rizzo (ID paz. 00104148), 84 aa, BPCO riacutizzata",
        "00104148",
    );
    hit(
        Kind::MedicalId,
        "mia madre Rosa Cantoni è ricoverata in ortopedia (n. nosologico 2024/037481) per frattura",
        "2024/037481",
    );
    hit(
        Kind::MedicalId,
        "Sesión 12 - Florencia M. (HC 92-5356)\nSigue con TAG",
        "92-5356",
    );
    // In lower case "hc" is no label.
    miss("the order hc 92-5356 shipped with the wrong cable");
}

#[test]
fn austrian_australian_canadian_and_us_state_numbers() {
    hit(
        Kind::NationalId,
        "Mein Mann Herbert Gschwandtner (SV-Nr. 7362 140379) hatte im Mai eine Knie-OP",
        "7362 140379",
    );
    hit(
        Kind::NationalId,
        "name Mei Lin Tran, TFN 730 324 659, DOB 22/09/1996",
        "730 324 659",
    );
    let wrong = "name Mei Lin Tran, TFN 730 324 658, thanks";
    assert!(found(wrong).iter().all(|(k, _)| *k != Kind::NationalId));
    hit(
        Kind::NationalId,
        "mon employeur me demande mon NAS par texto pour la paie, c'est 269 086 872.",
        "269 086 872",
    );
    // A number failing the check, and a lower-case "nas", announce no national number.
    // Nor does an address that passes the check by chance.
    for t in [
        "mon NAS 269 086 873 est plein",
        "mon nas 269 086 872 est plein",
        "el NAS Synology está en 192.168.1.34, el router en .1",
    ] {
        assert!(found(t).iter().all(|(k, _)| *k != Kind::NationalId), "{t}");
    }
    hit(
        Kind::NationalId,
        "the online checkin wants my license. I put CA DL Y4830172, exp 03/2029",
        "Y4830172",
    );
    // Spain's social security affiliation number is national, not a medical record's.
    hit(
        Kind::NationalId,
        "me pide el número de afiliación a la seguridad social. en la carta pone 29/72450178/26.",
        "29/72450178/26",
    );
}

#[test]
fn indian_canadian_and_colombian_numbers_and_health_cards() {
    hit(
        Kind::NationalId,
        "Name: Sneha Ravindra Kulkarni, Aadhaar no. 3358 7043 8358, account is in Kothrud branch",
        "3358 7043 8358",
    );
    let wrong = "Name: Sneha Kulkarni, Aadhaar no. 3358 7043 8359, account in Kothrud";
    assert!(found(wrong).iter().all(|(k, _)| *k != Kind::NationalId));
    // Zero-width spaces between the digits go in normalisation.
    hit(
        Kind::NationalId,
        "My employer typed my SIN wrong, I copied it out of the PDF: 4\u{200b}7\u{200b}8\u{200b}4\u{200b}7\u{200b}1\u{200b}5\u{200b}9\u{200b}2 but",
        "4\u{200b}7\u{200b}8\u{200b}4\u{200b}7\u{200b}1\u{200b}5\u{200b}9\u{200b}2",
    );
    // Spanish "sin" is "without".
    let sin = "pago sin 478471592 comisiones";
    assert!(found(sin).iter().all(|(k, _)| *k != Kind::NationalId));
    hit(
        Kind::NationalId,
        "certificado laboral para Andrés Felipe Ramírez Ospina, identificado con C.C. 1.081.004.719 de Bogotá",
        "1.081.004.719",
    );
    hit(
        Kind::NationalId,
        "l'agent a mal écrit mon numéro de permis sur le constat. C'est G4512-180391-07 normalement",
        "G4512-180391-07",
    );
    // A RAMQ number's four letters are the holder's initials; its digits are the number.
    hit(
        Kind::MedicalId,
        "Mon numéro d'assurance maladie c'est TREJ 9052 1114, au nom de Julie Tremblay.",
        "9052 1114",
    );
}

#[test]
fn a_spanish_summons_is_no_identity_card() {
    let t = "En la cédula de citación pone 'Procedimiento Ordinario 612/2023 – NIG: 28079 42 1 2023 0187346'.";
    assert!(
        found(t).iter().all(|(k, _)| *k != Kind::NationalId),
        "{:?}",
        found(t)
    );
    hit(
        Kind::NationalId,
        "mi número de cédula es 1.081.004.719, expedida en Bogotá",
        "1.081.004.719",
    );
}
