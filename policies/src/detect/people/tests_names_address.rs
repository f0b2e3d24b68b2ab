//! Names and street addresses, per language, with the benign near-misses.

pub(super) use crate::detect::tests::detector;
use crate::detect::Kind;

/// The findings in `text`, with the matched text. A second part holding an e-mail address
/// keeps person findings, which are dropped from requests with nothing else sensitive.
pub(super) fn found(text: &str) -> Vec<(Kind, String)> {
    detector()
        .scan(&[text, "Contact: a.b@gmail.com"])
        .findings
        .iter()
        .filter(|f| f.part == 0)
        .map(|f| (f.kind, text[f.start..f.end].to_string()))
        .collect()
}

/// The findings of `text` scanned alone, as the gateway sees a one-part request.
pub(super) fn alone(text: &str) -> Vec<Kind> {
    detector()
        .scan(&[text])
        .findings
        .iter()
        .map(|f| f.kind)
        .collect()
}

#[track_caller]
pub(super) fn hit(kind: Kind, text: &str, matched: &str) {
    let f = found(text);
    assert!(
        f.iter().any(|(k, m)| *k == kind && m == matched),
        "expected {kind} '{matched}' in {text:?}, got {f:?}"
    );
}

#[track_caller]
pub(super) fn none_of(kind: Kind, text: &str) {
    let f = found(text);
    assert!(
        f.iter().all(|(k, _)| *k != kind),
        "expected no {kind} in {text:?}, got {f:?}"
    );
}

#[track_caller]
pub(super) fn benign(text: &str) {
    let f = alone(text);
    assert!(f.is_empty(), "expected nothing in {text:?}, got {f:?}");
}

#[test]
fn full_names_in_every_language() {
    hit(
        Kind::Person,
        "Please send this to Jonas Weber today",
        "Jonas Weber",
    );
    hit(
        Kind::Person,
        "le dossier de Marie Dubois est prêt",
        "Marie Dubois",
    );
    hit(
        Kind::Person,
        "el informe de Lucía García Pérez",
        "Lucía García Pérez",
    );
    hit(Kind::Person, "la pratica di Giulia Rossi", "Giulia Rossi");
    hit(
        Kind::Person,
        "het contract van Sanne de Vries",
        "Sanne de Vries",
    );
    hit(
        Kind::Person,
        "o processo de João dos Santos",
        "João dos Santos",
    );
    hit(Kind::Person, "report for Emily Johnson", "Emily Johnson");
}

#[test]
fn honorifics_roles_labels_and_signatures() {
    hit(Kind::Person, "Sehr geehrte Frau Öztürk,", "Öztürk");
    hit(Kind::Person, "Herr Dr. Brandstätter kommt", "Brandstätter");
    hit(Kind::Person, "M. Lefebvre a appelé", "Lefebvre");
    hit(Kind::Person, "Mme Rousseau est absente", "Rousseau");
    hit(Kind::Person, "la Sra. Etxeberria llamó", "Etxeberria");
    hit(Kind::Person, "la Sig.ra Bianchi ha chiamato", "Bianchi");
    hit(Kind::Person, "dhr. Jansen belde", "Jansen");
    hit(Kind::Person, "Mrs Thornbury called", "Thornbury");
    hit(
        Kind::Person,
        "Dear Mr Featherstonehaugh, thank you",
        "Featherstonehaugh",
    );
    hit(Kind::Person, "Patient: Kowalczyk, Anna", "Kowalczyk");
    hit(Kind::Person, "Name: Okonkwo Adebayo", "Okonkwo Adebayo");
    hit(Kind::Person, "my colleague Priya asked", "Priya");
    hit(
        Kind::Person,
        "Thanks for the help.\n\nBest regards,\nTorsten Quabeck",
        "Torsten Quabeck",
    );
}

#[test]
fn common_words_are_not_names() {
    none_of(Kind::Person, "Will you mark the date? May I ask why.");
    none_of(Kind::Person, "The Street Fighter game and New York.");
    none_of(Kind::Person, "Der Bericht und Die Kosten im Januar");
}

#[test]
fn name_alone_is_not_sensitive() {
    // NAME_ONLY
    benign("Write a birthday poem for my friend Anna");
    benign("Schreib eine Dankeskarte an Jürgen Becker");
    benign("Rédige un mot de remerciement pour Camille Laurent");
    benign("Escribe una felicitación para Carmen Ruiz");
    benign("Scrivi un biglietto per Francesca Moretti");
    benign("Schrijf een kaartje voor Daan Bakker");
    benign("Escreve um cartão para a Inês Ferreira");
}

