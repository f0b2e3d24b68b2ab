//! Dates of birth and health details, per language, with the benign near-misses, and the
//! properties every scan keeps on arbitrary input.

use super::dob::date_at;
use super::tests_names_address::{benign, detector, found, hit, none_of};
use crate::detect::Kind;
use proptest::prelude::*;

#[test]
fn date_formats() {
    fn span(t: &str) -> Option<(&str, u32)> {
        date_at(t.as_bytes(), 0).map(|(s, e, y)| (&t[s..e], y))
    }
    assert_eq!(span("03.03.1987"), Some(("03.03.1987", 1987)));
    assert_eq!(span("12/04/1990!"), Some(("12/04/1990", 1990)));
    assert_eq!(span("1990-04-12"), Some(("1990-04-12", 1990)));
    assert_eq!(span("3. März 1987"), Some(("3. März 1987", 1987)));
    assert_eq!(span("12 avril 1990"), Some(("12 avril 1990", 1990)));
    assert_eq!(span("1er mai 1980"), Some(("1er mai 1980", 1980)));
    assert_eq!(
        span("12 de abril de 1990"),
        Some(("12 de abril de 1990", 1990))
    );
    assert_eq!(span("12 aprile 1990"), Some(("12 aprile 1990", 1990)));
    assert_eq!(span("12 april 1990"), Some(("12 april 1990", 1990)));
    assert_eq!(
        span("12 de março de 1990"),
        Some(("12 de março de 1990", 1990))
    );
    assert_eq!(span("April 12, 1990"), Some(("April 12, 1990", 1990)));
    assert_eq!(span("12th April 1990"), Some(("12th April 1990", 1990)));
    assert_eq!(span("07-07-85"), Some(("07-07-85", 1985)));
    assert_eq!(span("10.0.3.14"), None);
    assert_eq!(span("32.13.1990"), None);
    assert_eq!(span("1.2.3"), None);
}

#[test]
fn birth_labels_in_every_language() {
    hit(Kind::DateOfBirth, "DOB: 1985-07-23", "1985-07-23");
    hit(Kind::DateOfBirth, "Date of birth: 14.03.1985", "14.03.1985");
    hit(Kind::DateOfBirth, "Geburtsdatum: 03.03.1987", "03.03.1987");
    hit(
        Kind::DateOfBirth,
        "Müller, geb. 3. März 1987",
        "3. März 1987",
    );
    hit(
        Kind::DateOfBirth,
        "date de naissance : 12/04/1990",
        "12/04/1990",
    );
    hit(
        Kind::DateOfBirth,
        "fecha de nacimiento 12 de abril de 1990",
        "12 de abril de 1990",
    );
    hit(Kind::DateOfBirth, "F. nac.: 02/02/1957", "02/02/1957");
    hit(
        Kind::DateOfBirth,
        "Empleado: Khadija Benali\nF. nacimiento: 27-02-1979\n",
        "27-02-1979",
    );
    hit(
        Kind::DateOfBirth,
        "data di nascita: 12 aprile 1990",
        "12 aprile 1990",
    );
    hit(Kind::DateOfBirth, "geboortedatum 12-04-1990", "12-04-1990");
    hit(
        Kind::DateOfBirth,
        "data de nascimento: 12/04/1990",
        "12/04/1990",
    );
    hit(Kind::DateOfBirth, "{\"dob\": \"1972-11-30\"}", "1972-11-30");
}

