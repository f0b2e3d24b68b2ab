#!/usr/bin/env python3
"""Generates the labelled detection corpus (prompts.jsonl) used by tests/corpus.rs.

Seeded, so the output is reproducible: `python3 generate.py > prompts.jsonl`.
Sensitive prompts carry freshly generated values that pass their checksums; benign prompts are
mostly near-misses: values that fail checksums, documented examples, placeholders, masked
values, private addresses, UUIDs, hashes, versions, order numbers and ordinary prose.
"""
import base64
import json
import random
import string

R = random.Random(20240611)
rows = []


def add(text, sensitive, kinds=(), lang="en"):
    rows.append({"id": len(rows) + 1, "lang": lang, "text": text, "sensitive": sensitive,
                 "kinds": sorted(set(kinds))})


def pick(xs):
    return R.choice(xs)


def rnd(chars, n):
    return "".join(R.choice(chars) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits


def luhn_complete(prefix, length):
    body = prefix + "".join(R.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for c in string.digits:
        n = body + c
        s = 0
        for i, d in enumerate(reversed(n)):
            v = int(d)
            if i % 2:
                v *= 2
                v -= 9 if v > 9 else 0
            s += v
        if s % 10 == 0:
            return n


def card():
    kind = R.randrange(3)
    if kind == 0:
        n = luhn_complete("4" + rnd(string.digits, 1), 16)
    elif kind == 1:
        n = luhn_complete(str(R.randint(51, 55)), 16)
    else:
        n = luhn_complete(pick(["34", "37"]), 15)
        return pick([n, n[:4] + " " + n[4:10] + " " + n[10:]])
    sep = pick(["", " ", "-"])
    return sep.join(n[i:i + 4] for i in range(0, 16, 4))


def bad_luhn(n):
    digits = [c for c in n if c.isdigit()]
    last = digits[-1]
    new = str((int(last) + R.randint(1, 9)) % 10)
    i = n.rfind(last)
    return n[:i] + new + n[i + 1:]


IBAN_BBAN = {"DE": (18, "n"), "FR": (23, "fr"), "ES": (20, "n"), "GB": (18, "gb"), "NL": (14, "nl"),
             "IT": (23, "it"), "BE": (12, "n"), "AT": (16, "n"), "CH": (17, "n"), "PL": (24, "n"),
             "PT": (21, "n"), "IE": (18, "gb"), "SE": (20, "n"), "DK": (14, "n")}


def iban(cc=None, grouped=None):
    cc = cc or pick(list(IBAN_BBAN))
    n, shape = IBAN_BBAN[cc]
    if shape == "gb":
        bban = rnd(string.ascii_uppercase, 4) + rnd(string.digits, n - 4)
    elif shape == "nl":
        bban = rnd(string.ascii_uppercase, 4) + rnd(string.digits, n - 4)
    elif shape == "it":
        bban = rnd(string.ascii_uppercase, 1) + rnd(string.digits, n - 1)
    elif shape == "fr":
        bban = rnd(string.digits, n - 3) + rnd(string.digits, 1) + rnd(string.digits, 2)
    else:
        bban = rnd(string.digits, n)
    num = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    full = cc + "%02d" % (98 - num % 97) + bban
    if grouped is None:
        grouped = R.random() < 0.6
    return " ".join(full[i:i + 4] for i in range(0, len(full), 4)) if grouped else full


def bad_iban():
    s = iban(grouped=False)
    d = str((int(s[3]) + R.randint(1, 9)) % 10)
    s = s[:3] + d + s[4:]
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def ssn():
    while True:
        a = R.randint(1, 899)
        if a != 666:
            break
    return "%03d-%02d-%04d" % (a, R.randint(1, 99), R.randint(1, 9999))


def bad_ssn():
    return pick(["000-%02d-%04d" % (R.randint(1, 99), R.randint(1, 9999)),
                 "666-%02d-%04d" % (R.randint(1, 99), R.randint(1, 9999)),
                 "9%02d-%02d-%04d" % (R.randint(0, 99), R.randint(1, 99), R.randint(1, 9999)),
                 "%03d-00-%04d" % (R.randint(1, 665), R.randint(1, 9999)),
                 "%03d-%02d-0000" % (R.randint(1, 665), R.randint(1, 99))])


def nino():
    first = "ABCEGHJKLMNOPRSTWXYZ"
    second = "ABCEGHJKLMNPRSTWXYZ"
    while True:
        p = R.choice(first) + R.choice(second)
        if p not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
            break
    d = rnd(string.digits, 6)
    s = R.choice("ABCD")
    return pick([p + d + s, "%s %s %s %s %s" % (p, d[:2], d[2:4], d[4:], s)])


def public_ipv4():
    while True:
        o = [R.randint(1, 223), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)]
        if o[0] in (10, 127, 100, 169, 172, 192, 198, 203, 0):
            continue
        return ".".join(map(str, o))


def private_ipv4():
    return pick(["10.%d.%d.%d" % (R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)),
                 "192.168.%d.%d" % (R.randint(0, 255), R.randint(1, 254)),
                 "172.%d.%d.%d" % (R.randint(16, 31), R.randint(0, 255), R.randint(1, 254)),
                 "127.0.0.1", "169.254.%d.%d" % (R.randint(0, 255), R.randint(1, 254)),
                 "100.%d.%d.%d" % (R.randint(64, 127), R.randint(0, 255), R.randint(1, 254)),
                 "192.0.2.%d" % R.randint(1, 254), "198.51.100.%d" % R.randint(1, 254),
                 "203.0.113.%d" % R.randint(1, 254)])


