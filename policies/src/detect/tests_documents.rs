//! Detector-level tests of documents and logins: a passport by its document number, Belgian
//! debit cards, tax ids in records, passwords on command lines and in database calls, and
//! the numbers that only look like addresses.

use super::*;

use super::tests::{found, hit, miss};

#[test]
fn a_document_number_is_a_passport_s_on_a_passport_copy() {
    hit(
        Kind::Passport,
        "Mijn werkgever vraagt een kopie van mijn paspoort.\nAchternaam: VAN DER MEER\nDocumentnummer: RZQU1KI94\nGeldig tot: 22 06 2032",
        "RZQU1KI94",
    );
    // An ERP's or an invoice's document number is neither.
    miss("Document number: 4500012345 for the PO");
    miss("Documentnummer: RZQU1KI94");
}

#[test]
fn bancontact_cards_and_tax_ids_in_records() {
    hit(
        Kind::PaymentCard,
        "waarom weigert zalando mijn bancontactkaart? ik tik 6703 1284 3431 0305 9 in",
        "6703 1284 3431 0305 9",
    );
    hit(
        Kind::NationalId,
        "{\"vorname\": \"Paulina\", \"steuer_id\": \"50177324690\"}",
        "50177324690",
    );
    hit(
        Kind::NationalId,
        "Steuerliche ID: 48937861505",
        "48937861505",
    );
}

#[test]
fn passwords_on_command_lines_and_in_database_calls() {
    hit(
        Kind::Password,
        "sh 'docker login registry.internal.io -u ci-publisher -p \"Hx9!mQ2v#Lr7\"'",
        "Hx9!mQ2v#Lr7",
    );
    hit(
        Kind::Password,
        "sshpass -p 'Tr0ub4dor&3' ssh pi@10.0.0.5",
        "Tr0ub4dor&3",
    );
    hit(
        Kind::Password,
        "$conn = new mysqli(\"localhost\", \"web_academia\", \"SolhOf8LLFc#52\", \"academia\");",
        "SolhOf8LLFc#52",
    );
    // A variable or a default is no password.
    miss("docker login -u $USER -p $TOKEN");
    miss("$c = mysqli_connect('localhost', 'root', $pass, 'db');");
    miss("mysqli_connect('localhost','root','root','db')");
    // A password URL-encoded in a URL keeps its escaped slash.
    hit(
        Kind::Password,
        "url: mysql://grafana_ro:K%C3%A4se%23424%21Zug%2Fcexa@db-prod.intern:3306/shop",
        "K%C3%A4se%23424%21Zug%2Fcexa",
    );
}

#[test]
fn snmp_arcs_and_addresses_after_a_phone_word() {
    miss("snmpwalk -v2c -c public 192.168.10.2 1.3.6.1");
    miss("my phone on the same wifi can't open http://192.168.1.23:5000. I tried");
    // A public one is an address, still no phone.
    let public = "my phone on the same wifi can't open http://85.12.33.7:5000 either";
    hit(Kind::IpAddress, public, "85.12.33.7");
    assert!(found(public).iter().all(|(k, _)| *k != Kind::Phone));
}

#[test]
fn a_passport_s_machine_readable_zone() {
    let scan = "OCR van de testscan:\n\nP<NLDJANSEN<<PIETER<JAN<<<<<<<<<<<<<<<<<<<<<\nAF780UTX66NLD8904171M3308028811253752<<<<<88\n";
    hit(Kind::Passport, scan, "AF780UTX6");
    hit(Kind::DateOfBirth, scan, "890417");
    // A wrong check digit is no zone.
    miss("P<NLDJANSEN<<PIETER<JAN<<<<<<<<<<<<<<<<<<<<<\nAF780UTX67NLD8904171M3308028811253752<<<<<88\n");
    // An office's postcode after a passport word is no passport number.
    miss("Ik moet mijn nieuwe paspoort ophalen bij het Stadsloket Centrum, Amstel 1, 1011 PN Amsterdam.");
    miss("Ich muss zum Bürgerbüro, um meinen Personalausweis abzuholen. Das ist im Rathaus, Marienplatz 8, 80331 München.");
}