#[test]
fn birth_words_beside_a_person() {
    hit(
        Kind::DateOfBirth,
        "Passeggeri:\n1) Andrea Pinna, nato 14/07/1980\n2) Valentina Pinna, nata 30/11/1983",
        "30/11/1983",
    );
    hit(
        Kind::DateOfBirth,
        "Lena Hoffmann wurde am 3. März 2015 geboren",
        "3. März 2015",
    );
    hit(
        Kind::DateOfBirth,
        "Anna Schmidt, born on 3 March 1990 in Lyon",
        "3 March 1990",
    );
    hit(
        Kind::DateOfBirth,
        "Camille Martin est née le 12 avril 1990",
        "12 avril 1990",
    );
    hit(
        Kind::DateOfBirth,
        "Natalia Vega nació el 23-11-1964",
        "23-11-1964",
    );
    hit(
        Kind::DateOfBirth,
        "Marco Bianchi è nato il 5 maggio 1978",
        "5 maggio 1978",
    );
    hit(
        Kind::DateOfBirth,
        "Daan de Jong is geboren op 12 april 1990",
        "12 april 1990",
    );
    hit(
        Kind::DateOfBirth,
        "Inês Costa nasceu em 12 de março de 1990",
        "12 de março de 1990",
    );
    hit(
        Kind::DateOfBirth,
        "Son: Daniela Ortiz Pérez (07/07/1985)",
        "07/07/1985",
    );
}

#[test]
fn dates_in_a_birth_column() {
    let csv = "jugador,fecha_nac\nRamón Díaz Nieto,07/11/1991\nJulián Sanz Vega,20/08/1982\n";
    hit(Kind::DateOfBirth, csv, "07/11/1991");
    hit(Kind::DateOfBirth, csv, "20/08/1982");
    let other = "id;created;dob\n1;2024-01-02;1980-05-06\n";
    hit(Kind::DateOfBirth, other, "1980-05-06");
    none_of(Kind::DateOfBirth, "id;created;dob\n1;2024-01-02;\n");
}

#[test]
fn other_dates_and_public_figures_are_not_birth_dates() {
    // A surname that is also a royal word makes no reign.
    hit(
        Kind::DateOfBirth,
        "- Óscar Villalobos Rey, PAK284913, caduca 03/2031, nacido 09/12/1984",
        "09/12/1984",
    );
    // A chat agent's question answered on the next line.
    hit(
        Kind::DateOfBirth,
        "[10:02] Agent Maëlle : pouvez-vous me confirmer votre date de naissance ?\n[10:03] Client : 12/08/1983, Jérôme Vasseur, fin 7731",
        "12/08/1983",
    );
    // The writer's own husband is no public figure, whatever else the text asks for.
    hit(
        Kind::DateOfBirth,
        "Plan a surprise 40th for my husband Ravi Subramanian — he was born 21 August 1984. \
         He loves cricket. Give me a timeline.",
        "21 August 1984",
    );
    none_of(
        Kind::DateOfBirth,
        "Faz um resumo da trajetória política do Lula, nascido em 27 de outubro de 1945.",
    );
    // DATE_NO_PERSON
    benign("La empresa se fundó el 14 de marzo de 1987");
    benign("Python was born in 1991; release date 2024-01-15");
    benign("Ho una call con Fabio Mazza il 14/01/2025 alle 9:30");
    benign("My son was born on 17 November 2023, what vaccines are due?");
    benign("Plan Lena Vogel's birthday party on 14 March 2026 at the office");
    // PUBLIC_FIGURE_DATE
    benign("Angela Merkel wurde am 17. Juli 1954 in Hamburg geboren.");
    benign("Albert Einstein was born on 14 March 1879 in Ulm");
    benign(
        "La reina Letizia nació el 15 de septiembre de 1972 en Oviedo. Escribe un perfil neutral.",
    );
    benign("Valentino Rossi è nato il 16 febbraio 1979 a Urbino. Fammi una cronologia dei suoi titoli mondiali.");
}