def public_ipv6():
    return "2a0%d:%x:%x::%x" % (R.randint(0, 9), R.randint(0x100, 0xffff), R.randint(0, 0xffff),
                                R.randint(1, 0xffff))


FIRST = ["Anna", "Lukas", "Marie", "Jonas", "Sophie", "Pierre", "Camille", "Lucía", "Javier",
         "Emily", "James", "Olivia", "Mateo", "Hannah", "Julien", "Carmen", "Oliver", "Chloé"]
LAST = ["Müller", "Schmidt", "Dubois", "Martin", "García", "López", "Smith", "Johnson",
        "Fischer", "Moreau", "Fernández", "Taylor", "Weber", "Lefèvre", "Brown", "Sánchez"]
DOMAINS = ["gmail.com", "web.de", "gmx.de", "orange.fr", "free.fr", "telefonica.es", "yahoo.es",
           "outlook.com", "acme-logistics.com", "stadtwerke-kiel.de", "hospital-sanpablo.es"]


def person():
    return pick(FIRST) + " " + pick(LAST)


def email():
    f, l = pick(FIRST), pick(LAST)
    ascii_l = l.replace("ü", "ue").replace("è", "e").replace("í", "i").replace("á", "a").replace("é", "e")
    ascii_f = f.replace("í", "i").replace("é", "e")
    return "%s%s%s@%s" % (ascii_f.lower(), pick([".", "_", ""]), ascii_l.lower(), pick(DOMAINS))