#[test]
fn names_are_kept_beside_other_findings() {
    let d = detector();
    let r = d.scan(&["Jonas Weber, mail jonas.weber@web.de"]);
    assert!(r.findings.iter().any(|f| f.kind == Kind::Person));
    let r = d.scan(&["Jonas Weber says hello"]);
    assert!(r.is_empty() && r.class.is_none());
}

#[test]
fn public_figures_are_not_private_persons() {
    // PUBLIC_FIGURE
    none_of(Kind::Person, "What did Angela Merkel say about Europe?");
    none_of(Kind::Person, "Merkel und Macron trafen sich");
    none_of(Kind::Person, "un discours de Emmanuel Macron");
    none_of(Kind::Person, "a biography of Albert Einstein");
    benign("Resume the career of Pedro Sánchez");
    benign("Hat Bruce Willis wirklich frontotemporale Demenz? Wie äußert sich die Krankheit?");
    // A place named after someone is no person beside a health detail.
    benign(
        "Resume: 'El Hospital Universitario La Paz ha realizado su trasplante de pulmón número \
         1.000, en una paciente de 54 años con fibrosis pulmonar.'",
    );
}

#[test]
fn german_austrian_swiss_addresses() {
    hit(
        Kind::StreetAddress,
        "Jonas Weber lives at 42 Kastanienallee, 10435 Berlin",
        "42 Kastanienallee, 10435 Berlin",
    );
    hit(
        Kind::StreetAddress,
        "Anschrift: Kastanienallee 42, 10435 Berlin",
        "Kastanienallee 42, 10435 Berlin",
    );
    hit(
        Kind::StreetAddress,
        "wohnt in der Berliner Straße 12a, D-60311 Frankfurt am Main",
        "Berliner Straße 12a, D-60311 Frankfurt am Main",
    );
    hit(
        Kind::StreetAddress,
        "Frau Huber\nMariahilfer Str. 77/3\n1060 Wien",
        "Mariahilfer Str. 77/3\n1060 Wien",
    );
    hit(
        Kind::StreetAddress,
        "Lieferadresse Bahnhofweg 5, 8001 Zürich",
        "Bahnhofweg 5, 8001 Zürich",
    );
}

#[test]
fn french_spanish_italian_addresses() {
    hit(
        Kind::StreetAddress,
        "His current address, as far as I know, is 42 Heol y Parc, Pontypridd CF37 2RT. I attach",
        "42 Heol y Parc, Pontypridd CF37 2RT",
    );
    // The ancient road is famous; the street of the same name in Rome is where people live.
    hit(
        Kind::StreetAddress,
        "io sottoscritto Fabrizio De Luca, residente in Via Appia Nuova 221, 00183 Roma, chiedo",
        "Via Appia Nuova 221, 00183 Roma",
    );
    hit(
        Kind::StreetAddress,
        "Mijn gegevens: Joris Verhoeven, Sint Janssingel 9, 5211 DA 's-Hertogenbosch\nCJIB",
        "Janssingel 9, 5211 DA 's-Hertogenbosch",
    );
    // `Castillo` names a castle, and a woman here: her name makes no address public.
    hit(
        Kind::StreetAddress,
        "mi madre: Dolores Castillo Ramos, domicilio en Calle San Vicente Mártir 61, pta. 9, 46007 Valencia.",
        "Calle San Vicente Mártir 61, pta. 9, 46007 Valencia",
    );
    hit(
        Kind::StreetAddress,
        "J'habite au 12 rue des Lilas, 69003 Lyon.",
        "12 rue des Lilas, 69003 Lyon",
    );
    hit(
        Kind::StreetAddress,
        "domicile : 77 ter quai de la Fosse, Escalier C, 33000 Bordeaux",
        "77 ter quai de la Fosse, Escalier C, 33000 Bordeaux",
    );
    hit(
        Kind::StreetAddress,
        "mi dirección es Calle Mayor 5, 3º B, 28013 Madrid",
        "Calle Mayor 5, 3º B, 28013 Madrid",
    );
    hit(
        Kind::StreetAddress,
        "envíalo a Avda. de la Constitución, 21, 41001 Sevilla",
        "Avda. de la Constitución, 21, 41001 Sevilla",
    );
    hit(
        Kind::StreetAddress,
        "Abito in Via Zanardelli 38, 37114 Verona VR.",
        "Via Zanardelli 38, 37114 Verona VR",
    );
    hit(
        Kind::StreetAddress,
        "residente in viale Monza 120, 20127 Milano (MI)",
        "viale Monza 120, 20127 Milano (MI)",
    );
}

