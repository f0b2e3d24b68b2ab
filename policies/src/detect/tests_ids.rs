//! Detector-level tests of normalisation, blobs, split values, national ids, phones and
//! secrets: what each format looks like in a prompt and what must stay benign.

use super::*;

use super::tests::{detector, hit, miss};

/// The kinds found in each part, with the part and the matched text.
fn found(parts: &[&str]) -> Vec<(Kind, usize, String)> {
    detector()
        .scan(parts)
        .findings
        .iter()
        .map(|f| (f.kind, f.part, parts[f.part][f.start..f.end].to_string()))
        .collect()
}

#[test]
fn obfuscated_values_map_back_to_the_original() {
    hit(
        Kind::PaymentCard,
        "card ４５３２ ０１５１ １２８３ ０３６６ ok",
        "４５３２ ０１５１ １２８３ ０３６６",
    );
    hit(
        Kind::PaymentCard,
        "card 4532\u{200B}0151\u{200B}1283\u{200B}0366.",
        "4532\u{200B}0151\u{200B}1283\u{200B}0366",
    );
    hit(
        Kind::Email,
        "mail jоhn.smith@gmаil.com now",
        "jоhn.smith@gmаil.com",
    );
    hit(
        Kind::Email,
        "write to jane dot doe at gmail dot com",
        "jane dot doe at gmail dot com",
    );
    hit(
        Kind::Email,
        "cristina_b15 chiocciola alice punto it",
        "cristina_b15 chiocciola alice punto it",
    );
    hit(
        Kind::Email,
        "?u=%6A%6F%65%40%77%65%62%2E%64%65&c=1",
        "%6A%6F%65%40%77%65%62%2E%64%65",
    );
    hit(
        Kind::Phone,
        "Handy: 0 1 5 1 2 3 4 5 6 7 8 9",
        "0 1 5 1 2 3 4 5 6 7 8 9",
    );
    hit(
        Kind::UsSsn,
        "SSN 8 1 7 - 7 8 - 6 7 6 4",
        "8 1 7 - 7 8 - 6 7 6 4",
    );
    hit(
        Kind::Iban,
        "IBAN d e 6 2 3 7 0 4 0 0 4 4 0 5 3 2 0 1 3 0 0 1 ok",
        "d e 6 2 3 7 0 4 0 0 4 4 0 5 3 2 0 1 3 0 0 1",
    );
    miss("spiked at some point in the window; look at docs.rs");
}