def phone():
    return pick([
        "+49 %d %d" % (R.randint(30, 89), R.randint(1000000, 99999999)),
        "+49 (0)%d %d" % (R.randint(30, 89), R.randint(1000000, 9999999)),
        "+33 %d %02d %02d %02d %02d" % (R.randint(1, 7), R.randint(10, 99), R.randint(10, 99), R.randint(10, 99), R.randint(10, 99)),
        "+34 %d %03d %03d" % (R.randint(600, 799), R.randint(0, 999), R.randint(0, 999)),
        "+44 7%03d %06d" % (R.randint(100, 999), R.randint(0, 999999)),
        "+1 (%d) %d-%04d" % (R.randint(201, 989), R.randint(201, 989), R.randint(0, 9999)),
        "(%d) %d-%04d" % (R.randint(201, 989), R.randint(201, 989), R.randint(0, 9999)),
        "%d-%d-%04d" % (R.randint(201, 989), R.randint(201, 989), R.randint(0, 9999)),
        "0%d %d" % (R.randint(151, 179), R.randint(1000000, 9999999)),
        "0%d %02d %02d %02d %02d" % (R.randint(1, 7), R.randint(10, 99), R.randint(10, 99), R.randint(10, 99), R.randint(10, 99)),
        "%d %03d %03d" % (R.randint(600, 699), R.randint(0, 999), R.randint(0, 999)),
    ])


def fictional_phone():
    return pick(["555-01%02d" % R.randint(0, 99), "(%d) 555-01%02d" % (R.randint(201, 989), R.randint(0, 99)),
                 "020 7946 0%03d" % R.randint(0, 999), "07700 900%03d" % R.randint(0, 999),
                 "+1 %d 555 01%02d" % (R.randint(201, 989), R.randint(0, 99))])


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def jwt():
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64url(json.dumps({"sub": "user-%d" % R.randint(1, 99999), "exp": R.randint(1700000000, 1800000000)}).encode())
    return "%s.%s.%s" % (h, p, b64url(bytes(R.randrange(256) for _ in range(32))))