#[test]
fn health_tied_to_a_named_person() {
    hit(
        Kind::Health,
        "My colleague Anna Weber was diagnosed with type 2 diabetes.",
        "diagnosed with type 2 diabetes",
    );
    hit(
        Kind::Health,
        "Jonas Becker nimmt Metformin 500 mg",
        "Metformin 500 mg",
    );
    hit(
        Kind::Health,
        "Patientin: Sabine Krause. Diagnose: Asthma bronchiale",
        "Diagnose: Asthma bronchiale",
    );
    hit(
        Kind::Health,
        "Mme Lopez souffre de lombalgies chroniques",
        "souffre de lombalgies chroniques",
    );
    hit(
        Kind::Health,
        "le patient M. Girard, sous insuline",
        "insuline",
    );
    hit(
        Kind::Health,
        "Paciente: Lucía Romero, con epilepsia",
        "epilepsia",
    );
    hit(
        Kind::Health,
        "Il mio collega Riccardo Colombo è sieropositivo",
        "sieropositivo",
    );
    hit(Kind::Health, "de patiënt dhr. Visser heeft astma", "astma");
    hit(
        Kind::Health,
        "A paciente Inês Ferreira está grávida",
        "grávida",
    );
    hit(
        Kind::Health,
        "Marco Rinaldi: lo operano di ernia inguinale",
        "lo operano di ernia inguinale",
    );
}

#[test]
fn health_without_an_identifier_is_not_sensitive() {
    // HEALTH_NO_IDENTIFIER
    benign("I was diagnosed with ADHD, tips?");
    benign("What are symptoms of diabetes?");
    // An acronym in a sentence is not a name, and German nouns are capitalised.
    benign("¿Qué diferencia hay entre la diabetes tipo 1 y la LADA? Explícalo como para alguien sin formación médica.");
    benign("Ich habe seit zwei Wochen Ibuprofen 600 gegen Rückenschmerzen genommen. Ab wann sollte ich mir wegen dem Magen Sorgen machen?");
    benign("A mi madre le han diagnosticado Alzheimer en fase inicial.");
    benign("Un collega ha il diabete di tipo 1. Cosa dobbiamo fare?");
    benign("Quels sont les effets secondaires de la metformine ?");
    benign("Dr. Weber, what is the usual dose of ibuprofen?");
    benign("The service suffers from a memory leak under load");
    benign("Stephen Hawking had ALS and still wrote books");
}

#[test]
fn german_and_dutch_health_words() {
    hit(
        Kind::Health,
        "Herr Krüger leidet an Depressionen",
        "leidet an Depressionen",
    );
    none_of(Kind::Health, "Der Patient leidet an Depressionen");
    hit(Kind::Health, "Mevr. Bakker is zwanger", "zwanger");
    // Being ill, and an impairment, said of a named person.
    hit(
        Kind::Health,
        "Jakob ist krank, Magen-Darm, kommt Freitag wieder. Jakob Krüger, Klasse 5b.",
        "Magen-Darm",
    );
    hit(
        Kind::Health,
        "Mijn buurvrouw, mevrouw Tjon-A-Fong, is slechtziend en durft niet naar buiten.",
        "slechtziend",
    );
    none_of(
        Kind::Health,
        "Krank sein ist doof, was hilft bei Schnupfen?",
    );
    hit(
        Kind::Health,
        "Mon fils Rayan Benali a été absent car il a eu une gastro-entérite avec fièvre.",
        "gastro-entérite",
    );
    hit(
        Kind::Health,
        "Elle s'appelle Ginette Lambert. Rappelle-lui que Lina est allergique aux arachides.",
        "allergique",
    );
    hit(
        Kind::Health,
        "O colaborador Hélder Moniz entregou baixa médica de 30 dias por hérnia discal.",
        "hérnia",
    );
    hit(
        Kind::Health,
        "Mein Kollege Stefan Rieger hat seit einem Jahr Depressionen.",
        "Depressionen",
    );
    hit(
        Kind::Health,
        "Doña Pilar Arnáiz tiene alzhéimer en fase moderada y vive sola.",
        "alzhéimer",
    );
    hit(
        Kind::Health,
        "Mijn schoonvader (Henk Bos, 74) gebruikt acenocoumarol.",
        "acenocoumarol",
    );
    // A family word names the person; an exchange programme is no public figure.
    hit(
        Kind::Health,
        "Mi hermano Raúl (nacido el 5/9/1989) tiene diabetes tipo 1 y se va de Erasmus.",
        "diabetes",
    );
}