#[test]
fn bind_passwords_patient_abbreviations_and_log_addresses() {
    hit(
        Kind::Password,
        "ldap_default_authtok = DYhR7GquCUlH!",
        "DYhR7GquCUlH!",
    );
    hit(
        Kind::MedicalId,
        "dhr K. Bakker, pt.nr 8971427, 67 jr",
        "8971427",
    );
    // A password may start with `@`, and a curl command may go on over lines.
    hit(
        Kind::Password,
        "curl -s -X POST https://api.x.de/v2 \\\n  -u \"mk_40712:@xkjrgDLaK#yx&-!\" \\\n  -H 'x'",
        "@xkjrgDLaK#yx&-!",
    );
    miss("DB_PASSWORD=@DB_PASSWORD@");
    miss("password: @vault_pass");
    // A log line's date is no version beside the address.
    hit(
        Kind::IpAddress,
        "12.06.2024 19:41:03  Marie Albrecht (10b)  Test begonnen  IP 192.134.76.149",
        "192.134.76.149",
    );
}

#[test]
fn german_patient_ids_and_the_codice_fiscale_on_a_health_card() {
    hit(
        Kind::MedicalId,
        "Pat.: Renate Vogel, geb. 11.05.1958, Pat.-ID 7792071392\nAufnahme mit Synkope",
        "7792071392",
    );
    hit(
        Kind::NationalId,
        "il cliente giura che è quello della tessera sanitaria: MRCDVD90D17D612W",
        "MRCDVD90D17D612W",
    );
}

#[test]
fn a_line_of_comma_separated_notes_is_no_table_header() {
    // Its keyword's cell holds the value: "pt.nr 8971427" is no column's name.
    hit(
        Kind::MedicalId,
        "dhr K. Bakker, pt.nr 8971427, 67 jr\nmeer sputum, geelgroen, geen koorts",
        "8971427",
    );
}

#[test]
fn an_ip_said_in_prose_german_at_chat_pw_and_pgpass() {
    // "IP" just before the quad outweighs an "app" further back.
    hit(
        Kind::IpAddress,
        "Netflix en de NPO Start-app denken dat ik in het buitenland zit. Op whatismyip zie ik 65.155.73.98.",
        "65.155.73.98",
    );
    // German spells `@` "ät".
    hit(
        Kind::Email,
        "Anmeldung per Mail: lena punkt brandt ät posteo punkt de",
        "lena punkt brandt ät posteo punkt de",
    );
    hit(
        Kind::Password,
        "wifi is BlueHouse_Guest pw cobalt-Pickle-036, dont touch thermostat",
        "cobalt-Pickle-036",
    );
    miss("scroll upwards, then the pw field is shown");
    // A PostgreSQL password file: `host:port:database:user:password`, defaults left alone.
    let pgpass = "Contenuto di ~/.pgpass (permessi 644):\n\ndb-contabilita.lan:5432:contabilita:backup_user:p&BSsQDPpO&@gDh7\n*:5432:*:postgres:postgres\n";
    hit(Kind::Password, pgpass, "p&BSsQDPpO&@gDh7");
    miss("~/.pgpass:\nlocalhost:5432:*:postgres:postgres\n");
    // A line cut by the reach in the spaces after its last colon.
    miss(&format!("~/.pgpass\nh:5432:d:u:{}", " ".repeat(3000)));
    // `PGPASSWORD=` is a password's name, not the file.
    hit(
        Kind::Password,
        "30 2 * * * PGPASSWORD='BqRY9lkQZr6yq7.519' pg_dump -h 127.0.0.1",
        "BqRY9lkQZr6yq7.519",
    );
    // A version after an address's `ip=` on a log line stays a version.
    let log = "2024-03-16 08:00:13 INFO host=ws-091.intern ip=172.17.89.86 versie 8.16.17.112 -> 3.19.0.110";
    assert!(
        found(log).iter().all(|(k, _)| *k != Kind::IpAddress),
        "{:?}",
        found(log)
    );
}