def pem():
    body = base64.b64encode(bytes(R.randrange(256) for _ in range(R.randint(300, 600)))).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    label = pick(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    return "-----BEGIN %s-----\n%s\n-----END %s-----" % (label, lines, label)


def aws_pair():
    kid = "AKIA" + rnd(string.ascii_uppercase + "234567", 16)
    sec = rnd(string.ascii_letters + string.digits + "/+", 40)
    return kid, sec


def strong_password():
    return rnd(string.ascii_letters, R.randint(5, 8)) + rnd(string.digits, R.randint(2, 4)) + pick(["!", "#", "$", "%", "&", "@", ""])


def secret():
    return pick([
        ("github_token", "ghp_" + rnd(ALNUM, 36)),
        ("github_token", "github_pat_" + rnd(ALNUM, 22) + "_" + rnd(ALNUM, 59)),
        ("openai_key", "sk-proj-" + rnd(ALNUM + "_-", 48)),
        ("openai_key", "sk-" + rnd(ALNUM, 48)),
        ("anthropic_key", "sk-ant-api03-" + rnd(ALNUM + "_-", 93) + "AA"),
        ("slack_token", "xoxb-%d-%d-%s" % (R.randint(10**10, 10**11), R.randint(10**12, 10**13), rnd(ALNUM, 24))),
        ("google_api_key", "AIza" + rnd(ALNUM + "_-", 35)),
        ("stripe_key", pick(["sk_live_", "rk_live_", "sk_test_"]) + rnd(ALNUM, 24)),
        ("jwt", jwt()),
    ])


# ---------------------------------------------------------------- sensitive prompts
for _ in range(12):
    e = email()
    add(pick([
        "Can you draft a polite reminder to %s about the unpaid invoice?" % e,
        "Please reply to the customer at %s and apologise for the delay." % e,
        "Summarise this thread. From: %s Subject: contract renewal" % e,
    ]), True, ["email"])
    e = email()
    add(pick([
        "Schreib bitte eine Antwort an %s wegen der Terminverschiebung." % e,
        "Rédige un courriel de relance pour %s concernant la facture." % e,
        "Redacta un correo para %s confirmando la reunión del jueves." % e,
    ]), True, ["email"], pick(["de", "fr", "es"]))
for _ in range(14):
    p = phone()
    add(pick([
        "Call the supplier back on %s and ask about the delivery." % p,
        "Mein Rückrufnummer ist %s, bitte melden Sie sich morgen." % p,
        "Vous pouvez joindre %s au %s après 18h." % (person(), p),
        "Llama a %s al %s para confirmar la cita." % (person(), p),
        "Customer %s left a voicemail, number %s, about her order." % (person(), p),
    ]), True, ["phone"], "mixed")
for _ in range(14):
    c = card()
    add(pick([
        "The customer's card %s was charged twice, draft a refund note." % c,
        "Bitte prüfe die Zahlung mit Karte %s vom 3. Mai." % c,
        "Le paiement avec la carte %s a été refusé, que dois-je répondre ?" % c,
        "El cargo en la tarjeta %s aparece duplicado." % c,
    ]), True, ["payment_card"], "mixed")
for _ in range(14):
    i = iban()
    add(pick([
        "Please transfer the deposit to IBAN %s by Friday." % i,
        "Überweisung bitte auf %s, Verwendungszweck Miete Juni." % i,
        "Merci de virer le montant sur le compte %s." % i,
        "Haz la transferencia a la cuenta %s antes del lunes." % i,
    ]), True, ["iban"], "mixed")
for _ in range(8):
    add(pick([
        "Employee record: %s, SSN %s, start date March 4." % (person(), ssn()),
        "Fill the W-4 for %s, social security number %s." % (person(), ssn().replace("-", "")),
        "Her SSN is %s, can you check the form for errors?" % ssn(),
    ]), True, ["us_ssn"])
for _ in range(6):
    add(pick(["My national insurance number is %s, what tax code should I have?" % nino(),
              "Payroll: %s, NINO %s, tax code 1257L." % (person(), nino())]), True, ["uk_nino"])
for _ in range(8):
    pn = pick(UPPER_DIGITS[:26]) + rnd(string.digits, 8)
    add(pick([
        "Book the flight for %s, passport number %s, expiry 2031." % (person(), pn),
        "Reisepass von %s: %s, bitte ins Formular übernehmen." % (person(), pn),
        "Numéro de passeport de %s : %s." % (person(), pn),
        "El pasaporte de %s es %s, caduca en 2029." % (person(), pn),
    ]), True, ["national_id"], "mixed")
for _ in range(4):
    n = R.randint(10000000, 99999999)
    letter = "TRWAGMYFPDXBNJZSQVHLCKE"[n % 23]
    add("Mi DNI es %d%s, necesito renovar el certificado digital." % (n, letter), True, ["national_id"], "es")
for _ in range(8):
    add(pick([
        "Why is %s hammering our login endpoint? 4,000 requests in a minute." % public_ipv4(),
        "Block the address %s in the firewall, it belongs to the attacker." % public_ipv4(),
        "Der Kunde verbindet sich von %s, warum schlägt TLS fehl?" % public_ipv6(),
    ]), True, ["ip_address"], "mixed")
for _ in range(8):
    add(pick([
        "Send the contract to Mr %s, %d %s Street, Manchester." % (pick(LAST), R.randint(1, 300), pick(["Oak", "Church", "Victoria", "Mill"])),
        "Frau %s wohnt in der %sstraße %d, 50667 Köln." % (pick(LAST), pick(["Linden", "Garten", "Schiller", "Berg"]), R.randint(1, 120)),
        "Mme %s habite au %d rue %s, 69002 Lyon." % (pick(LAST), R.randint(1, 90), pick(["Victor Hugo", "de la République", "Mercière"])),
        "La dirección de mi cliente es Calle %s %d, Madrid." % (pick(["Mayor", "Alcalá", "Serrano", "Goya"]), R.randint(1, 200)),
    ]), True, ["street_address"], "mixed")
for _ in range(8):
    add(pick([
        "%s, date of birth %02d/%02d/%d, needs a new insurance quote." % (person(), R.randint(1, 28), R.randint(1, 12), R.randint(1950, 2004)),
        "Geburtsdatum von %s: %02d.%02d.%d" % (person(), R.randint(1, 28), R.randint(1, 12), R.randint(1950, 2004)),
        "%s est née le %d %s %d à Lille." % (pick(FIRST), R.randint(1, 28), pick(["mars", "juin", "octobre"]), R.randint(1950, 2004)),
        "My son was born on %d %s %d, what vaccines are due?" % (R.randint(1, 28), pick(["March", "July", "November"]), R.randint(2015, 2023)),
    ]), True, ["date_of_birth"], "mixed")
for _ in range(10):
    add(pick([
        "My colleague %s was diagnosed with %s last week; how do I adjust her workload?" % (pick(FIRST), pick(["breast cancer", "type 1 diabetes", "multiple sclerosis"])),
        "Patient %s suffers from chronic depression and asked about sick leave." % person(),
        "Herr %s leidet an einer Angststörung, bitte formuliere die Krankmeldung." % pick(LAST),
        "Mon frère est atteint d'une leucémie, comment en parler à son employeur ?",
        "Mi madre padece Alzheimer, ¿qué ayudas puede solicitar?",
        "She tested positive for HIV and wants to know her rights at work.",
    ]), True, ["health"], "mixed")
for _ in range(8):
    kid, sec = aws_pair()
    add(pick([
        "My deploy fails:\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = eu-west-1" % (kid, sec),
        "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nwhy does boto3 say access denied?" % (kid, sec),
    ]), True, ["aws_access_key", "aws_secret_key"])
for _ in range(24):
    k, v = secret()
    add(pick([
        "Why does this return 401? curl -H 'Authorization: Bearer %s' https://api.internal/v1/items" % v,
        "Here is my .env, can you spot the typo?\nNODE_ENV=production\nAPI_TOKEN=%s\nPORT=8080" % v,
        "config = {'key': '%s', 'timeout': 30}  # fix the retry logic" % v,
        "Der Token %s funktioniert nicht mehr, was tun?" % v,
    ]), True, [k], "mixed")
for _ in range(6):
    add("Why can't ssh use this key?\n%s\nIt says invalid format." % pem(), True, ["private_key"])
for _ in range(10):
    pw = strong_password()
    add(pick([
        "DATABASE_URL=postgres://app:%s@db.prod.internal:5432/orders — connection refused, why?" % pw,
        "my settings.py has DB_PASSWORD = '%s' and migrations fail" % pw,
        "Mein Passwort ist %s, ist das sicher genug?" % pw,
        "mongodb+srv://admin:%s@cluster0.mongodb.net/test keeps timing out" % pw,
        "spring.datasource.password=%s\nspring.datasource.username=svc" % pw,
    ]), True, ["password"], "mixed")
for _ in range(6):
    v = rnd(ALNUM, R.randint(24, 40))
    add(pick(["client_secret: %s\nclient_id: web-portal" % v,
              "SESSION_SECRET=%s" % v,
              "webhook signing_key = \"%s\"" % v]), True, ["generic_secret"])
# Long pastes with one sensitive value hidden inside.
def log_lines(n, with_private=True):
    out = []
    for i in range(n):
        ip = private_ipv4() if with_private else "10.0.%d.%d" % (R.randint(0, 9), R.randint(1, 254))
        out.append("2024-05-%02d %02d:%02d:%02d.%03d INFO [worker-%d] %s GET /api/v2/orders/%d 200 %dms req=%s" % (
            R.randint(1, 28), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59), R.randint(0, 999),
            R.randint(1, 8), ip, R.randint(100000, 999999), R.randint(3, 900),
            "%08x-%04x-4%03x-a%03x-%012x" % (R.getrandbits(32), R.getrandbits(16), R.getrandbits(12), R.getrandbits(12), R.getrandbits(48))))
    return out