#[test]
fn compounds_and_writers() {
    hit(
        Kind::Health,
        "unser Mitarbeiter Marcel Schulz hat eine Alkoholabhängigkeit",
        "Alkoholabhängigkeit",
    );
    hit(
        Kind::Health,
        "mevrouw Jacobs revalideert na haar borstkankeroperatie",
        "borstkankeroperatie",
    );
    none_of(Kind::Health, "Operador: Júlio Rodrigues Oliveira, turno B");
    hit(Kind::Health, "Frau Becker hat Hautkrebs", "Hautkrebs");
    none_of(Kind::Health, "Herr Becker hat uns gestern besucht");
    none_of(Kind::Health, "visita specialistica per Sofia Martinelli");
    let mail = "Von: Johannes Koch\nBetreff: Situation\n\nHallo,\n\nbei mir wurde eine bipolare Störung diagnostiziert.\n";
    hit(Kind::Health, mail, "diagnostiziert");
    benign("Bei mir wurde eine bipolare Störung diagnostiziert. Was nun?");
    benign("Hi Anna, I was diagnosed with ADHD last year, any tips for work?");
    benign("Hallo Jonas, ich habe seit Jahren Migräne. Was hilft?");
    hit(
        Kind::Health,
        "Hi Anna, your results show type 2 diabetes",
        "type 2 diabetes",
    );
}

#[test]
fn birth_dates_after_names_and_in_records() {
    hit(
        Kind::DateOfBirth,
        "Daten: Ayse Schulz, 16.03.1979, wohnhaft in Hamburg",
        "16.03.1979",
    );
    hit(
        Kind::DateOfBirth,
        "{\"name\":\"Griet Huisman\",\"birthDate\":\"1976-02-16T00:00:00Z\"}",
        "1976-02-16",
    );
    hit(
        Kind::DateOfBirth,
        "Patient Bernard Roux (IPP 6792, DDN 25/08/2002)",
        "25/08/2002",
    );
    none_of(
        Kind::DateOfBirth,
        "Ho una call con Fabio Mazza, 14/01/2025 alle 9:30",
    );
    benign("Ordina per età questi campioni per un articolo:\n\natleta;nascita\nFederica Pellegrini;05/08/1988\nAlberto Tomba;19/12/1966\n");
    let roster = "Chi rientra negli Under 15?\n\natleta;data_nascita\nStefano Sala;03/05/2015\n";
    hit(Kind::DateOfBirth, roster, "03/05/2015");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every finding lies inside its text and on character boundaries, whatever the input.
    #[test]
    fn offsets_are_char_boundaries(text in "(?s)[a-zA-Z0-9 .,:;/()\\n\\-äöüßéèçñàìòÄÖÜÉ€’\u{200b}]{0,300}") {
        let d = detector();
        let with_email = format!("{text} x.y@gmail.com");
        for t in [text.as_str(), with_email.as_str()] {
            for f in d.scan(&[t]).findings {
                prop_assert!(f.start < f.end && f.end <= t.len());
                prop_assert!(t.is_char_boundary(f.start) && t.is_char_boundary(f.end));
            }
        }
    }

    /// Address- and name-shaped input built from the word tables never panics and keeps
    /// offsets valid.
    #[test]
    fn shaped_input_never_panics(
        words in prop::collection::vec(prop::sample::select(vec![
            "Frau", "Müller", "Anna", "Str.", "straße", "42", "10435", "Berlin", "rue", "12",
            "Via", "Roma", "1015", "CJ", "1100-053", "DOB:", "geboren", "3.", "März", "1987",
            "(", ")", ",", "\n", "diabet", "mg", "500", "Dr.", "Sig.ra", "º", "°", "é", "ñ",
        ]), 0..40)
    ) {
        let text = words.join(" ");
        for f in found(&text) {
            prop_assert!(text.contains(&f.1));
        }
    }
}

