//! Detector-level tests of phone numbers (against the numbering plans, wrapped, spelled
//! out digit by digit or in words, labelled as something else) and of short door, alarm and
//! key-safe codes: what each looks like in a prompt and what must stay benign.

use super::*;

use super::tests::{hit, miss};

#[test]
fn phones_against_numbering_plans() {
    hit(Kind::Phone, "ruf an: 0151 23456789", "0151 23456789");
    hit(Kind::Phone, "電話 090-1234-5678 まで", "090-1234-5678");
    hit(Kind::Phone, "bel dan 0641721730", "0641721730");
    hit(Kind::Phone, "llamad al 648384606 por favor", "648384606");
    hit(Kind::Phone, "+1 (319) 381-7931", "+1 (319) 381-7931");
    hit(Kind::Phone, "ring 0044 20 8123 4567", "0044 20 8123 4567");
    miss("ticket 0151 23456789 closed");
    miss("tracking number 0641 7217 30");
    miss("at 06:34:16.00 1294 kubelet");
    miss("epoch 1700000000000 ms, lat 52.5200 lon 13.4050");
    miss("sku,ean\nOAK-1,0425149791037\n");
}

#[test]
fn phones_wrapped_spelled_or_labelled_otherwise() {
    hit(
        Kind::Phone,
        "Marieke de Jong\nLoodgieter\nMobiel: 06\n4407 1857",
        "06\n4407 1857",
    );
    hit(
        Kind::Phone,
        "ligue-me para o 9 1 5 6 9 8 1 2 2 e pergunte pela Beatriz",
        "9 1 5 6 9 8 1 2 2",
    );
    hit(
        Kind::Phone,
        "Dit nummer staat op een factuur: +31 6 4664 3788. Kun je het omzetten?",
        "+31 6 4664 3788",
    );
    miss("Handy-App: 4.9.2\n2024-06-08 04:50:03.175 INFO started");
    // A country's letters before the digits: a company number.
    miss("Mijn eigen bedrijf heeft nummer BE 0784.512.336 en de klant is een vzw.");
    // Dummies: a subscriber part of one digit.
    miss("telefone?: string; // (00) 00000-0000");
    miss("\"telefono\": \"+34 600 000 000\", \"dni\": \"00000000T\"");
    miss("Störungsticket 0800-4471-2291 (intern vergebene Ticket-ID): Drucker defekt.");
    miss("Unsere Bestellnummern sehen aus wie 0176-2024-55812, Kunden verwechseln sie.");
    miss("Mijn klantnummer bij de energieleverancier is 0612 447 190, schrijf een mail.");
    miss("BOUWMARKT\n08-04-2024 16:22  Kassa 3\nTOTAAL 14,97 EUR");
    // The digit groups of a textbook IBAN or of an IBAN format are not a phone number.
    miss("In de handleiding staat NL91 ABNA 0417 1643 00 als voorbeeld.");
    miss("Explain the Dutch IBAN pattern NLkk BBBB 0123 4567 89 to the team.");
}

#[test]
fn phone_numbers_written_in_words() {
    for (text, run) in [
        (
            "le numéro de la nounou c'est zéro six, quarante-deux, dix-huit, soixante-dix-sept, trente et un — tu peux l'écrire ?",
            "zéro six, quarante-deux, dix-huit, soixante-dix-sept, trente et un",
        ),
        (
            "Bellen naar Gerrit: nul zes, 31 56 21 81.",
            "nul zes, 31 56 21 81",
        ),
        (
            "ruf mich an unter null eins fünf eins, zwei drei vier fünf sechs sieben acht",
            "null eins fünf eins, zwei drei vier fünf sechs sieben acht",
        ),
    ] {
        hit(Kind::Phone, text, run);
    }
    miss("Set the counter to zero, one, two and three before the loop starts.");
    // Dashes read out between groups.
    hit(
        Kind::Phone,
        "Rückrufnummer: null eins sieben fünf – zwo drei acht – vier vier eins – neun null\n",
        "null eins sieben fünf – zwo drei acht – vier vier eins – neun null",
    );
    // An order number after an elided article.
    miss("Nel gestionale il numero d'ordine è 0612345678 (sì, sembra un numero di Roma).");
    // Runs with no zero to anchor them, compound tens, and a spoken dash.
    hit(
        Kind::Phone,
        "Mi sobrino me dejó su número así: seis uno siete, cuarenta y ocho, veintinueve, trece.",
        "seis uno siete, cuarenta y ocho, veintinueve, trece",
    );
    hit(
        Kind::UsSsn,
        "you asked for my social, it's three eight one dash one seven dash eight three eight six",
        "three eight one dash one seven dash eight three eight six",
    );
    // A run read out before its first zero, and a keyword a long clause before it.
    hit(
        Kind::UsSsn,
        "My dad read his social security number to me over the phone for the Medicare form, I \
         wrote it as words: four one two, seven seven, oh nine eight three. Can you",
        "four one two, seven seven, oh nine eight three",
    );
}

#[test]
fn door_alarm_and_key_safe_codes() {
    hit(
        Kind::Password,
        "Hoi Agnieszka, de alarmcode is 1546 en de sleutel ligt onder de bloempot",
        "1546",
    );
    hit(
        Kind::Password,
        "Bij de sleutelkluis van ons vakantiehuis hoort de code 4-8-1-9. Kun je",
        "4-8-1-9",
    );
    hit(
        Kind::Password,
        "la voisine qui garde le chat : le code de l'alarme c'est 7240, et le wifi",
        "7240",
    );
    hit(
        Kind::Password,
        "Código do alarme: 1938 (desligar ao entrar)",
        "1938",
    );
    miss("the alarm code changed in 2019 and the installer left");
    miss("Set a PIN code like 1234 or 0000 only for testing.");
    miss("Die Alarmanlage hat 12 Zonen und 3 Sirenen.");
}

#[test]
fn full_width_digits_and_numbers_with_a_unit() {
    // A customer's number typed in full-width digits is still a number.
    hit(
        Kind::Phone,
        "De klant heeft het zo ingevuld: ０１０３９２２０９４. Het veld zegt ongeldig.",
        "０１０３９２２０９４",
    );
    // A customer number, or digits with a unit after them, is no phone.
    miss("Mijn klantnummer 0103922094 staat op de factuur.");
    miss("Durata dei test: 3312456789 ms in totale");
    miss("upload of 4915123456 bytes done");
}

#[test]
fn references_bookings_and_belgian_numbers() {
    miss("KPN heeft mijn storing aangemaakt onder referentienummer 0612-4471-88, maar");
    miss("Tengo la reserva del hotel con número 912 448 301 y el localizador QX7TPL.");
    // Belgium's zone, a slash, then dotted pairs; a year never starts with a zero.
    hit(Kind::Phone, "bel: 0485/65.90.31", "0485/65.90.31");
    hit(
        Kind::Phone,
        "bel of stuur een berichtje: 0 4 8 5 / 6 5 . 9 0 . 3 1",
        "0 4 8 5 / 6 5 . 9 0 . 3 1",
    );
    miss("release 2024/12.04.01 shipped");
}