for _ in range(6):
    lines = log_lines(R.randint(60, 120))
    k, v = secret()
    lines.insert(R.randrange(len(lines)), "2024-05-03 10:00:01.000 DEBUG [auth] using token=%s" % v)
    add("This log shows intermittent 500s, what's going on?\n" + "\n".join(lines), True, [k])
for _ in range(4):
    rows_ = ["id,name,email,city,plan"] + ["%d,%s,%s,%s,%s" % (i, person(), email(), pick(["Berlin", "Lyon", "Madrid", "Leeds"]), pick(["pro", "free"])) for i in range(1, R.randint(30, 80))]
    add("Deduplicate this customer export:\n" + "\n".join(rows_), True, ["email"])

# ---------------------------------------------------------------- benign prompts
for _ in range(24):
    c = card()
    add(pick([
        "Is %s a valid card number? I think a digit is wrong." % bad_luhn(c),
        "Use the Stripe test card 4242 4242 4242 4242 with any future expiry in staging.",
        "The receipt shows **** **** **** %04d, which card was that?" % R.randint(0, 9999),
        "Visa test number 4111 1111 1111 1111 fails in the sandbox, why?",
        "Card ending in %04d was declined; draft a customer-friendly message." % R.randint(0, 9999),
    ]), False)
for _ in range(16):
    add(pick(["Validate this IBAN for me: %s (the bank says it's wrong)" % bad_iban(),
              "Wie ist eine deutsche IBAN aufgebaut? DE + 2 Prüfziffern + 18 Stellen.",
              "Le format IBAN français comporte 27 caractères, commençant par FR76."]), False, (), "mixed")