#[test]
fn a_family_member_s_birth_against_a_historical_one() {
    hit(
        Kind::DateOfBirth,
        "La nonna Assunta Caruso è nata il 2 ottobre 1935 a Lecce. Mi scrivi una cronologia della sua vita con i fatti storici di quegli anni?",
        "2 ottobre 1935",
    );
    none_of(
        Kind::DateOfBirth,
        "La madre di Napoleone, Letizia Ramolino, è nata il 24 agosto 1750 ad Ajaccio: mi scrivi una cronologia storica?",
    );
    none_of(
        Kind::DateOfBirth,
        "The son of Henry VIII, Edward Tudor, was born on 12 October 1537. Give me a timeline of his reign.",
    );
}

#[test]
fn degree_signs_abbreviations_and_streets_named_after_poets() {
    hit(
        Kind::DateOfBirth,
        "- Wout De Smedt, °17/09/1991, Kortrijksesteenweg 118 bus 3, 9000 Gent",
        "17/09/1991",
    );
    hit(
        Kind::DateOfBirth,
        "Paz. Bruno Galli – d.n. 15/06/1959",
        "15/06/1959",
    );
    none_of(
        Kind::DateOfBirth,
        "Temperatur 38° 12/03/2024 bei Herrn Weber",
    );
    // "Via Dante Alighieri" names a street, not the poet: the CV's birth date stays private.
    hit(
        Kind::DateOfBirth,
        "Nome: Valentina Serra\nData di nascita: 19/11/1993\nResidenza: Via Dante Alighieri 63, 09128 Cagliari",
        "19/11/1993",
    );
}

#[test]
fn epoch_dates_and_places_that_are_given_names() {
    none_of(
        Kind::DateOfBirth,
        "def fake_employee():\n    return {\"name\": \"Test User\", \"dob\": \"1970-01-01\"}",
    );
    benign(
        "Mein Sohn (4) hat seit dem Winter wieder schlimmere Neurodermitis. Was kann man machen?",
    );
    benign("We're a small travel agency in Ireland. Does wheelchair assistance count as special category data?");
    // Written to, or after Dutch "en" (and), a person stays one.
    hit(
        Kind::Person,
        "Write to Anna about her diabetes follow-up",
        "Anna",
    );
    hit(
        Kind::Person,
        "Mijn collega's Jan en Anna hebben allebei diabetes",
        "Anna",
    );
}

#[test]
fn a_record_s_subject_after_a_title_and_more_conditions() {
    // "Patiente : Mme PERRIN Josiane": the surname in capitals, the record's subject, so a
    // finding at the end of the report is hers.
    let report = "COMPTE RENDU IRM\nPatiente : Mme PERRIN Josiane — DDN : 02/02/1968\nIndication : paresthésies.\nRésultats : multiples hypersignaux T2/FLAIR de la substance blanche périventriculaire et juxtacorticale, dont deux prenant le contraste, sans autre anomalie notable sur l'ensemble des séquences réalisées ce jour.\nConclusion : aspect compatible avec une sclérose en plaques.";
    hit(Kind::Person, report, "PERRIN Josiane");
    hit(Kind::Health, report, "sclérose en plaques");
    hit(
        Kind::Health,
        "Dipendente: Valeria Caruso – in cura per un disturbo alimentare (anoressia nervosa)",
        "disturbo alimentare",
    );
    hit(
        Kind::Health,
        "il sottoscritto Enrico Fabbri ha riportato trauma distorsivo del rachide cervicale",
        "trauma distorsivo",
    );
    hit(
        Kind::Health,
        "Cliënt Dennis van der Meulen, 34 jr\n- 6 wk na VKB-reconstructie li knie",
        "VKB-reconstructie",
    );
}