#[test]
fn values_in_encoded_blobs_report_the_blob() {
    // base64 of "-----BEGIN RSA PRIVATE KEY-----\n" + a body + END line.
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7k3VqZ9m2bXoY1pL8sT4uW6nC0dF5gH2jK9lM3qR7tY1vB8x\nZ4cN6aS0eD2fG5hJ7kL9mP1oQ3rT6uV8wX0yA2bC4dE6fG8hJ0kL2mN4oP6qR8sT\n-----END RSA PRIVATE KEY-----\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
    use base64::Engine;
    let text = format!("tls.key: {b64}\n");
    hit(Kind::PrivateKey, &text, &b64);
    // Hex of an address.
    hit(
        Kind::Email,
        "blob=6a616e652e646f6540676d61696c2e636f6d;",
        "6a616e652e646f6540676d61696c2e636f6d",
    );
    miss("sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    miss("img data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk");
}

#[test]
fn values_split_across_parts_are_found_in_both() {
    let f = found(&["my card is 4532 0151", "1283 0366 thanks"]);
    let cards: Vec<_> = f.iter().filter(|x| x.0 == Kind::PaymentCard).collect();
    assert_eq!(cards.len(), 2, "{f:?}");
    assert_eq!((cards[0].1, cards[0].2.as_str()), (0, "4532 0151"));
    assert_eq!((cards[1].1, cards[1].2.as_str()), (1, "1283 0366"));
    let f = found(&["write to jane.doe@gm", "ail.com please"]);
    assert!(f.iter().any(|x| x.0 == Kind::Email && x.1 == 1), "{f:?}");
    assert!(found(&["ends with 4532", "and 0151 starts"]).is_empty());
}

#[test]
fn national_ids_with_check_digits() {
    hit(
        Kind::NationalId,
        "Steuer-ID 86 095 742 719",
        "86 095 742 719",
    );
    hit(Kind::NationalId, "Steuer-ID: 86095742719", "86095742719");
    miss("Steuer-ID: 86095742718");
    hit(
        Kind::NationalId,
        "NIR 1 85 05 78 006 084 91",
        "1 85 05 78 006 084 91",
    );
    hit(
        Kind::NationalId,
        "codice fiscale RSSMRA85T10A562S",
        "RSSMRA85T10A562S",
    );
    hit(Kind::NationalId, "CF: RSSMRA85T10A562S", "RSSMRA85T10A562S");
    miss("codice RSSMRA85T10A562T");
    hit(Kind::NationalId, "mijn BSN is 111222333", "111222333");
    miss("mijn BSN is 123456789");
    hit(Kind::NationalId, "NIF 501964843", "501964843");
    hit(Kind::NationalId, "CPF 529.982.247-25", "529.982.247-25");
    miss("CPF 529.982.247-26");
    hit(Kind::NationalId, "DNI 12345678-Z", "12345678-Z");
    hit(Kind::NationalId, "AHV 756.9217.0769.85", "756.9217.0769.85");
    hit(Kind::NationalId, "RRN 93.05.18-223.61", "93.05.18-223.61");
    hit(Kind::MedicalId, "NHS number 943 476 5919", "943 476 5919");
    miss("NHS number 943 476 5918");
    hit(Kind::NationalId, "ITIN 912-70-1234", "912-70-1234");
    miss("part 912-70-1234 in stock");
}

#[test]
fn keyword_ids_and_tables() {
    hit(
        Kind::Passport,
        "numéro de passeport : 12AB34567",
        "12AB34567",
    );
    hit(Kind::Passport, "passaporto YA1234567", "YA1234567");
    hit(Kind::MedicalId, "MRN: 00482913", "00482913");
    hit(Kind::MedicalId, "Patienten-ID P-2023-00481", "P-2023-00481");
    hit(
        Kind::MedicalId,
        "Versichertennummer A123456780",
        "A123456780",
    );
    // A NIR is a national id, on a Carte Vitale too; a bare `patient` labels only what
    // follows it closely.
    hit(
        Kind::NationalId,
        "Ma carte Vitale n'a pas été mise à jour. Numéro de sécurité sociale 2 87 04 93 249 846 06.",
        "2 87 04 93 249 846 06",
    );
    let t = "Vertaal voor een patiënt: 'Meneer Haddad, uw afspraak is verzet naar dinsdag 10:30. \
             Bel bij verhindering 040-551 9692.'";
    assert!(found(&[t]).iter().all(|f| f.0 != Kind::MedicalId), "{t}");
    // A German passport may hold no digit; a value another label announces is not a
    // patient's record number.
    hit(
        Kind::Passport,
        "die Angaben meines Mannes: Reisepassnummer FGLYTGWCK, ausgestellt in München",
        "FGLYTGWCK",
    );
    miss("Reisepassnummer BITTE NACHREICHEN");
    hit(
        Kind::NationalId,
        "Paciente Rosa María Quintana Gil, 81 años, DNI 12837465S. Deterioro cognitivo",
        "12837465S",
    );
    hit(
        Kind::Phone,
        "per il paziente Ahmed Rahman, tel. 328 094 1172, appuntamento martedì",
        "328 094 1172",
    );
    // A company's NIF is a legal person's.
    miss("O NIF da nossa empresa é 536506477 (sociedade por quotas). Como configuro?");
    hit(
        Kind::NationalId,
        "meus dados: NIF 936285559, morada",
        "936285559",
    );
    // Check letters and digits decide after their keyword: a NIE, a CPF in its own format.
    hit(Kind::NationalId, "DNI/NIE: X8732701S", "X8732701S");
    miss("En un test unitario tengo el NIE 'X1234567A' y la validación lo rechaza.");
    miss("Meu sistema rejeita esse CPF de teste: 529.982.247-26. O cálculo do segundo dígito?");
    hit(
        Kind::NationalId,
        "1) Andrea Pinna, nato 14/07/1980, CI n. CA48217BD",
        "CA48217BD",
    );
    // Abbreviated labels of a German insurance card and a Spanish social-security number
    // (national, as the policy's writers label it).
    hit(Kind::MedicalId, "Versichertennr.: M042055825", "M042055825");
    hit(
        Kind::NationalId,
        "Nº afiliación SS: 28/44543912/04",
        "28/44543912/04",
    );
    hit(
        Kind::NationalId,
        "titular Francisco Javier Ramos, D.N.I. 33.906.455-Q.",
        "33.906.455-Q",
    );
    hit(
        Kind::NationalId,
        "driver's license number D1234567",
        "D1234567",
    );
    hit(
        Kind::MedicalId,
        "id,name,nhs_number\n1,Rosa,9434765919\n",
        "9434765919",
    );
    miss("passport expires 2027-05-01");
    miss("patient took 1000 mg");
}

#[test]
fn vendor_secrets_and_passwords() {
    hit(
        Kind::SlackToken,
        "xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef",
        "xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef",
    );
    hit(
        Kind::SlackToken,
        "url https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/a1B2c3D4e5F6g7H8i9J0k1L2",
        "https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/a1B2c3D4e5F6g7H8i9J0k1L2",
    );
    hit(
        Kind::GenericSecret,
        "token glpat-x9Y8w7V6u5T4s3R2q1P0",
        "glpat-x9Y8w7V6u5T4s3R2q1P0",
    );
    hit(
        Kind::GenericSecret,
        "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",
        "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",
    );
    hit(
        Kind::GenericSecret,
        "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    );
    hit(
        Kind::GenericSecret,
        "AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=;",
        "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=",
    );
    hit(
        Kind::GenericSecret,
        "SECRET_KEY = \"axowkgeay6bans4q07ykel!3i=y^r9%-e(0s7pevf7\"",
        "axowkgeay6bans4q07ykel!3i=y^r9%-e(0s7pevf7",
    );
    // Django's keys may hold two asterisks in a row; three or more are a mask.
    hit(
        Kind::GenericSecret,
        "SECRET_KEY = 'fbci34*jxgy$9**66z))9=a38+1=wx6(r50j^r3i7m&948mhim'",
        "fbci34*jxgy$9**66z))9=a38+1=wx6(r50j^r3i7m&948mhim",
    );
    miss("SECRET_KEY = 'fbci34jx****************************948mhim'");
    hit(
        Kind::Password,
        "curl -u deploy:Xk9#mQ2vL7 https://api.acme.io",
        "Xk9#mQ2vL7",
    );
    hit(
        Kind::Password,
        "Authorization: Basic ZGVwbG95OlhrOSNtUTJ2TDc=",
        "ZGVwbG95OlhrOSNtUTJ2TDc=",
    );
    hit(
        Kind::Password,
        "<password>19-A=%c#kKd2@^</password>",
        "19-A=%c#kKd2@^",
    );
    hit(
        Kind::Password,
        "set my router password to IiXoPT4VtdTLNd3Z6LlQ",
        "IiXoPT4VtdTLNd3Z6LlQ",
    );
    hit(
        Kind::Password,
        "mysqldump -u backup -p'7mJC5+deUM8p%EFI' db",
        "7mJC5+deUM8p%EFI",
    );
    miss("curl -u guest:guest http://localhost; Basic Z3Vlc3Q6Z3Vlc3Q=");
    miss("password = var.db_password; \"private_key_id\": \"O_SEU_PRIVATE_KEY_ID\"");
    miss("xoxb-your-bot-token and https://hooks.slack.com/services/T000/B000/XXXX");
}

#[test]
fn infrastructure_stays_benign() {
    miss("upgrade to 6.4.2.18, Chrome/124.0.0.0 Safari, .NET 4.8.1.0");
    miss("resolvers 8.8.8.8 and 1.1.1.1, host 10.0.0.1, 192.168.1.20");
    miss("sa conta@proj.iam.gserviceaccount.com");
    miss("test cards 4242 4242 4242 4242 and 4000 0000 0000 0002");
}

#[test]
fn vendor_tokens_keep_their_kind_inside_passwords() {
    hit(
        Kind::GithubToken,
        "https://x-access-token:ghp_KoJceXBH42IkQFU960mNhJuAPXOEGvgUsWlY@github.com/o/r",
        "ghp_KoJceXBH42IkQFU960mNhJuAPXOEGvgUsWlY",
    );
    hit(
        Kind::GenericSecret,
        "MAIL_PASSWORD=key-bcac82be4777bd538b2bd2aa8fb3d293",
        "key-bcac82be4777bd538b2bd2aa8fb3d293",
    );
    hit(
        Kind::GenericSecret,
        "SECRET_KEY=django-insecure-g@(w+gecrk3(x0^mogc%!s6!r5",
        "django-insecure-g@(w+gecrk3(x0^mogc%!s6!r5",
    );
}

#[test]
fn a_seam_does_not_extend_a_value_found_whole() {
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    let r = d.scan(&["mail p.rossi@libero.it", "notify"]);
    assert!(r.findings.iter().all(|f| f.part == 0), "{:?}", r.findings);
    // A value split over two parts is still found in both.
    let r = d.scan(&["my card is 4539 1488", "0343 6467 thanks"]);
    let parts: Vec<usize> = r.findings.iter().map(|f| f.part).collect();
    assert_eq!(parts, [0, 1], "{:?}", r.findings);
}

#[test]
fn ids_announced_earlier_in_the_line() {
    hit(
        Kind::UsSsn,
        "El formulario pide el SSN de mi cuñado y me lo mandó así: 536228817. ¿Con guiones?",
        "536228817",
    );
    miss("Het SSN-veld in 2024 heeft negen cijfers, bijvoorbeeld 000123456.");
    hit(
        Kind::Passport,
        "Hierbij de gegevens: paspoortnummer BGKNCQSD2, geldig tot 2032.",
        "BGKNCQSD2",
    );
    // A sentence with two commas over a line with one is no table header.
    hit(
        Kind::Passport,
        "Votre passeport n° 24EK09845 est arrivé, il repart au 40, rue Émile Zola.\nBien cordialement,\nLe service",
        "24EK09845",
    );
    // `nie` is German for "never"; a documentation address is no id.
    miss("Beispiel-IPs, die es nie wirklich gibt: ist 203.0.113.45 in Ordnung?");
    miss("Le numéro de dossier de l'huissier est 6591295030082222, pour le courrier.");
    hit(
        Kind::MedicalId,
        "Patient au CHU, numéro de dossier 00482913",
        "00482913",
    );
}

#[test]
fn secrets_in_calls_configs_and_prose() {
    let wp = "define( 'DB_PASSWORD', 'PRnpvQSQL3jOE9Qg' );";
    hit(Kind::Password, wp, "PRnpvQSQL3jOE9Qg");
    let dj =
        r#"SECRET_KEY = os.environ.get("DJANGO_SECRET", "i-m(@h0c#1@g_sc5rwm8y7p#dxdk(&u#2bg")"#;
    hit(
        Kind::GenericSecret,
        dj,
        "i-m(@h0c#1@g_sc5rwm8y7p#dxdk(&u#2bg",
    );
    miss(r#"SECRET_KEY = os.environ.get("DJANGO_SECRET")"#);
    hit(
        Kind::Password,
        "rabbitmq:\n  username: orders\n  password: UR8&?XW5db@@H15r&o\n",
        "UR8&?XW5db@@H15r&o",
    );
    let rt = "1//0GU-fEWAp72vSrE83heo7nE855LEAwm4c0hwskCM354g1vNQJ0tbpiWVL2v";
    hit(
        Kind::GenericSecret,
        &format!("refresh token {rt} expired"),
        rt,
    );
    hit(
        Kind::Password,
        "Hoe verander ik het wachtwoord van mijn modem? Het huidige is Stroopwafel1973* nu.",
        "Stroopwafel1973*",
    );
    miss("NEP_SLEUTEL = \"-----BEGIN PRIVATE KEY-----\\n<placeholder>\\n-----END PRIVATE KEY-----\"\n\nPrima zo?");
    miss("Why does Stripe.js complain when I pass pk_test_51MrfQGJD3bhUxZvydEkseSKDeqUvqn58kS1?");
    miss("Il server chiede ancora la password: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILE9q5OYGUQjlO0X backup@nas");
}

#[test]
fn versions_and_oids_are_not_addresses() {
    miss("Dans mon certificat, l'extension 2.5.29.17 contient les noms DNS.");
    miss("Which hosts need an upgrade?\n\nhost,agent_version\napp-01,7.49.0.1\ndb-01,7.50.3.12\n");
}

#[test]
fn passwords_with_symbols_and_keys_that_are_not() {
    for (text, value) in [
        (
            "Mein Passwort fürs Firmen-VPN ist CURiFHJ2$*!Y@Cem#n, sicher genug?",
            "CURiFHJ2$*!Y@Cem#n",
        ),
        (
            "A senha do wi-fi da casa é Kiel&1243K – faz um cartaz.",
            "Kiel&1243K",
        ),
        (
            "Mein Passwort für das Vereinsportal hab ich vergessen, aber im Browser gespeichert gesehen: Dortmund!1909bvb. Ist das sicher?",
            "Dortmund!1909bvb",
        ),
        (
            "Le mot de passe de l'admin du site WordPress de l'asso c'est admin / Vélo2Montagne!73 — tu peux ?",
            "Vélo2Montagne!73",
        ),
        (
            "my password for the VPN, it's Marmotte4Harbour* – a mnemonic?",
            "Marmotte4Harbour*",
        ),
        (
            "passwort für den router: tangerine-kiel-73",
            "tangerine-kiel-73",
        ),
        (
            "usuario 48213-emp, clave Tr0piK@l-88. Dime si está presentado.",
            "Tr0piK@l-88",
        ),
        // Wi-fi codes, words with `&` before the value, and a value sent base64-encoded.
        (
            "Le code wifi de la maison c'est drache-azulejo39, tu peux faire une affiche ?",
            "drache-azulejo39",
        ),
        (
            "La password del wifi del B&B è Mandarina_Blauw#1690, scrivimi un cartellino.",
            "Mandarina_Blauw#1690",
        ),
        (
            "mi ha mandato la password in base64 per 'sicurezza': aEhhVDJqKkxNemJNMHk=. Come?",
            "aEhhVDJqKkxNemJNMHk=",
        ),
    ] {
        hit(Kind::Password, text, value);
    }
    miss("Cache miss clave=catalogo:categoria:5 en el nodo 2");
    // A field's type in a model is not its value.
    miss("class Cliente(BaseModel):\n    email: EmailStr\n    password: SecretStr\n");
    miss("Wir brauchen ein Feld `password: String` im Formular.");
    // Placeholders in other languages, and a bare `<password>` tag.
    miss("STRIPE_SECRET_KEY=sk_live_VOTRE_CLE_ICI\nSLACK_BOT_TOKEN=xoxb-tu-token-aqui\n");
    miss("Server=localhost;Database=Inventory;User Id=sa;Password=<password>;TrustServerCertificate=true. Is there");
    miss("Nel log di Slack vedo channel_not_found per C04KT4NKB0G e l'utente U0Z40Z74ZBS.");
    // A US-shaped number no SSN can have, after a social-insurance word.
    miss("Für Testdaten nutzen wir US-Sozialversicherungsnummern wie 987-12-3456 und 000-45-6789.");
    miss("sudo: deploy : TTY=pts/0 ; PWD=/srv/app ; USER=root ; COMMAND=/bin/ls");
    miss(r#"{"pedido": "ad3789c5ba22c852d12cbd51", "amount": 989}"#);
}

#[test]
fn spelled_emails_and_version_lists() {
    hit(
        Kind::Email,
        "escríbele a jorge.ledesma (arroba) hotmail (punto) com por favor",
        "jorge.ledesma (arroba) hotmail (punto) com",
    );
    miss("snmp:\n  oids:\n    - 1.3.6.1.2.1.1.3.0\n    - 2.5.4.3\n");
    miss("INFO client bijgewerkt van 5.4.12.3 naar 5.5.0.1 op 64 werkplekken");
}

#[test]
fn values_given_in_two_pieces() {
    for (kind, text, piece) in [
        (
            Kind::PaymentCard,
            "ok the card is 35501898 and the rest is 06822283, please book the hotel on it",
            "06822283",
        ),
        (
            Kind::PaymentCard,
            "meine Kartennummer lautet 23849082 – den Rest schicke ich aus Sicherheitsgründen im nächsten Satz: 29056755. Bitte",
            "23849082",
        ),
        (
            Kind::Iban,
            "La primera es ES03 2038 6344. Vale, y lo que falta es 6311 9039 1575. ¿Me preparas el recibo?",
            "6311 9039 1575",
        ),
        (
            Kind::UsSsn,
            "The SSN you asked for starts with 750-11, and the last part is 8960. Please delete this.",
            "750-11",
        ),
        (
            Kind::AwsAccessKey,
            "KEY_ID = \"AKIARQ6QY5\" + \"9ZRHXJD72X\"  # split so the scanner doesn't catch it",
            "AKIARQ6QY5",
        ),
        (
            Kind::StripeKey,
            "headers = {\"Authorization\": \"Bearer \" + \"sk_live_fqxqxgD8\" + \"LXoB8r6q1XAhqsXd\"}",
            "LXoB8r6q1XAhqsXd",
        ),
        (
            Kind::Phone,
            "Apunta el móvil de Paco el fontanero: 711 6\n(sigue) 67 976\nHazme un recordatorio.",
            "711 6",
        ),
        (
            Kind::Password,
            "ik geef het wachtwoord in twee berichten. het eerste deel is \"Fietsbel42\"\nen het tweede deel \"_Regenjas!\". Voldoet het?",
            "_Regenjas!",
        ),
        // One speaker's pieces past "rest is" join; a chat's times are no piece.
        (
            Kind::PaymentCard,
            "[10:02] cust: first part 49795131\n[10:02] cust: rest is 20078952\n[10:03] cust: exp 11/26",
            "49795131\n[10:02] cust: rest is 20078952",
        ),
        (
            Kind::PaymentCard,
            "on two sticky notes, first bit 22292117\nand second bit 61350952. The website says",
            "61350952",
        ),
        // Numbered messages.
        (
            Kind::Iban,
            "Ik stuur het rekeningnummer in twee delen:\ndeel 1: BE853102\ndeel 2: 90468206\nklopt het?",
            "BE853102\ndeel 2: 90468206",
        ),
        (
            Kind::PaymentCard,
            "Mio padre mi ha mandato la carta in due messaggi\nmsg1: 4916 6759\nmsg2: 3323 5776 scad 11/26",
            "4916 6759\nmsg2: 3323 5776",
        ),
    ] {
        hit(kind, text, piece);
    }
    hit(
        Kind::SlackToken,
        "O token começa com xoxb-994052884361-125579851856. O resto é 8-tuwW6IKyifsFhGjzfX2o8JTn, colei separado.",
        "8-tuwW6IKyifsFhGjzfX2o8JTn",
    );
    hit(
        Kind::GoogleApiKey,
        "la clé est coupée sur deux lignes :\nAIzaD5cNMvPEx1nYQQrk\nlMeSpIJ-mogIMeQKpZG\nJe la recolle comment ?",
        "AIzaD5cNMvPEx1nYQQrk\nlMeSpIJ-mogIMeQKpZG",
    );
    // Pieces that join into nothing valid, and a cue with one piece.
    miss("Order 1234 is here; the rest is in box 5678.");
    miss("Ticket 4711 closed, the rest of it stays open until 2025.");
}

#[test]
fn networks_placeholders_and_documented_tokens() {
    // A version with a zero tail is no address; a host in a connect error is.
    miss("[INFO] fallback to HDX 2.4.0.0");
    hit(
        Kind::IpAddress,
        "connect to 85.12.0.7 port 22 failed",
        "85.12.0.7",
    );
    // A login at a host's address: the address is the host's.
    hit(Kind::IpAddress, "ssh admin@85.12.0.7 -p 2222", "85.12.0.7");
    miss("ssh deploy@10.0.3.14 and npm i lodash@4.17.21");
    // A password may start with '%'; a '%NAME%' or '%(name)s' template is none.
    hit(
        Kind::Password,
        "REDIS_PASSWORD=%nD^EVgyrQ*oN_DS#QqlBOys",
        "%nD^EVgyrQ*oN_DS#QqlBOys",
    );
    miss("DB_PASSWORD=%DB_PASSWORD%");
    miss("password = %(db_password)s");
    // Telegram's documented bot token against a real-looking one.
    miss("BOT_TOKEN=123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11 come esempio");
    hit(
        Kind::GenericSecret,
        "BOT_TOKEN=7012345678:AAHfT3kWq9Zx_Lm2PbR8vNc4YdE6uJ0sGhQ",
        "7012345678:AAHfT3kWq9Zx_Lm2PbR8vNc4YdE6uJ0sGhQ",
    );
    // Stripe object ids are references; a client secret is a secret.
    miss("INFO card_token=tok_1OqY2bLkdIwHu7ix pan=**** 1881");
    miss("customer=cus_NffrFeUfNV2Hib");
    hit(
        Kind::GenericSecret,
        "client_secret=pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
    );
    // Masked card digits and a picture's base64 carry no whole value.
    miss("la tessera sanitaria come 8038000********4921. Vale lo stesso?");
    miss("La API me devuelve la imagen del DNI escaneado como data URI: data:image/png;base64,M+EtcN88dJ/jl0npj1SqzY1riG0bOfnmezDUPJljx");
}