for _ in range(16):
    add(pick(["Is %s a valid SSN? The form rejected it." % bad_ssn(),
              "Our docs use 078-05-1120 as the sample SSN, is that okay?",
              "Write a regex for SSNs like 123-45-6789 that rejects area 666.",
              "HMRC's example NINO is QQ 12 34 56 C; write a validator."]), False)
for _ in range(60):
    add(pick([
        "My boto3 script uses the docs example AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, why does it fail?",
        "Set OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxx in your .env before running.",
        "Replace YOUR_API_KEY with your real key: client = OpenAI(api_key=\"YOUR_API_KEY\")",
        "In the tutorial they write password: <password> and token: ${GITHUB_TOKEN}.",
        "Default credentials are admin / changeme, rotate them after install.",
        "export ANTHROPIC_API_KEY=sk-ant-... then run the script",
        "db_password = os.environ[\"DB_PASSWORD\"]\nconn = connect(password=db_password)",
        "def login(username: str, password: str) -> Token:\n    token = create_token(username)\n    return token",
        "Stripe's docs use sk_test_4eC39HqLyjWDarjtT1zdp7dc in every example.",
        "Configure `client_secret: ${OIDC_CLIENT_SECRET}` in values.yaml.",
        "postgres://user:password@localhost:5432/mydb is the default URL in the README.",
        "jwt.io shows eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c as its example; what does each part mean?",
        "The key looks like -----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY----- in the docs.",
        "Masked token ghp_************************************ appears in the log.",
        "Set max_tokens: 4096 and token_limit = 128000 for the new model.",
    ]), False)
for _ in range(60):
    add(pick([
        "Send the newsletter test to user@example.com and admin@example.org first.",
        "Use alice@test.invalid as the fixture address in the unit tests.",
        "Run npm install react@18.2.0 @types/react@18.2.7 and retry.",
        "Clone git@github.com:acme/infra.git and check the terraform folder.",
        "Retina assets are named logo@2x.png and logo@3x.png.",
        "Python decorators like @app.route and @staticmethod confuse me.",
        "Reply to noreply@github.com does not work, who do I contact?",
        "Schick die Testmail an max.mustermann@example.com.",
        "Envoie le test à prenom.nom@exemple.test avant la mise en prod.",
    ]), False, (), "mixed")