#[test]
fn a_coworker_s_treatment_and_autism_by_its_initials() {
    hit(
        Kind::Health,
        "My coworker Dmitri told me yesterday he's starting chemo next month for Hodgkin lymphoma.",
        "chemo",
    );
    hit(
        Kind::Health,
        "meu filho Davi Menezes Rocha, do 4º ano B, tem TEA nível 1 (laudo entregue em fevereiro)",
        "TEA nível",
    );
    benign("I had tea with a friend, nivel of fun was high.");
}

#[test]
fn births_said_otherwise_and_a_letter_s_subject_line() {
    // German says a child "came into the world"; Spanish shortens the year after "del".
    hit(
        Kind::DateOfBirth,
        "Unser Sohn Luca kam am 4. Juni 2019 zur Welt. Wird er 2024 eingeschult?",
        "4. Juni 2019",
    );
    hit(
        Kind::DateOfBirth,
        "fiesta sorpresa para mi suegro Fermín, nació el 12 de diciembre del 54 así que cumple 70",
        "12 de diciembre del 54",
    );
    // As every birth word, beside a person only: a calf on a farm's blog is no one's.
    none_of(
        Kind::DateOfBirth,
        "Auf dem Hof kam das erste Kalb am 4. Juni 2019 zur Welt.",
    );
    // Brazilian notes label the birth date "DN".
    hit(
        Kind::DateOfBirth,
        "Paciente: Maria das Graças Souza   DN: 14/02/1956",
        "14/02/1956",
    );
    // "Re: Mrs …" heads a referral: the condition three paragraphs down is hers.
    let letter = "Dear Dr Haldane,\n\nRe: Mrs Eileen Pritchard, DOB 02/11/1947\n\n\
        Thank you for seeing this 76-year-old lady whose daughter reports progressive \
        short-term memory loss over 18 months. MoCA today 19/30. B12, folate and TFTs normal. \
        She lives alone and has stopped driving, and her family would like advice.\n\n\
        I would be grateful for your assessment for possible Alzheimer's disease.";
    hit(Kind::Health, letter, "Alzheimer");
}

#[test]
fn a_contract_s_party_under_an_article_heading() {
    // "Artikel 9" is a contract's clause, not an article about a public figure.
    hit(
        Kind::DateOfBirth,
        "Artikel 9 – Partijen en het gehuurde\n9.1 Verhuurder: Woonstichting De Gracht, gevestigd \
         te Amsterdam.\n9.2 Huurder: mevrouw Eline Roosmarijn Hoekstra, geboren op 11 april 1996 \
         te Leeuwarden, hierna te noemen 'huurder'.",
        "11 april 1996",
    );
    hit(
        Kind::Health,
        "filing a claim for my wife Rachel Dunn (DOB 5/14/1983). ortho says complete ACL tear, surgery July 2",
        "ACL tear",
    );
}

#[test]
fn a_legal_notice_s_address_and_a_city_office_are_public() {
    benign(
        "Impressum für unsere neue Website, passt das so?\n\nBergmann Kaffeerösterei GmbH\n\
         Geschäftsführer: Tobias Bergmann\nRegistergericht: Amtsgericht Rosenheim, HRB 28811\n\n\
         Münchener Straße 40\n83022 Rosenheim",
    );
    benign(
        "Uw afspraak is op dinsdag om 10:20 bij het Stadskantoor, Stadsplateau 1, 3521 AZ Utrecht.",
    );
    hit(
        Kind::Health,
        "Dear tutor, my friend Lukas Brenner has glandular fever and must rest three weeks.",
        "glandular fever",
    );
}

#[test]
fn a_year_with_an_apostrophe_and_an_in_law_s_diagnosis() {
    hit(
        Kind::DateOfBirth,
        "voor de clubkrant: Koen Dekker (geb. 2 mei '88) wordt erelid, lid sinds 2003",
        "2 mei '88",
    );
    hit(
        Kind::Health,
        "Mijn schoonmoeder Truus van der Meer (81) heeft net de diagnose beginnende alzheimer gekregen.",
        "alzheimer",
    );
}