#[test]
fn dutch_portuguese_english_addresses() {
    hit(
        Kind::StreetAddress,
        "adres: Keizersgracht 123, 1015 CJ Amsterdam",
        "Keizersgracht 123, 1015 CJ Amsterdam",
    );
    hit(
        Kind::StreetAddress,
        "woont op Dorpsstraat 7, 3581AB Utrecht",
        "Dorpsstraat 7, 3581AB Utrecht",
    );
    hit(
        Kind::StreetAddress,
        "morada: Rua Augusta 100, 2.º Esq., 1100-053 Lisboa",
        "Rua Augusta 100, 2.º Esq., 1100-053 Lisboa",
    );
    hit(
        Kind::StreetAddress,
        "Flat 3, 14 Acacia Avenue, London N1 2AB",
        "Flat 3, 14 Acacia Avenue, London N1 2AB",
    );
    hit(
        Kind::StreetAddress,
        "ship to 742 Evergreen Terrace, Springfield, IL 62704",
        "742 Evergreen Terrace, Springfield, IL 62704",
    );
    hit(
        Kind::StreetAddress,
        "she moved to 18 Harcourt Rd last year",
        "18 Harcourt Rd",
    );
}

#[test]
fn streets_without_a_street_type_and_odd_house_numbers() {
    hit(
        Kind::StreetAddress,
        "Anschrift: An der Kirche 17c, 01067 Dresden",
        "An der Kirche 17c, 01067 Dresden",
    );
    hit(
        Kind::StreetAddress,
        "Mehmet Neumann, geboren 11.05.1970, Rheinallee 56 a, 31785 Hameln.",
        "Rheinallee 56 a, 31785 Hameln",
    );
    hit(
        Kind::StreetAddress,
        "residente in Viale dei Pini 60bis, 43124 Parma PR.",
        "Viale dei Pini 60bis, 43124 Parma PR",
    );
    hit(
        Kind::StreetAddress,
        "neue Adresse: „Mozartstraße 36a\n30159 Hannover“",
        "Mozartstraße 36a\n30159 Hannover",
    );
    hit(
        Kind::StreetAddress,
        "destinatário Sra. Marta Neves, Rua Sá da Bandeira, 141, 3.º Esq., 8005-346 Faro. Remetente: a nossa loja.",
        "Rua Sá da Bandeira, 141, 3.º Esq., 8005-346 Faro",
    );
}

#[test]
fn more_street_forms() {
    hit(
        Kind::StreetAddress,
        "abito in P.zza Garibaldi 3, 80142 Napoli",
        "P.zza Garibaldi 3, 80142 Napoli",
    );
    hit(
        Kind::StreetAddress,
        "woont op Laan van Meerdervoort 52, 2517 AN Den Haag",
        "Laan van Meerdervoort 52, 2517 AN Den Haag",
    );
    hit(
        Kind::StreetAddress,
        "wohnhaft Im Winkel 22a, 20357 Hamburg",
        "Im Winkel 22a, 20357 Hamburg",
    );
    hit(
        Kind::StreetAddress,
        "send to 123 Main Street, Apt 4B, Springfield, IL 62704 please",
        "123 Main Street, Apt 4B, Springfield, IL 62704",
    );
    hit(
        Kind::StreetAddress,
        "dirección: C/ Mayor, 5, 2º izq., 28013 Madrid",
        "C/ Mayor, 5, 2º izq., 28013 Madrid",
    );
    none_of(Kind::StreetAddress, "Die Laan 5 ist gesperrt");
}