for _ in range(24):
    add(pick([
        "The pod can't reach %s:5432, is it a network policy?" % private_ipv4(),
        "Nginx listens on %s and %s, which one should the LB use?" % (private_ipv4(), private_ipv4()),
        "Our docs use 2001:db8::1 and fe80::1%%eth0 in the IPv6 examples.",
        "Upgrade from version 1.2.3.4 to 2.0.0.1 broke the plugin.",
        "SNMP OID 1.3.6.1.2.1.1.3.0 returns uptime; how do I poll it?",
        "The loopback ::1 and 127.0.0.1 both answer, but not the LAN IP.",
        "Set the DNS to %s in resolv.conf for the lab network." % private_ipv4(),
    ]), False)
for _ in range(24):
    add(pick([
        "Order #%d shipped on 2024-0%d-1%d, tracking 1Z%s." % (R.randint(10**8, 10**9), R.randint(1, 9), R.randint(0, 9), rnd(UPPER_DIGITS, 16)),
        "Invoice %d for %d,%03d.%02d EUR is overdue." % (R.randint(10**5, 10**6), R.randint(1, 99), R.randint(0, 999), R.randint(0, 99)),
        "Commit %s broke the build; revert to %s." % (rnd("0123456789abcdef", 40), rnd("0123456789abcdef", 7)),
        "The file's sha256 is %s, does it match the release?" % rnd("0123456789abcdef", 64),
        "Request id %08x-%04x-4%03x-8%03x-%012x failed with 502." % (R.getrandbits(32), R.getrandbits(16), R.getrandbits(12), R.getrandbits(12), R.getrandbits(48)),
        "Bestellnummer %d wurde am 12.03.2024 storniert." % R.randint(10**7, 10**9),
        "La commande n° %d est partie le 05/06/2024." % R.randint(10**6, 10**8),
        "El pedido %d llegará entre el 3 y el 5 de junio." % R.randint(10**6, 10**8),
        "Bump numpy from 1.26.4 to 2.0.1 and torch to 2.3.1+cu121.",
        "Timestamps like 1715712000123 are epoch millis; convert to ISO 8601.",
        "The build number %d has the same artifacts as %d." % (R.randint(10**9, 10**10), R.randint(10**9, 10**10)),
    ]), False, (), "mixed")
for _ in range(60):
    add(pick([
        "For the movie script, the hero calls %s from a payphone." % fictional_phone(),
        "Our support line format is +XX XXX XXX XXXX; write a validator.",
        "Schreib eine Telefonnummer-Validierung für deutsche Nummern.",
        "Le numéro d'urgence en Europe est le 112.",
        "El teléfono de información es el 010 en Madrid.",
        "Phone screens take 30 minutes; schedule 4 of them next week.",
        "Mobile app version 3.14.2 crashes on Android 14.",
    ]), False, (), "mixed")
for _ in range(28):
    add(pick([
        "What are the early symptoms of type 2 diabetes?",
        "Write a blog post about advances in cancer immunotherapy.",
        "How is depression diagnosed in adolescents? Cite guidelines.",
        "Our service suffers from a memory leak after the last deploy.",
        "Wie wird Bluthochdruck behandelt? Bitte allgemein erklären.",
        "Quels sont les symptômes de la grippe cette année ?",
        "¿Qué es la diabetes gestacional y cómo se previene?",
        "Summarise the WHO report on global HIV prevalence.",
        "The app suffers from slow cold starts; how do we profile it?",
        "Patients diagnosed with asthma should avoid which triggers? General advice please.",
    ]), False, (), "mixed")
for _ in range(24):
    add(pick([
        "Our office is at 500 Market Street, San Francisco; add it to the footer.",
        "Python was born in 1991, Rust in 2010. Compare their histories.",
        "The event is on 12 March 2025 at the Hauptbahnhof.",
        "The Street Fighter 2 tournament moved to Main Street Arena.",
        "I replaced 3 hard drive units in the NAS last year.",
        "Le siège social se trouve 8 rue de Londres à Paris.",
        "La tienda está en la Calle Mayor, al lado de la plaza.",
        "Wir treffen uns am Marktplatz um 10 Uhr.",
        "Birthday party ideas for a 7-year-old?",
        "Release date of v2 is 2024-09-30; born-on dates in the schema use ISO 8601.",
        "Passport renewal: how long does it take in Germany in general?",
        "What documents does a DNI renewal require?",
    ]), False, (), "mixed")
