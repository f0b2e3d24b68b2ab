//! Detector-level tests of values given in pieces or disguised: chat lines by one speaker,
//! numbered messages, credentials after labels and logins, spaced and defanged addresses,
//! encoded passwords and command-line flags.

use super::*;

use super::tests::{hit, miss};

#[test]
fn chat_pieces_logins_and_ocr_spacing() {
    // One speaker's consecutive chat lines carry one value.
    hit(
        Kind::PaymentCard,
        "[14:03] Customer: its 5024 9515\n[14:03] Customer: 0168\n[14:03] Customer: 7862 exp 11/26\n",
        "5024 9515\n[14:03] Customer: 0168\n[14:03] Customer: 7862",
    );
    hit(
        Kind::Iban,
        "[09:01] Simona: ti mando l'iban in due pezzi\n[09:01] Simona: IT39R030623338\n[09:02] Simona: 5904948363239\n",
        "IT39R030623338\n[09:02] Simona: 5904948363239",
    );
    // Credentials after a login; a password sent as base64 in chat.
    hit(
        Kind::Password,
        "our runbook says to log into the grafana admin with admin / Gr4f@na-Pr0d-2024! but",
        "Gr4f@na-Pr0d-2024",
    );
    hit(
        Kind::Password,
        "te paso la pass del router de la tienda en base64 para que no salga en claro en el chat: Q2FzdGVsbDBuIU1hcl8yMDIz",
        "Q2FzdGVsbDBuIU1hcl8yMDIz",
    );
    // Digits spaced twice over by OCR.
    hit(
        Kind::UsSsn,
        "the SSN came out with weird spacing: 8  6  0  4  6  4  4  2  0 . Can you",
        "8  6  0  4  6  4  4  2  0",
    );
}

#[test]
fn labels_compounds_answers_and_defanged_values() {
    // A credentials label, a compound password word, a door code after a hyphen.
    hit(
        Kind::Password,
        "- His laptop login: rpark / Welcome2Brightside!  (he must change on first login)",
        "Welcome2Brightside",
    );
    let t = "Der WLAN-Schlüssel für das Ferienhaus ist 'Ostsee-Sonne-4471' und der Schlüsselsafe-Code 2608.";
    hit(Kind::Password, t, "Ostsee-Sonne-4471");
    hit(Kind::Password, t, "2608");
    // A chat question answered on the next line by another speaker.
    hit(
        Kind::Password,
        "[08:51] Sabine: Der Drucker braucht ein Passwort fürs Webinterface\n[08:53] Kai: admin / Druck3r#Lager2026\n",
        "Druck3r#Lager2026",
    );
    // Defanged addresses, OCR's pairs, an IBAN typed in lowercase with random spaces.
    hit(
        Kind::IpAddress,
        "alguien entra a su cuenta desde la IP 88[.]27[.]143[.]60 (se lo pone",
        "88[.]27[.]143[.]60",
    );
    hit(
        Kind::PaymentCard,
        "L'OCR dello scontrino ha letto male la carta: '45.32.75.14.97.03.28.28'.",
        "45.32.75.14.97.03.28.28",
    );
    hit(
        Kind::Iban,
        "me lo sistemi? it3 7e0 503 411 701 000 000 093 215",
        "it3 7e0 503 411 701 000 000 093 215",
    );
    // One more digit in the card's grouping is another number; libraries' versions.
    miss("Why does my Luhn validator return false for 4539 1488 0343 6467 1? It's 17 digits");
    miss("our SBOM lists openssl 3.0.13.1 and libcurl 8.5.0.0, the scanner flagged them");
    // Two pieces of a NIR, one after the other.
    hit(
        Kind::NationalId,
        "je te donne mon numéro de sécu en deux fois :\n2930731\npuis\n58647339\ntu peux",
        "58647339",
    );
    // A cue inside a longer word is none ("poi" in "points").
    miss("les numéros de portable au format 06/07 avec ou sans points, et aussi le format +33 6.");
}