#[test]
fn public_addresses_are_not_sensitive() {
    benign("der Workshop findet bei SAP statt: Dietmar-Hopp-Allee 16, 69190 Walldorf.");
    benign(
        "Hoe kom ik van Utrecht Centraal naar het Rijksmuseum, Museumstraat 1, 1071 XX Amsterdam?",
    );
    benign("¿Cómo llego al Estadio Santiago Bernabéu (Av. de Concha Espina 1, 28036 Madrid)?");
    benign("Die Adresse ist Süddeutsche Zeitung, Hultschiner Straße 8, 81677 München.");
    benign(
        "Schreib eine Beschwerde an die Siemens AG, Werner-von-Siemens-Straße 1, 80333 München.",
    );
    benign(
        "Devo andare all'ufficio anagrafe del Comune di Milano per il cambio di residenza. È \
         quello di Via Larga 12? Servono appuntamento?",
    );
    benign("Domenica vado agli Uffizi (Piazzale degli Uffizi 6, Firenze). Conviene prenotare?");
    benign("un courrier à la Caisse primaire d'assurance maladie de Paris, 21 rue Georges Auric, 75948 Paris Cedex 19.");
    benign("Faz um e-mail formal ao Banco de Portugal, Rua do Comércio 148, 1100-150 Lisboa.");
    benign("For the offsite we booked the Moscone Center, 747 Howard St, San Francisco.");
    // Having no PO box says nothing of the address given.
    hit(
        Kind::StreetAddress,
        "Mijn adres is Van Speijkstraat 114-2, 1057 HB Amsterdam en ik heb geen postbus.",
        "Speijkstraat 114-2, 1057 HB Amsterdam",
    );
    hit(
        Kind::StreetAddress,
        "Her address is: Mrs. Gurpreet Kaur Sandhu, 58 Cottonwood Cres, Brampton ON L6Z 3K4.",
        "58 Cottonwood Cres, Brampton ON L6Z 3K4",
    );
    // Agencies people write to; a street named after someone beside a health word.
    benign("Devo mandare una raccomandata all'Agenzia delle Entrate, Direzione Provinciale di Milano, Via Manin 25.");
    benign("Ik moet een brief sturen naar de Belastingdienst, Postbus 2508, 6401 DA Heerlen.");
    benign(
        "¿Cómo llego desde Atocha al Museo del Prado (Calle de Ruiz de Alarcón 23)? Voy con \
         una persona en silla de ruedas.",
    );
    // A field label before a type name in a schema names no one.
    benign("model Paciente {\n  nome           String\n  alergias       String[]\n}");
    // PUBLIC_ADDRESS
    benign("The White House is at 1600 Pennsylvania Ave NW, Washington, DC 20500");
    benign("10 Downing St is the Prime Minister's residence");
    benign("Das Rathaus Schöneberg, John-F.-Kennedy-Platz 1, 10825 Berlin, hat geöffnet");
    benign("Musée du Louvre, 99 rue de Rivoli, 75001 Paris : horaires d'ouverture ?");
    benign("El Ayuntamiento de Madrid está en Plaza de Cibeles 1, 28014 Madrid");
    benign("Visit us at our store, Via Roma 15, 10121 Torino");
    benign("Hoofdkantoor: Stationsplein 12, 3511 ED Utrecht");
    benign("Google's headquarters at 1600 Amphitheatre Parkway, Mountain View, CA 94043");
    benign("Ich schreibe eine Bewerbung. Die Firmenadresse ist Avenue Nestlé 55, 1800 Vevey.");
}

#[test]
fn numbers_that_are_not_house_numbers() {
    benign("The Street Fighter 2 game and 3 hard drive failures");
    benign("Platz 3 im Ranking, Version 2 Road map, 12 Straßen gesperrt");
    benign("sent via DHL 3 times; see page 12, chapter 4");
    benign("Die Hauptstraße ist gesperrt, 5 Minuten Umweg");
}

#[test]
fn addresses_after_a_flat_word_or_with_a_unit_part() {
    hit(
        Kind::StreetAddress,
        "Widerspruch für die Wohnung Am Mühlbach 30, Hinterhaus, 53220 Bonn (Mieter: Mehmet Fuchs)",
        "Am Mühlbach 30, Hinterhaus, 53220 Bonn",
    );
    hit(
        Kind::StreetAddress,
        "Ik ben Joost Meijer en woon op Vogelenzang 136B, 4465 WG Goes.",
        "Vogelenzang 136B, 4465 WG Goes",
    );
    for public in [
        "Organizza una gita al Colosseo (Piazza del Colosseo 1, 00184 Roma) con i ragazzi.",
        "Verzamelen bij de Johan Cruijff ArenA, Johan Cruijff Boulevard 1, 1101 AX Amsterdam.",
        "Schreib eine Einladung. Ort: Zeche Zollverein, Gelsenkirchener Str. 181, 45309 Essen.",
    ] {
        assert!(
            !alone(public).contains(&Kind::StreetAddress),
            "{public}: {:?}",
            alone(public)
        );
    }
}