for _ in range(28):
    add(pick([
        "Explain the difference between TCP and UDP with examples.",
        "Écris un poème sur la mer en automne.",
        "Schreibe eine Zusammenfassung des Artikels über erneuerbare Energien.",
        "Escribe un correo formal para pedir vacaciones en agosto.",
        "Refactor this function to use iterators: for i in 0..v.len() { total += v[i]; }",
        "What's a good name for a coffee shop near the university?",
        "Translate 'the meeting is postponed to Thursday' into German, French and Spanish.",
        "Give me 5 interview questions for a senior Rust engineer.",
        "Compute 1234 * 5678 and explain the steps.",
        "Wie viele Einwohner hat Hamburg ungefähr?",
    ]), False, (), "mixed")
for _ in range(16):
    add("Why are there so many 499s in this log?\n" + "\n".join(log_lines(R.randint(80, 160))), False)
for _ in range(12):
    rows_ = ["sku,name,price,stock,updated"] + ["%s-%d,%s,%d.%02d,%d,2024-0%d-%02d" % (
        rnd(string.ascii_uppercase, 3), R.randint(1000, 9999), pick(["Widget", "Gadget", "Bolt M6", "Cable 2m"]),
        R.randint(1, 500), R.randint(0, 99), R.randint(0, 900), R.randint(1, 9), R.randint(1, 28)) for _ in range(R.randint(40, 120))]
    add("Find the items with low stock:\n" + "\n".join(rows_), False)
for _ in range(8):
    body = "\n".join("    %s = %s  # %s" % (pick(["timeout", "retries", "batch_size", "max_tokens", "port"]), R.randint(1, 9000), pick(["seconds", "count", "tokens"])) for _ in range(40))
    add("Review this config class:\nclass Settings:\n" + body, False)


for _ in range(60):
    add(pick([
        "Ticket %d: user reports error code %d-%d-%d on checkout." % (R.randint(10**4, 10**6), R.randint(100, 999), R.randint(10, 99), R.randint(1000, 9999)),
        "Serial number %s%d is out of warranty." % (rnd(string.ascii_uppercase, 2), R.randint(10**7, 10**9)),
        "Coordinates %d.%04d, %d.%04d mark the depot." % (R.randint(10, 60), R.randint(0, 9999), R.randint(1, 30), R.randint(0, 9999)),
        "Build %s is tagged v%d.%d.%d-rc%d." % (rnd("0123456789abcdef", 12), R.randint(0, 9), R.randint(0, 30), R.randint(0, 99), R.randint(1, 5)),
        "Kundennummer %d, Rechnung vom %02d.%02d.%d." % (R.randint(10**5, 10**7), R.randint(1, 28), R.randint(1, 12), R.randint(2020, 2024)),
        "Réf. dossier %s-%d, échéance le %02d/%02d/%d." % (rnd(string.ascii_uppercase, 3), R.randint(1000, 99999), R.randint(1, 28), R.randint(1, 12), R.randint(2024, 2026)),
        "Referencia %d del expediente, plazo hasta %d de %s." % (R.randint(10**6, 10**8), R.randint(1, 28), pick(["mayo", "junio", "julio"])),
        "The API key header is named X-API-Key; pass it from the vault, never inline.",
        "hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt())",
        "Set secret_name: prod-db-credentials in the ExternalSecret manifest.",
    ]), False, (), "mixed")

seen = set()
for r in rows:
    if r["text"] in seen:
        continue
    seen.add(r["text"])
    print(json.dumps(r, ensure_ascii=False))