#[test]
fn numbered_messages_encodings_and_command_lines() {
    // Numbered messages are one sender's; chat pieces of a card on their own lines.
    hit(
        Kind::Iban,
        "por SMS en varios mensajes:\nmsg1: ES440182\nmsg2: 84770380\nmsg3: 79453264\nEs para",
        "ES440182\nmsg2: 84770380\nmsg3: 79453264",
    );
    hit(
        Kind::PaymentCard,
        "[10:41] eu: vou te mandar o número em partes\n[10:41] eu: 43897150\n[10:42] eu: 27460589\n",
        "43897150\n[10:42] eu: 27460589",
    );
    // Halves of one token, on numbered lines or typed by one chat speaker.
    hit(
        Kind::GithubToken,
        "split over two lines:\npart 1: ghp_8ImsNMcMzsvcoM9M\npart 2: DbXOXUak3pLNCsHzP1ts\nDoes",
        "ghp_8ImsNMcMzsvcoM9M\npart 2: DbXOXUak3pLNCsHzP1ts",
    );
    hit(
        Kind::Email,
        "Support: Wie lautet Ihre E-Mail?\nKunde: thorsten.meier1975\nKunde: @\nKunde: gmail.com\nSupport: Danke",
        "thorsten.meier1975\nKunde: @\nKunde: gmail.com",
    );
    hit(
        Kind::PaymentCard,
        "[10:41] eu: em partes\n[10:41] eu: 43897150\n[10:42] eu: 27460589\n[10:42] eu: validade 08/28. Dá pra ver se é crédito?",
        "43897150\n[10:42] eu: 27460589",
    );
    // A quad spaced out so a chat does not link it.
    hit(
        Kind::IpAddress,
        "My home IP is 86 . 142 . 77 . 203 (had to space it out)",
        "86 . 142 . 77 . 203",
    );
    // A password hidden in a decoding call; redis-cli's password flag; a default at a
    // sentence's end.
    hit(
        Kind::Password,
        "SMTP_PASS = bytes.fromhex(\"467221747a2d4b616e616c5f38383132\").decode()\n",
        "467221747a2d4b616e616c5f38383132",
    );
    hit(
        Kind::Password,
        "$ redis-cli -h 10.0.0.15 -a 'R3d!s-pr0d-2025' ping",
        "R3d!s-pr0d-2025",
    );
    miss("El servicio de postgres lo levanto con POSTGRES_PASSWORD=postgres. ¿Tengo que esperar?");
    // The specimen identity card, number and address.
    miss("Auf dem Muster-Personalausweis steht 'ERIKA MUSTERMANN', Ausweisnummer L01X00T47, Heidestraße 17, 51147 Köln.");
}

#[test]
fn shell_decoded_passwords_and_chat_pieces_after_cues() {
    hit(
        Kind::Password,
        "export SFTP_PASS=$(echo 'QWxtNGMzbl9Ob3J0ZSMxOQ==' | base64 -d)",
        "QWxtNGMzbl9Ob3J0ZSMxOQ==",
    );
    hit(
        Kind::Password,
        "DB_PASS=$(printf 'cGFzc3dvcmQxMjMh' | base64 --decode)",
        "cGFzc3dvcmQxMjMh",
    );
    // "the last ones", "and then": the next piece of the same value.
    let card = "[10:14] Cliente: te paso la tarjeta, los primeros: 49408442\n[10:14] Cliente: y los últimos 37659178\n[10:15] Cliente: caduca 11/26";
    hit(
        Kind::PaymentCard,
        card,
        "49408442\n[10:14] Cliente: y los últimos 37659178",
    );
    let iban = "[14:02] Jeroen Bouw: eerste deel NL58RABO35\n[14:02] Jeroen Bouw: en dan 63464052";
    hit(
        Kind::Iban,
        iban,
        "NL58RABO35\n[14:02] Jeroen Bouw: en dan 63464052",
    );
}