#[test]
fn names_after_quotes_and_longer_than_a_public_figure() {
    hit(
        Kind::Person,
        "Resume esta nota: «Nuria Parra refiere ansiedad. Toma sertralina 50 mg desde marzo.»",
        "Nuria Parra",
    );
    hit(
        Kind::Person,
        "o meu filho Bruno Fernandes Neves teve uma amigdalite e está a tomar amoxicilina",
        "Bruno Fernandes Neves",
    );
}

#[test]
fn an_address_asked_for_belongs_to_the_place_asked_about() {
    none_of(
        Kind::StreetAddress,
        "Qual é a morada do Palácio de Belém para enviar uma carta ao Presidente? Praça Afonso de Albuquerque, 1349-022 Lisboa?",
    );
    // An address question with no public place in it leaves the address a person's.
    hit(
        Kind::StreetAddress,
        "Which address goes on the form? Mine is 42 Kastanienallee, 10435 Berlin.",
        "42 Kastanienallee, 10435 Berlin",
    );
}

#[test]
fn placeholder_and_famous_streets_are_nobody_s() {
    none_of(
        Kind::StreetAddress,
        "Name: Max Mustermann\nStraße: Musterstraße 1\nPLZ/Ort: 12345 Musterstadt",
    );
    none_of(
        Kind::StreetAddress,
        "Spreekbeurt over Anne Frank: het Achterhuis aan de Prinsengracht 263, het dagboek.",
    );
}

#[test]
fn offices_entrances_and_letterheads_are_public_places() {
    benign(
        "L'adresse de la CAF de Paris c'est bien 50 rue du Docteur Finlay, 75750 Paris Cedex 15 ?",
    );
    benign("Christophe Arnaud\nDirecteur commercial\nSNCF Voyageurs – 9 rue Jean-Philippe Rameau, 93200 Saint-Denis");
    benign("Tenho de ir à Loja do Cidadão das Laranjeiras. A morada é Rua Abranches Ferrão, 10, em Lisboa? Preciso de marcação?");
    benign("Voy al Museo del Prado. La entrada de grupos es por la calle Ruiz de Alarcón 23. ¿Cuál es más cómoda?");
    // Where one lives stays an address.
    hit(
        Kind::StreetAddress,
        "Moro na Rua Abranches Ferrão, 10, em Lisboa. Podes ajudar?",
        "Rua Abranches Ferrão, 10",
    );
    hit(
        Kind::StreetAddress,
        "Ik woon op de Kerkstraat 14, 3512 AB Utrecht",
        "Kerkstraat 14, 3512 AB Utrecht",
    );
}

