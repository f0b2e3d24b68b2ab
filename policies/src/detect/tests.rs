use super::*;

/// One detector for the detector tests: building its automata is the slow part.
pub(super) fn detector() -> &'static Detector {
    static D: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
    D.get_or_init(|| Detector::new(&DetectorConfig::default()).unwrap())
}

/// The kinds found in `text`, with the matched text, for assertions.
pub(super) fn found(text: &str) -> Vec<(Kind, String)> {
    detector()
        .scan(&[text])
        .findings
        .iter()
        .map(|f| (f.kind, text[f.start..f.end].to_string()))
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
pub(super) fn miss(text: &str) {
    let f = found(text);
    assert!(f.is_empty(), "expected nothing in {text:?}, got {f:?}");
}

#[test]
fn email() {
    hit(
        Kind::Email,
        "Contact jane.doe+news@acme-corp.de today",
        "jane.doe+news@acme-corp.de",
    );
    hit(
        Kind::Email,
        "mail: <pierre.martin@orange.fr>",
        "pierre.martin@orange.fr",
    );
    miss("write to user@example.com or admin@test.example.org");
    miss("npm i lodash@4.17.21 and @types/node, see logo@2x.png");
    miss("git clone git@github.com:org/repo.git");
    miss("the decorator @app.route('/x') and your.name@yourcompany.com");
    miss("notifications from noreply@github.com");
}

#[test]
fn phone() {
    hit(
        Kind::Phone,
        "call +49 30 12345678 please",
        "+49 30 12345678",
    );
    hit(Kind::Phone, "tél : +33 6 12 34 56 78", "+33 6 12 34 56 78");
    hit(Kind::Phone, "ring (415) 867-5309 tonight", "(415) 867-5309");
    hit(Kind::Phone, "number 212-867-5309.", "212-867-5309");
    hit(Kind::Phone, "mon portable 06 12 34 56 78", "06 12 34 56 78");
    hit(Kind::Phone, "Handy 0171 2345678", "0171 2345678");
    hit(Kind::Phone, "móvil 612 345 678", "612 345 678");
    hit(Kind::Phone, "+44 (0)20 8123 4567", "+44 (0)20 8123 4567");
    miss("Order 123456789 shipped on 2024-01-15 at 10:23:45");
    // The fictional ranges are not special-cased: they are written as phone numbers.
    hit(Kind::Phone, "call +1 212 555 0199", "+1 212 555 0199");
    hit(Kind::Phone, "call 020 7946 0958", "020 7946 0958");
    miss("version 1.2.3 released, build 20240115, total 1,234,567.89");
    miss("dates 01.02.2023 and 12/05/2024");
}

#[test]
fn payment_card() {
    hit(
        Kind::PaymentCard,
        "card 4532 0151 1283 0366 exp 12/27",
        "4532 0151 1283 0366",
    );
    hit(
        Kind::PaymentCard,
        "pay with 5529-0012-3456-7898",
        "5529-0012-3456-7898",
    );
    hit(Kind::PaymentCard, "amex 378282246310013", "378282246310013");
    miss("card 4532 0151 1283 0367 (bad checksum)");
    miss("test card 4242 4242 4242 4242 and 4111111111111111");
    miss("masked **** **** **** 0366 and ****1234");
    miss("id 1234567890123456 timestamp 1700000000123");
}

#[test]
fn iban() {
    hit(
        Kind::Iban,
        "IBAN: DE62 3704 0044 0532 0130 01",
        "DE62 3704 0044 0532 0130 01",
    );
    hit(
        Kind::Iban,
        "virement FR8420041010050500013M02607",
        "FR8420041010050500013M02607",
    );
    hit(
        Kind::Iban,
        "lowercase de62370400440532013001 too",
        "de62370400440532013001",
    );
    hit(
        Kind::Iban,
        "split FR84 2004 1010 0\n505 0001 3M02 607 over lines",
        "FR84 2004 1010 0\n505 0001 3M02 607",
    );
    hit(Kind::Iban, "Norway NO9386011117947", "NO9386011117947");
    hit(
        Kind::Iban,
        "PT50 0007 5161 3502 8605 1189 7",
        "PT50 0007 5161 3502 8605 1189 7",
    );
    miss("IBAN DE89 3704 0044 0532 0130 01");
    miss("DE8937040044053201300 too short");
    // Textbook examples.
    miss("IBAN: DE89 3704 0044 0532 0130 00 or GB29NWBK60161331926819");
}

#[test]
fn us_ssn() {
    hit(Kind::UsSsn, "SSN 536-22-8817 on file", "536-22-8817");
    hit(
        Kind::UsSsn,
        "social security number: 536228817",
        "536228817",
    );
    miss("ranges 000-12-3456 666-12-3456 912-12-3456 536-00-1234 536-22-0000");
    miss("the example 078-05-1120 and 123-45-6789");
    miss("part 536-22-88170 and 2024-01-15");
}

#[test]
fn uk_nino_and_national_ids() {
    hit(Kind::UkNino, "NI number AB 12 34 56 C", "AB 12 34 56 C");
    hit(Kind::UkNino, "nino=JG103759A", "JG103759A");
    miss("QQ 12 34 56 C is HMRC's example; BG123456A is invalid");
    hit(Kind::Passport, "passport number: CF3X91T47", "CF3X91T47");
    // The specimen documents' numbers are documentation.
    miss("Der Muster-Reisepass hat die Nummer C01X00T47, der Musterausweis T22000129.");
    hit(Kind::Passport, "Reisepass Nr. L8V9K2F41", "L8V9K2F41");
    hit(Kind::NationalId, "DNI 48392017V", "48392017V");
    miss("passport: XXXXXXXXX, passport office hours 9 to 5");
    miss("DNI 48392017B wrong letter");
}

#[test]
fn ip_address() {
    hit(Kind::IpAddress, "from 81.2.69.160 port 53", "81.2.69.160");
    miss("resolvers 8.8.4.4, 1.1.1.1 and 2001:4860:4860::8888");
    hit(Kind::IpAddress, "client=93.184.216.34:443", "93.184.216.34");
    // A firewall's `SRC=` names an address, whatever the `kernel:` tag says.
    hit(
        Kind::IpAddress,
        "Apr 11 02:13:55 fw01 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=111.246.87.79 DST=10.0.0.15",
        "111.246.87.79",
    );
    miss("Apr 11 fw01 kernel: upgraded to 111.246.87.79 today");
    hit(
        Kind::IpAddress,
        "v6 2a00:1450:4001:81c::200e client",
        "2a00:1450:4001:81c::200e",
    );
    miss("hosts 10.0.0.1 192.168.1.20 172.16.4.4 127.0.0.1 169.254.1.1 100.64.0.1");
    miss("docs 192.0.2.10 198.51.100.7 203.0.113.9 2001:db8::1 fe80::1 ::1 fd00::5");
    miss("version 1.2.3.4 and OID 1.3.6.1.4.1 at 10:23:45.123 mac 00:1a:2b:3c:4d:5e");
    miss("use std::collections::HashMap; a::b::c");
}

#[test]
fn vendor_secrets() {
    let gh = "ghp_R7f2kLq9ZxP4mN8vB3cT6yH1wJ5sD0aEuGi2";
    hit(Kind::GithubToken, &format!("token {gh}"), gh);
    let oa = "sk-proj-4fK9dL2mQ8xR7vT1nB6cW3zY5hJ0pA";
    hit(Kind::OpenaiKey, &format!("OPENAI_API_KEY={oa}"), oa);
    let an = "sk-ant-api03-Xk4pL9qR2mT7vB1nC8zW5yH3jF6dS0aG-QeRtYuIo";
    hit(Kind::AnthropicKey, an, an);
    let sl = "xoxb-2849301746-7391028465-Kd8fJ2mQ9xR4vT1nB6cW3zY5";
    hit(Kind::SlackToken, sl, sl);
    let gk = "AIzaSyD4f8K2mQ9xR7vT1nB6cW3zY5hJ0pAeLkU";
    hit(Kind::GoogleApiKey, gk, gk);
    let st = "sk_live_51H8kLq9ZxP4mN8vB3cT6yH1w";
    hit(Kind::StripeKey, st, st);
    // Old Stripe keys are 24 letters that may hold no digit.
    let st = "sk_live_ltLQEWVyYFVajGaurEqCtCok";
    hit(Kind::StripeKey, &format!("apiKey={st} apiVersion=2024"), st);
    let wh = "whsec_Q8dK2mZr7TbX4nLp9VcF3hWy6JsA1eGu";
    hit(
        Kind::StripeKey,
        &format!("constructEvent(body, sig, \"{wh}\")"),
        wh,
    );
    miss("set STRIPE_WEBHOOK_SECRET=whsec_... from the dashboard");
    miss("sk-xxxxxxxxxxxxxxxxxxxxxxxx and sk-your-api-key-here, YOUR_API_KEY");
    miss("sk_test_4eC39HqLyjWDarjtT1zdp7dc is Stripe's documented key");
    miss("pip install sk-learn-compatible-wrapper; the task-runner-for-big-jobs");
}

#[test]
fn aws_keys() {
    let text = "aws_access_key_id = AKIA4Q7ZR2XK9M3PLW8N\naws_secret_access_key = 7hQz2Kd9Lp4Xv8Rt1Nb6Cw3Yj5Fm0Ga2Se7Ui4Oq";
    hit(Kind::AwsAccessKey, text, "AKIA4Q7ZR2XK9M3PLW8N");
    hit(
        Kind::AwsSecretKey,
        text,
        "7hQz2Kd9Lp4Xv8Rt1Nb6Cw3Yj5Fm0Ga2Se7Ui4Oq",
    );
    miss("AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    miss("Slovakia and AKIAXXXXXXXXXXXXXXXX");
}

#[test]
fn jwt_and_pem() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwicm9sZSI6ImFkbWluIn0.kP9xQ2mR7vT1nB6cW3zY5hJ0pAeLkUd4";
    hit(Kind::Jwt, &format!("Authorization: Bearer {jwt}"), jwt);
    miss("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
    // jwt.io's payload with its signature copied wrong is still jwt.io's sample.
    miss("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yPJV_adQssw5c");
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvuNMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s";
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----");
    hit(Kind::PrivateKey, &format!("key:\n{pem}\nthanks"), &pem);
    miss("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----");
    miss("-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJRTESMBAGA1UEChMJQmFsdGltb3JlMRMw\n-----END CERTIFICATE-----");
}

#[test]
fn passwords_and_assigned_secrets() {
    hit(
        Kind::Password,
        "postgres://app:Tr0ub4dor3x@db.internal:5432/prod",
        "Tr0ub4dor3x",
    );
    hit(Kind::Password, "DB_PASSWORD=s3cr3tP@ss!", "s3cr3tP@ss!");
    // A Google app password, spaces and all; a chart's base64 `changeme` is no secret.
    hit(
        Kind::Password,
        "MAIL_USERNAME=shop@gmail.com\nMAIL_PASSWORD=rmiz xfmz jlhr lcbr\nMAIL_ENCRYPTION=tls",
        "rmiz xfmz jlhr lcbr",
    );
    miss("data:\n  password: Y2hhbmdlbWU=\n");
    // A command line's argument, and the name of an encoded value.
    hit(
        Kind::AwsSecretKey,
        "+ aws configure set aws_secret_access_key GtvCvpesOZlxkhyK9ItXNDkyLw3xTT6x7GJ7b%2Fgr\n",
        "GtvCvpesOZlxkhyK9ItXNDkyLw3xTT6x7GJ7b%2Fgr",
    );
    hit(
        Kind::Password,
        "db.user=payroll_rw\ndb.password.hex=4d6f6e736f6f6e234368616932303233\n",
        "4d6f6e736f6f6e234368616932303233",
    );
    // A SendGrid key given as the SMTP password is the key.
    let sg = "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";
    hit(Kind::GenericSecret, &format!("MAIL_PASSWORD={sg}\n"), sg);
    // A mailbox as the URL's user, its `@` escaped: both the address and the password.
    let dsn = "MAILER_DSN=smtp://info%40moebel-ritter.de:Sommer2024Ritter@smtp.ionos.de:587";
    hit(Kind::Password, dsn, "Sommer2024Ritter");
    hit(Kind::Email, dsn, "info%40moebel-ritter.de");
    hit(
        Kind::Password,
        "\"password\": \"Winter2024!\"",
        "Winter2024!",
    );
    hit(
        Kind::Password,
        "mein Passwort ist Sommer2023#",
        "Sommer2023#",
    );
    hit(
        Kind::GenericSecret,
        "client_secret: 9fK2mQ8xR7vT1nB6cW3zY5hJ0pA",
        "9fK2mQ8xR7vT1nB6cW3zY5hJ0pA",
    );
    hit(
        Kind::GenericSecret,
        "SLACK_SIGNING_SECRET=8f14e45fceea167a5a36dedd4bea2543",
        "8f14e45fceea167a5a36dedd4bea2543",
    );
    miss("postgres://user:password@localhost/db and redis://:${REDIS_PASS}@cache");
    miss("password: <password>, password=changeme, pwd = '****', PASSWORD=$DB_PASSWORD");
    miss("password = os.getenv('DB_PASSWORD'); password: str; password=request.form['pw']");
    miss("the password is incorrect; forgot password? reset your password");
    miss("max_tokens: 4096, token_count = 1234567890123456, primary_key = user_id_reference");
    miss("api_key: Optional[str] = None; secret = 550e8400-e29b-41d4-a716-446655440000");
    miss("commit 3f786850e387550fdab836ed7e6dc881de23001b sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[test]
fn config_overrides_and_disabling() {
    let cfg: DetectorConfig =
        toml::from_str("disabled = [\"ip_address\"]\n[classes]\nemail = \"restricted\"").unwrap();
    let d = Detector::new(&cfg).unwrap();
    let r = d.scan(&["mail bob@acme.io from 8.8.8.8"]);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.class, Some(DataClass::Restricted));
    assert!(toml::from_str::<DetectorConfig>("disable = []").is_err());
}

#[test]
fn parts_offsets_and_class() {
    let r = detector().scan(&[
        "nothing here",
        "call +49 30 12345678",
        "key AKIA4Q7ZR2XK9M3PLW8N",
    ]);
    assert_eq!(r.class, Some(DataClass::Restricted));
    assert_eq!(r.findings.len(), 2);
    assert_eq!(
        (r.findings[0].part, r.findings[0].start, r.findings[0].end),
        (1, 5, 20)
    );
    assert_eq!(r.findings[1].kind, Kind::AwsAccessKey);
    assert_eq!(detector().scan(&["plain prose"]).class, None);
}

#[test]
fn findings_never_show_text() {
    let r = detector().scan(&["mail bob@acme.io"]);
    let dbg = format!("{r:?}");
    let json = serde_json::to_string(&r).unwrap();
    assert!(!dbg.contains("bob") && !json.contains("bob"));
    assert!(json.contains("\"email\""));
}

#[test]
fn kinds_have_unique_names() {
    for (i, k) in Kind::ALL.iter().enumerate() {
        assert_eq!(*k as usize, i);
        assert!(Kind::ALL[i + 1..].iter().all(|o| o.as_str() != k.as_str()));
        let json = serde_json::to_string(k).unwrap();
        assert_eq!(json, format!("\"{}\"", k.as_str()));
    }
}

#[test]
fn offsets_are_char_boundaries_in_any_text() {
    let texts = [
        "Ärztin Frau Öztürk wurde mit Krebs diagnostiziert — ihre Adresse: Bahnhofstraße 7 ü",
        "patiente atteinte d'une maladie grave ééééééééééééééééééééééééééééééééééééééééééééé",
        "€€€ 4532 0151 1283 0366 €€€ DE89 3704 0044 0532 0130 00 ✓",
    ];
    for t in texts {
        for f in detector().scan(&[t]).findings {
            assert!(
                t.is_char_boundary(f.start) && t.is_char_boundary(f.end),
                "{t}"
            );
        }
    }
}

#[test]
fn product_codes_and_sandbox_cards_are_not_cards() {
    // An EAN-13 column: Luhn passes for one in ten of them.
    miss("ean;artikel;bestand\n4013118506087;Holzlasur teak;40\n4078885887371;Dübel;12");
    miss("Lagerliste: 4013118506087 Holzlasur teak (40), 4078885887371 Dübel (12)");
    miss("Vi 5031 4332 1540 6351 (Mastercard) na documentação do sandbox do Mercado Pago");
    // "ean" inside a word is no product label.
    hit(
        Kind::PaymentCard,
        "Ik heb geantwoord met 4305 2519 7546 0638 exp 04/28",
        "4305 2519 7546 0638",
    );
    // Thirteen digits after a card word are still a card.
    hit(
        Kind::PaymentCard,
        "old visa card 4718392056175",
        "4718392056175",
    );
    miss("EAN 4718392056175 on the box");
    // `pan` and `cc` are card words only as words, not inside "company" or "account".
    miss("our company stocks 4718392056175 on the shelf");
    hit(Kind::PaymentCard, "PAN 4718392056175", "4718392056175");
}

#[test]
fn wpa_keys_mollie_keys_and_country_example_domains() {
    hit(
        Kind::Password,
        "le wifi : réseau Livebox-7A2C, clé WPA : 9fKq7xRe3mWpTz4Ndu et merci",
        "9fKq7xRe3mWpTz4Ndu",
    );
    hit(
        Kind::GenericSecret,
        "mollie.set_api_key(\"live_4lwpwDsZiZnHM9x0SH5NS33TvcEugX\")",
        "live_4lwpwDsZiZnHM9x0SH5NS33TvcEugX",
    );
    miss("publishable key pk_live_51H8xKQ2eZvKYlo2C0aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT");
    miss("Ist max.mustermann@example.de okay oder lieber @example.com?");
}

#[test]
fn an_aws_key_id_without_digits_beside_its_secret() {
    let text = "AwsSessionCredentials.create(\n    \"ASIADFPCGPDVFIXIYIJY\",\n    \"KP4xA99dySEOu3For8cGkrfY6urizKRA7i+3souR\",";
    hit(Kind::AwsAccessKey, text, "ASIADFPCGPDVFIXIYIJY");
    hit(
        Kind::AwsSecretKey,
        text,
        "KP4xA99dySEOu3For8cGkrfY6urizKRA7i+3souR",
    );
    // An upper-case word of that shape alone is not one.
    miss("status ASIADFPCGPDVFIXIYIJY in the log");
}

#[test]
fn oh_for_zero_in_english_numbers_read_aloud() {
    let text = "his number is \"oh two oh, seven nine four six, oh nine eight one\", call him";
    assert!(
        found(text).iter().any(|(k, _)| *k == Kind::Phone),
        "{:?}",
        found(text)
    );
    miss("oh no, oh well, oh my");
}

#[test]
fn an_address_after_a_port_in_a_log_line() {
    hit(
        Kind::IpAddress,
        "2024-04-15 08:12:44 10.0.4.11 GET /portal/Account/Login - 443 - 145.14.28.91 Mozilla/5.0 - 200",
        "145.14.28.91",
    );
}

#[test]
fn vat_numbers_and_bsns_failing_the_eleven_test() {
    // A company's VAT number is not a person's tax id.
    miss("Krause Möbel GmbH, HRB 21784, USt-IdNr. DE812345673, Impressum");
    // Nine digits after `BSN` that fail the 11-test are no BSN, whatever else they could be.
    miss("Ons HR-systeem weigert BSN 839217320 met \"ongeldig BSN\"");
    hit(
        Kind::NationalId,
        "BSN 111222333 van de medewerker",
        "111222333",
    );
}

#[test]
fn aura_is_a_symptom_not_a_name() {
    miss("Ich habe seit Jahren Migräne mit Aura, zweimal im Monat. Bin 41, sonst gesund.");
}

#[test]
fn a_hex_api_key_assigned_in_yaml() {
    hit(
        Kind::GenericSecret,
        "api_key: 11d10d9616b1e45420101020425dcd51\nsite: datadoghq.eu",
        "11d10d9616b1e45420101020425dcd51",
    );
    miss("api_key: 00000000000000000000000000000000");
}

#[test]
fn ssh_users_contract_numbers_and_placeholder_years() {
    miss("git clone git@github.com:northwind-labs/infra-terraform.git fails with publickey");
    miss("Mon numéro de contrat EDF c'est 0612487731, je veux créer mon espace");
    miss("fixture: {\"name\": \"Test User\", \"dob\": \"1900-01-01\"}");
}

#[test]
fn a_german_mobile_spelled_digit_by_digit() {
    hit(
        Kind::Phone,
        "meine Nummer ist null eins sieben sechs null zwei sechs sieben drei null acht acht, danke",
        "null eins sieben sechs null zwei sechs sieben drei null acht acht",
    );
}

#[test]
fn brazilian_numbers_without_their_trunk_zero() {
    hit(
        Kind::Phone,
        "o número dela é (11) 95073-9109, ela atende pelo whats",
        "(11) 95073-9109",
    );
    hit(
        Kind::Phone,
        "meu sobrinho anotou assim: 11 95073-9109, é o celular",
        "11 95073-9109",
    );
    hit(
        Kind::Phone,
        "meu sobrinho anotou: Vanessa buffet - 1 1 9 5 0 7 3 9 1 0 9 ela atende",
        "1 1 9 5 0 7 3 9 1 0 9",
    );
    // The same digits with no Portuguese around them are no Brazilian number.
    miss("order ref 11 95073-9109 shipped");
}

#[test]
fn twelve_digit_national_numbers_need_a_trunk_and_a_space() {
    hit(
        Kind::Phone,
        "Handynummer ist 017602673088, danke",
        "017602673088",
    );
    miss("\"Principal\": {\"AWS\": \"arn:aws:iam::064190657790:role/app\"}");
    // A secret's ARN names it; the name is no secret.
    miss("\"Resource\": \"arn:aws:secretsmanager:eu-south-2:418273645190:secret:prod/facturas/db-AbC123\"");
}

#[test]
fn systemd_units_and_verbs_that_are_also_names() {
    miss("Mar 20 04:00:12 srv systemd[1]: Started postgresql@15-main.service - postgresql");
    miss("Tenho enxaqueca com aura. Tomo sumatriptana quando começa. Quais são as opções?");
}