#[test]
fn chat_pieces_without_a_name_after_a_sentence_or_an_and() {
    // Texts forwarded with their times only.
    hit(
        Kind::PaymentCard,
        "[9:14 AM] first part 60111088\n[9:15 AM] 34796620 exp 11/27",
        "60111088\n[9:15 AM] 34796620",
    );
    // The value starts at the end of a sentence (and French puts a space before the colon).
    hit(
        Kind::Iban,
        "[10:02] moi : bénéficiaire Mme Colette Marchal, IBAN FR76 1027 8832 8167\n[10:03] moi : 7575 7259 5\n[10:03] moi : 44 (coupé)",
        "FR76 1027 8832 8167\n[10:03] moi : 7575 7259 5\n[10:03] moi : 44",
    );
    // The last piece opens with "and".
    hit(
        Kind::Iban,
        "[18:43] Elena: ES04\n[18:43] Elena: 0182 2870\n[18:43] Elena: 2141 2570\n[18:44] Elena: y 1306",
        "ES04\n[18:43] Elena: 0182 2870\n[18:43] Elena: 2141 2570\n[18:44] Elena: y 1306",
    );
    // Chatter before a piece, or on a line of its own between two pieces.
    hit(
        Kind::NationalId,
        "[09:14] Jana Roth: hi, hier die steuer id\n[09:14] Jana Roth: 93 613\n[09:15] Jana Roth: sorry handy 🙈 034\n[09:15] Jana Roth: 787",
        "93 613\n[09:15] Jana Roth: sorry handy 🙈 034\n[09:15] Jana Roth: 787",
    );
    hit(
        Kind::Iban,
        "[19:02] Ans: NL48 INGB\n[19:03] Ans: sorry hij ging te vroeg weg\n[19:03] Ans: 0004 3270 05\n[19:03] Ans: tnv A.M. Kroon",
        "NL48 INGB\n[19:03] Ans: sorry hij ging te vroeg weg\n[19:03] Ans: 0004 3270 05",
    );
    // A sentence ending in a short number does not take the next line's digits.
    miss("[10:02] Ana: the invoice total is 1 250\n[10:03] Ana: 4401 items shipped");
}

#[test]
fn escaped_spaced_and_dictated_values() {
    // A JSON string inside a JSON string: `\u0040` is the `@`.
    hit(
        Kind::Email,
        "{\"cliente\":\"{\\\"email\\\":\\\"marco.villa\\u0040fastwebnet.it\\\"}\"}",
        "marco.villa\\u0040fastwebnet.it",
    );
    // Escaped once more, as a JSON payload pasted inside a JSON string carries it; not a
    // path's backslash and `u`.
    hit(
        Kind::Email,
        r#"{"payload":"{\"email\":\"nathalie.brun\\u0040gmail.com\"}"}"#,
        r"nathalie.brun\\u0040gmail.com",
    );
    // OCR spacing the label as well as the digits.
    hit(
        Kind::NationalId,
        "Werknemer:  S. A. Öztürk\nB S N :  9 0 5 6 2 3 8 9 7\nPersoneelsnr 10482",
        "9 0 5 6 2 3 8 9 7",
    );
    // A DNI dictated, its letter after the digits; a wrong letter is no DNI.
    hit(
        Kind::NationalId,
        "cliente: sí claro es el cinco nueve nueve cuatro seis ocho nueve tres letra S",
        "cinco nueve nueve cuatro seis ocho nueve tres letra S",
    );
    miss("cliente: sí claro es el cinco nueve nueve cuatro seis ocho nueve tres letra T");
    // Digits go on with digits: the card is the two middle lines, not the sentence after.
    hit(
        Kind::PaymentCard,
        "[10:03] Cliente: 41760506\n[10:03] Cliente: 94243853\n[10:03] Cliente: caduca en el 28",
        "41760506\n[10:03] Cliente: 94243853",
    );
}

#[test]
fn a_forwarded_mail_s_quoted_lines_are_one_sender_s() {
    hit(
        Kind::PaymentCard,
        "> Hi Sam, use the corporate card for the guarantee, it's\n> 25390971\n> 28896893\n> exp 04/27",
        "25390971\n> 28896893",
    );
}

#[test]
fn an_email_spaced_letter_by_letter() {
    hit(
        Kind::Email,
        "la madre escribió el correo con espacios: \"m a r i a . l o p e z . 7 7 @ h o t m a i l . e s\" — es la madre de Pablo.",
        "m a r i a . l o p e z . 7 7 @ h o t m a i l . e s",
    );
    // The full stop closing the sentence is not the domain's.
    hit(
        Kind::Email,
        "schreib an j o n a s @ w e b . d e.",
        "j o n a s @ w e b . d e",
    );
    // Spaced operators and a one-letter "top-level domain" are no address.
    miss("the ratio is a @ b . c here, where x @ y means x at step y");
}