#[test]
fn foundations_imprints_and_schema_org_places() {
    benign("Vou levar uma turma à Fundação de Serralves (Rua D. João de Castro, 210, 4150-417 Porto). Quanto custa?");
    benign("Ik stuur een brief naar de FOD Financiën, North Galaxy, Koning Albert II-laan 33, 1030 Brussel.");
    benign("Quiero enviar mi currículum al departamento de Recursos Humanos de El Corte Inglés, en Calle de Hermosilla, 112, 28009 Madrid.");
    // A certificate's "en el domicilio" is someone's home, even after the town hall's name;
    // an Italian letter's "firma:" signs it; a company's "domicilio social" and "Firma:" stay
    // the company's.
    hit(
        Kind::StreetAddress,
        "figura inscrito en el Padrón Municipal de Habitantes de este Ayuntamiento en el domicilio Carrer de Cuba, 48, pta. 9, 46006 València",
        "Carrer de Cuba, 48, pta. 9, 46006 València",
    );
    hit(
        Kind::StreetAddress,
        "tono educato ma deciso. firma: Chiara Bonetti, Via Nizza 132, scala B int. 9, 10126 Torino",
        "Via Nizza 132, scala B int. 9, 10126 Torino",
    );
    none_of(
        Kind::StreetAddress,
        "Talleres Montijo S.L., con domicilio social en Av. de Extremadura 17, 06480 Montijo",
    );
    none_of(
        Kind::StreetAddress,
        "Firma: Müller Logistik, Hafenstraße 12, 20457 Hamburg",
    );
    // A street and its number in separate fields of a record.
    let record = "{\"kunde\": {\"vorname\": \"Matthias\", \"geburtsdatum\": \"1983-02-27\", \"adresse\": {\"strasse\": \"Mühlgasse\", \"hausnr\": \"5\", \"plz\": \"97070\"}}}";
    hit(Kind::StreetAddress, record, "Mühlgasse");
    hit(Kind::StreetAddress, record, "5");
    // An hour is no house number.
    none_of(
        Kind::StreetAddress,
        "Date souhaitée : dimanche 18 mai, de 8 h à 18 h, rue de la Roquette.",
    );
    // A company's customer service, and a German noun the name lists also hold.
    benign("Draft a complaint to Transport for London, Customer Services, 5 Endeavour Square, London E20 1JN, about a fare.");
    benign("Nehme Ramipril gegen Bluthochdruck. Darf ich ein paar Tage Ibuprofen nehmen?");
    // A company's name on the line above its address block.
    benign("Nordlicht Software GmbH\nAm Sandtorkai 48\n20457 Hamburg");
    let museum = "{\"@context\": \"https://schema.org\", \"@type\": \"Museum\", \"name\": \"Field Museum\", \"address\": {\"@type\": \"PostalAddress\", \"streetAddress\": \"1400 S DuSable Lake Shore Dr\", \"postalCode\": \"60605\"}}";
    none_of(Kind::StreetAddress, museum);
    hit(
        Kind::StreetAddress,
        "{\"@context\": \"https://schema.org\", \"@type\": \"Person\", \"name\": \"Jan Vos\", \"address\": {\"@type\": \"PostalAddress\", \"streetAddress\": \"Kerkstraat 14\", \"postalCode\": \"3512 AB\"}}",
        "Kerkstraat 14",
    );
}

#[test]
fn number_signs_and_hyphenated_given_names() {
    hit(
        Kind::StreetAddress,
        "Moro na Rua Frederico Arouca, n.º 14, 2750-355 Cascais",
        "Rua Frederico Arouca, n.º 14, 2750-355 Cascais",
    );
    hit(
        Kind::StreetAddress,
        "Vivo en la Calle Mayor, núm. 5, 28013 Madrid",
        "Calle Mayor, núm. 5, 28013 Madrid",
    );
    hit(
        Kind::Person,
        "Jana-Marie Schulz, geboren am 02.11.1996",
        "Jana-Marie Schulz",
    );
    none_of(Kind::Person, "Coca-Cola Zero ist lecker, oder?");
}

#[test]
fn agencies_consulates_and_block_headings() {
    benign("Bitte formuliere ein Schreiben an das Bundeszentralamt für Steuern, An der Küppe 1, 53225 Bonn, mit einer Nachfrage.");
    benign("Posso mandar para a Segurança Social, Centro Distrital de Lisboa, Av. Afonso Costa, 6-8, 1900-034 Lisboa?");
    benign("Je dois l'envoyer à :\nPréfecture du Rhône\nDirection des migrations et de l'intégration\n106 rue Pierre Corneille\n69003 Lyon");
    // "insgesamt" ends with no office's name.
    hit(
        Kind::StreetAddress,
        "Insgesamt wohnen wir seit 2019 in der Hauptstraße 5, 10115 Berlin.",
        "Hauptstraße 5, 10115 Berlin",
    );
    // A line of fields above the address ends its heading: the employee's address is theirs.
    hit(
        Kind::StreetAddress,
        "NORTHWIND FULFILLMENT LLC          Pay date 06/14/2024\nEmployee: Marisol Ibarra           Emp ID 004417\n1583 W Juniper Ct, Unit 12, Mesa AZ 85201\n",
        "1583 W Juniper Ct, Unit 12, Mesa AZ 85201",
    );
}

#[test]
fn a_speaker_s_first_word_after_a_dialog_label_is_no_name() {
    let call = "AGENT: And the card?\nCUSTOMER: Yeah it's a Visa, the expiry is\nCUSTOMER: Eleven twenty-seven. Name is Harold Quint.";
    let f = found(call);
    assert!(
        f.iter()
            .any(|(k, m)| *k == Kind::Person && m == "Harold Quint"),
        "{f:?}"
    );
    assert!(f.iter().all(|(_, m)| m != "Yeah" && m != "Eleven"), "{f:?}");
}