#[test]
fn a_twilio_auth_token_beside_its_account_sid() {
    hit(
        Kind::GenericSecret,
        "error 20003 con twilio: account sid AC55a7dfc694b60a7fa25f24925e2deb81 y auth token 64ced493e216bb0f4d09d15d0f3026a8 , del dashboard",
        "64ced493e216bb0f4d09d15d0f3026a8",
    );
    // Without an account SID, 32 hex digits near Twilio are a checksum.
    miss("twilio media file md5 64ced493e216bb0f4d09d15d0f3026a8 matches");
    // Mailgun's key after `api:` is its API key, not a password.
    hit(
        Kind::GenericSecret,
        "curl -s --user 'api:key-aa6bb67c3efb13bddc212d656090c2a9' https://api.eu.mailgun.net/v3/x/messages",
        "key-aa6bb67c3efb13bddc212d656090c2a9",
    );
}

#[test]
fn pieces_labelled_first_and_rest_and_a_log_s_next_record() {
    hit(
        Kind::PaymentCard,
        "[09:58] Kev: first bit 5173 1713\n[09:59] Kev: rest 9818 7814\n[09:59] Kev: exp 11/26",
        "5173 1713\n[09:59] Kev: rest 9818 7814",
    );
    hit(
        Kind::PaymentCard,
        "te paso la tarjeta en dos mensajes\nprimero: 4152 7030\ndespués: 9211 2082\n¿pasa la validación?",
        "4152 7030\ndespués: 9211 2082",
    );
    // Two speakers' labels are not one sender's pieces.
    miss("Anna: 4152 7030\nBen: 9211 2082");
    // A phone at a log line's end does not run on into the next record's timestamp.
    hit(
        Kind::Phone,
        "2025-02-27 18:22:41,402 INFO [sms] enviado para +351 962 770 514\n2025-02-27 18:22:59,870 WARN [sms] 429",
        "+351 962 770 514",
    );
}

#[test]
fn passwords_in_a_login_call_and_encoded_after_an_aside() {
    hit(
        Kind::Password,
        "with smtplib.SMTP_SSL(\"mail.example.pt\", 465) as s:\n    s.login(\"faturas@padaria.pt\", \"Broa%Mel6796\")",
        "Broa%Mel6796",
    );
    miss("    s.login(\"user\", password)");
    hit(
        Kind::Password,
        "me dejó la contraseña del router \"en hexadecimal para que no la lean\": 50696e676f75696e233435766f6c63616e3435. ¿me la pasas?",
        "50696e676f75696e233435766f6c63616e3435",
    );
    hit(
        Kind::Password,
        "le mot de passe du compte admin \"encodé pour la sécurité\" : TGF2YW5kYSE4OGxhdmFuZGE0MA== . c'est du base64 ?",
        "TGF2YW5kYSE4OGxhdmFuZGE0MA==",
    );
    // A hex digest after a password word is no encoded password.
    miss("the password hash \"as stored\": 5f4dcc3b5aa765d61d8327deb882cf99");
}

#[test]
fn sandbox_cards_call_words_and_a_parcel_s_number() {
    miss("uso la tarjeta de prueba 5031 7557 3453 0604 con titular APRO en sandbox");
    hit(
        Kind::Phone,
        "o pedido saiu hoje e qualquer coisa ele chama no zap (21) 98804-3176 que é o do depósito",
        "(21) 98804-3176",
    );
    miss("le vendeur m'a aussi donné un \"n° d'envoi\" 0612548973, c'est lequel ?");
}

#[test]
fn a_password_read_out_one_character_at_a_time() {
    hit(
        Kind::Password,
        "mum wrote down the new router password with spaces so she could read it out: h 7 K q - 2 m P x - 9 w L r. does that look like the default?",
        "h 7 K q - 2 m P x - 9 w L r",
    );
    hit(
        Kind::Password,
        "le mdp du compte disney+ qu'on partage, je l'ai noté comme ça : t - R - u - F - f - E - 8 - 4 - ! - k - z. ça marche pas",
        "t - R - u - F - f - E - 8 - 4 - ! - k - z",
    );
    // A word or a number spaced out is no password.
    miss("the password field shows p a s s w o r d in grey");
    miss("my password hint says 1 2 3 4 5 6 7 8 lol");
}

#[test]
fn an_at_sign_spelled_in_brackets() {
    hit(
        Kind::Email,
        "Vous pouvez me joindre par courriel : helene.marchetti [arobase] orange [point] fr. Cordialement",
        "helene.marchetti [arobase] orange [point] fr",
    );
}
