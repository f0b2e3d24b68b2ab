//! Word tables for the people matchers, in English, German, French, Spanish, Italian, Dutch
//! and Portuguese. Automaton cues are matched ASCII-case-insensitively; accented capitals are
//! listed separately where a word may start a sentence.

/// Words announcing a date of birth as a field label ("DOB: …", "Geburtsdatum …"): the
/// date after them is a birth date whoever it belongs to.
#[rustfmt::skip]
pub(super) const BIRTH_LABELS: &[&str] = &[
    "dob", "d.o.b", "date of birth", "birth date", "birthdate", "date_of_birth", "birth_date",
    "geburtsdatum", "geb.", "geb.-datum", "date de naissance", "né(e) le", "date naiss",
    "fecha de nacimiento", "fecha nacimiento", "f. nac", "f.nac", "fec. nac", "data di nascita",
    // Whole words too: a cue that ends inside a word (`f. nac` in `F. nacimiento`) is no cue.
    "f. nacimiento", "f. de nacimiento", "fec. nacimiento",
    "data nascita", "nato/a il", "geboortedatum", "geb. datum", "data de nascimento",
    "data nasc", "dt. nasc", "fecha_nac", "fecha_nacimiento", "fec_nac", "f_nac",
    "date_naissance", "date_de_naissance", "datenaissance", "data_nascita", "data_di_nascita",
    "data_nascimento", "data_de_nascimento", "dt_nasc", "geb_datum", "geburtstag:",
    "geboorte_datum", "dateofbirth", "birthday:", "nacimiento:", "naissance:", "nascita:",
    "nascimento:", "geboren:", "born:", "ddn", "d.d.n.", "né(e)", "geb.dat", "d.n.", "dn:",
    // Belgium and France mark a birth date with a degree sign: "De Smedt, °17/09/1991".
    "°",
];

/// Words that mark a text about a public figure: a biography, a career, a reign, an office.
#[rustfmt::skip]
pub(super) const PUBLIC_CONTEXT: &[&str] = &[
    "biography", "biografie", "biographie", "biografía", "biografia", "wikipedia", "career",
    "karriere", "carrière", "carrera", "carriera", "loopbaan", "carreira", "profile of",
    "perfil neutral", "perfil sobre", "profilo di", "world champion", "weltmeister",
    "champion du monde", "campeón del mundo", "campione del mondo", "wereldkampioen",
    "campeão mundial", "titoli mondiali", "títulos mundiales", "nobel", "oscar", "grammy",
    "olympic", "olympics", "olympia", "olímpico", "olimpico", "olympique", "olimpiadi",
    "president", "präsident", "président", "presidente", "chancellor", "kanzler", "kanzlerin",
    "prime minister", "premierminister", "premier ministre", "primer ministro", "primo ministro",
    "minister-president", "primeiro-ministro", "king", "queen", "könig", "königin", "roi",
    "reine", "rey", "reina", "regina", "koning", "koningin", "rei", "rainha", "prince", "prinz",
    "princesse", "príncipe", "principe", "pope", "papst", "pape", "pontefice", "famous",
    "berühmt", "célèbre", "famoso", "famosa", "beroemd", "famous", "singer", "sänger",
    "sängerin", "chanteur", "chanteuse", "cantante", "cantora", "cantor", "zanger", "zangeres",
    "actor", "actress", "schauspieler", "schauspielerin", "acteur", "actrice", "actriz",
    "attore", "attrice", "ator", "atriz", "footballer", "fußballer", "footballeur", "futbolista",
    "calciatore", "voetballer", "jogador de futebol", "pilot", "rider", "pilota", "piloto",
    "novelist", "writer", "schriftsteller", "écrivain", "escritor", "escritora", "scrittore",
    "scrittrice", "schrijver", "painter", "maler", "peintre", "pintor", "pittore", "schilder",
    "composer", "komponist", "compositeur", "compositor", "compositore", "componist",
    "scientist", "physicist", "physiker", "physicien", "físico", "fisico", "natuurkundige",
    "timeline", "chronologie", "cronología", "cronologia", "tijdlijn", "history of",
    "historical", "historisch", "historique", "histórico", "storico", "historisch", "casa real",
    "royal family", "königshaus", "famille royale", "famiglia reale", "koninklijk huis",
    "família real", "ceo of", "founder of", "gründer", "fondateur", "fundador", "fondatore",
    "oprichter", "footballers", "futbolistas", "calciatori", "fußballer", "footballeurs",
    "voetballers", "jogadores de futebol", "artículo", "articolo", "artikel", "article",
    "artigo", "celebrities", "famosos", "famosi", "berühmtheiten", "célébrités", "beroemdheden",
    "presidents", "presidentes", "presidenti", "präsidenten", "présidents", "trajetória",
    "trayectoria", "traiettoria", "parcours", "werdegang", "levensloop",
];

/// Words saying someone was born, or has a birthday, in running prose: the date after them is
/// a birth date when a private person is named nearby.
#[rustfmt::skip]
pub(super) const BIRTH_WORDS: &[&str] = &[
    "born", "birthday", "geboren", "geburtstag", "né le", "née le", "né à", "née à", "né en",
    "née en", "naissance", "anniversaire", "nacido", "nacida", "nació", "nacimiento",
    "cumpleaños", "nato il", "nata il", "nato a", "nata a", "nato nel", "nata nel", "nascita",
    "nato", "nata",
    "compleanno", "geboren op", "verjaardag", "jarig", "nascido", "nascida", "nasceu",
    "nascimento", "aniversário", "aniversario", "zur welt",
];

/// Street types glued to the street name ("Kastanienallee", "Keizersgracht").
pub(super) const STREET_SUFFIXES: &[&str] = &[
    "straße", "strasse", "str.", "weg", "allee", "platz", "gasse", "ring", "damm", "ufer",
    "chaussee", "steig", "pfad", "stieg", "zeile", "graben", "markt", "straat", "laan", "gracht",
    "plein", "kade", "singel", "dijk", "steeg", "dreef", "hof", "park", "kai",
];

/// German and Dutch street types that also stand alone after an adjective or name
/// ("Berliner Straße 12", "Lange Voorhout 9").
pub(super) const STREET_WORDS_AFTER_NAME: &[&str] = &[
    "straße", "strasse", "str.", "weg", "allee", "platz", "gasse", "ring", "damm", "ufer",
    "chaussee", "straat", "laan", "gracht", "plein", "kade", "singel",
];

/// Street types that come before the name and take the number after it
/// ("Calle Mayor 5", "Via Roma 21", "Rua Augusta 100") or, in French, before the type
/// ("12 rue des Lilas").
pub(super) const STREET_PREFIXES: &[&str] = &[
    // French
    "rue",
    "avenue",
    "av.",
    "boulevard",
    "bd",
    "bd.",
    "chemin",
    "allée",
    "impasse",
    "place",
    "quai",
    "cours",
    "route",
    "square",
    "faubourg",
    "passage",
    "résidence",
    "lieu-dit",
    // Spanish, Catalan and Basque
    "calle",
    "kalea",
    "kale",
    "c/",
    "avenida",
    "avda.",
    "avda",
    "paseo",
    "pº",
    "plaza",
    "pza.",
    "camino",
    "carrer",
    "ronda",
    "travesía",
    "glorieta",
    "carretera",
    "urbanización",
    "urb.",
    // Italian
    "via",
    "viale",
    "v.le",
    "piazza",
    "p.za",
    "p.zza",
    "p.le",
    "piazzale",
    "corso",
    "largo",
    "vicolo",
    "strada",
    "contrada",
    "lungomare",
    "borgo",
    // Portuguese
    "rua",
    "r.",
    "travessa",
    "tv.",
    "praça",
    "pça",
    "estrada",
    "alameda",
    "calçada",
    "beco",
    "rodovia",
    // Dutch: "Laan van Meerdervoort 52"
    "laan",
];

/// Street types of English addresses, after the name ("221B Baker Street", "42 Oak Ln").
#[rustfmt::skip]
pub(super) const STREET_TYPES_EN: &[&str] = &[
    "street", "st", "st.", "road", "rd", "rd.", "avenue", "ave", "ave.", "av", "lane", "ln",
    "ln.", "drive", "dr", "dr.", "close", "way", "court", "ct", "ct.", "place", "pl", "pl.",
    "crescent", "terrace", "gardens", "boulevard", "blvd", "blvd.", "square", "sq", "grove",
    "parkway", "pkwy", "highway", "hwy", "row", "mews", "hill", "circle", "cir", "walk", "park",
    "view", "rise", "green", "trail", "terr", "pike", "cres",
];

/// Words that make an address public: landmarks, institutions, businesses and invitations.
#[rustfmt::skip]
pub(super) const PUBLIC_PLACE_WORDS: &[&str] = &[
    "museum", "musée", "museo", "museu", "town hall", "city hall", "rathaus", "stadthaus",
    "mairie", "hôtel de ville", "hotel de ville", "ayuntamiento", "municipio", "comune",
    "câmara municipal", "camara municipal", "gemeentehuis", "stadhuis", "station", "bahnhof",
    "hauptbahnhof", "gare", "estación", "estacion", "stazione", "estação", "airport",
    "flughafen", "aéroport", "aeropuerto", "aeroporto", "luchthaven", "university",
    "universität", "universitat", "université", "universite", "universidad", "università",
    "universita", "universiteit", "universidade", "hochschule", "campus", "headquarters",
    "head office", "head-office", " hq", "hq ", "hauptsitz", "firmensitz", "sitz der", "sitz:",
    "stadskantoor",
    "firmenadresse", "company address", "company's address", "adresse de l'entreprise",
    "adresse de la société", "dirección de la empresa", "indirizzo dell'azienda",
    "indirizzo aziendale", "bedrijfsadres", "endereço da empresa",
    "siège", "siege social", "sede", "hoofdkantoor", "kantoor", "visit us", "besuchen sie uns",
    "rendez-nous visite", "visítenos", "visitateci", "bezoek ons", "visite-nos", "opening hours",
    "open daily", "öffnungszeiten", "horaires", "horario", "orario", "openingstijden", "horário",
    "our office", "our offices", "our store", "our shop", "unser büro", "unsere filiale",
    "notre bureau", "nuestra oficina", "nuestras oficinas", "il nostro ufficio", "ons kantoor",
    "o nosso escritório", "embassy", "botschaft", "ambassade", "embajada", "ambasciata",
    "embaixada", "consulate", "konsulat", "consulat", "cathedral", "kathedrale", "cathédrale",
    "catedral", "cattedrale", "kathedraal", "church", "kirche", "église", "iglesia", "chiesa",
    "kerk", "igreja", "library", "bibliothek", "bibliothèque", "biblioteca", "bibliotheek",
    "theatre", "theater", "théâtre", "teatro", "stadium", "stadion", "stade", "estadio",
    "stadio", "estádio", "parliament", "bundestag", "parlement", "congreso", "parlamento",
    "palace", "palast", "palais", "palacio", "palazzo", "paleis", "palácio", "hotel", "hôtel",
    "restaurant", "restaurante", "ristorante", "café", "cafe", "bar ", "pizzeria", "supermarket",
    "supermarkt", "store", "shop", "boutique", "tienda", "negozio", "winkel", "loja", "mall",
    "gallery", "galerie", "galería", "galleria", "zoo", "monument", "denkmal", "monumento",
    "tourist", "touristen", "sightseeing", "landmark", "sehenswürdigkeit", "conference",
    "konferenz", "venue", "event", "veranstaltung", "gmbh", " ag,", " ag ", " inc", " ltd",
    " llc", " plc", " se,", " kg,", " kgaa", " s.a.", " sa,", " sarl", " sas", " s.l.", " sl,", " s.p.a.", " spa,",
    " s.r.l.", " srl", " b.v.", " bv,", " n.v.", " lda", " corp", "company", "firma",
    "entreprise", "empresa", "azienda", "bedrijf", "office", "büro", "bureau", "oficina",
    "ufficio", "escritório", "escritorio", "hospital", "krankenhaus", "klinikum", "hôpital",
    "ospedale", "ziekenhuis", "police", "polizei", "gendarmerie", "policía", "polizia",
    "politie", "polícia", "post office", "postamt", "la poste", "correos", "school", "schule",
    "école", "escuela", "scuola", "escola", "gymnasium", "lycée", "colegio", "instituto",
    "institut", "ministry", "ministerium", "ministère", "ministerio", "ministero", "ministerie",
    "ministério", "tribunal", "gericht", "court house", "courthouse", "finanzamt", "bürgeramt",
    "préfecture", "how do i get", "how to get to", "directions to", "wie komme ich", "anfahrt",
    "comment aller", "comment se rendre", "itinéraire", "cómo llego", "cómo llegar",
    "come arrivo", "come arrivare", "hoe kom ik", "route naar", "como chego", "como chegar",
    "como ir", "cité", "tweede kamer", "eerste kamer", "senado", "senato", "sénat", "assemblée",
    "landtag", "atomium", "bewerbung", "bewerben", "sollicitatie", "sollicitatiebrief",
    "solliciteren", "curriculum", "candidatura", "candidature",
    "job application", "lettre de motivation", "carta de presentación",
    "lettera di presentazione", "carta de apresentação", "motivatiebrief", "visita", "zentrale", "visitar la",
    "visitar el", "visit the", "visiter le", "visiter la", "visitare il", "visitare la",
    "besichtigen", "orari", "what time does", "a qué hora abre", "hoe laat gaat",
    "quando apre", "wann öffnet", "à quelle heure ouvre", "que horas abre", "workshop", "seminar", "séminaire", "seminario", "auditorium",
    "salle des fêtes", "trade fair", "messe", "salon", "feria", "fiera", "beurs",
    // Landmarks and institutions known by their own names, and outings to them.
    "policlinico", "clinica", "clínica", "kliniek", "ambulatorio", "livraria", "librería",
    "libreria", "arena", "centro cultural", "centro culturale", "kulturzentrum", "zeche",
    "colosseo", "basilica", "basílica", "duomo", "castello", "castillo", "schloss",
    "kasteel", "castelo", "mosteiro", "kloster", "abbazia", "abbaye", "monastery", "bundeshaus",
    "concertgebouw", "philharmonie", " se,", " mc,", " umc", "gita", "excursion", "excursión",
    "escursione", "ausflug", "klassenfahrt", "schoolreis", "sortie scolaire", "passeio",
    "roteiro", "itinerary", "day trip", "orari", "a qué hora abre", "gaat open", "opent",
    // CEDEX is La Poste's delivery to organisations; banks and convention centres.
    "cedex", "caisse primaire", "assurance maladie", "banco de", "bank of", "banque de",
    "center", "centre",
    // Tax offices and agencies people write to.
    "agenzia delle entrate", "agencia tributaria", "hacienda", "belastingdienst",
    "urssaf", "cpam", "inps", "inail", "receita federal", "finanças", "uwv", "direzione",
    "delegación", "dirección provincial",
    // Newspapers and their newsrooms, written to by readers.
    "zeitung", "redaktion", "newspaper", "newsroom", "rédaction", "redacción", "redazione",
    "redactie", "redação", "verlag",
    // A building's entrances, and France's family-allowance offices.
    "entrance", "eingang", "entrée", "entrada", "ingresso", "ingang", "caf",
    // Foundations, federal services and a company's departments.
    "foundation", "stiftung", "fondation", "fundación", "fondazione", "stichting", "fundação",
    "fod", "spf", "human resources", "personalabteilung", "ressources humaines",
    "recursos humanos", "risorse umane", "personeelszaken", "impressum",
    "customer service", "customer care", "kundenservice", "kundendienst", "service client",
    "atención al cliente", "servizio clienti", "klantenservice", "atendimento ao cliente",
    // Social security offices, consulates, and what a venue is called.
    "segurança social", "seguridad social", "sécurité sociale", "previdenza sociale",
    "consulado", "consolato", "consulaat", "centro distrital", "préfecture", "prefeitura",
    "return address", "rücksendeadresse", "retouradres", "adresse de retour",
];

/// Famous addresses (seats of government, landmarks and company campuses) and placeholder
/// streets: none of them is a private person's.
#[rustfmt::skip]
pub(super) const FAMOUS_ADDRESSES: &[&str] = &[
    "pennsylvania ave", "downing st", "baker street", "platz der republik", "pariser platz",
    "willy-brandt-straße", "faubourg saint-honoré", "faubourg saint-honore", "champs-élysées",
    "champs-elysees", "carrera de san jerónimo", "plaza mayor", "puerta del sol",
    "piazza san pietro", "via del quirinale", "piazza venezia", "binnenhof", "praça do comércio",
    "amphitheatre parkway", "infinite loop", "apple park way", "microsoft way", "fifth avenue",
    "wall street", "hacker way", "abbey road", "unter den linden", "museumplein", "dam square",
    "via appia antica", "piazzale degli uffizi", "510 townsend st", "354 oyster point", "prinsengracht 263",
    "avenue anatole france", "paulista, 1578",
    // The placeholder addresses of German forms and examples.
    "musterstraße", "musterstrasse", "musterweg", "beispielstraße", "beispielstrasse",
    // The specimen identity card's address (Erika Mustermann's).
    "heidestraße 17, 51147 köln",
];

/// Words that tie details to a person by role: the name after them is a person's.
#[rustfmt::skip]
pub(super) const ROLE_WORDS: &[&str] = &[
    "patient", "patientin", "patiente", "paciente", "paziente", "patiënt", "patiënte", "pt",
    "pt.", "pat.", "client", "cliente", "customer", "kunde", "kundin", "klant", "employee",
    "mitarbeiter", "mitarbeiterin", "employé", "employée", "empleado", "empleada", "dipendente",
    "werknemer", "medewerker", "funcionário", "funcionária", "colleague", "coworker", "co-worker", "kollege", "kollegin",
    "collègue", "colega", "collega", "tenant", "mieter", "mieterin", "locataire", "inquilino",
    "inquilina", "huurder", "applicant", "bewerber", "bewerberin", "candidat", "candidate",
    "candidato", "candidata", "sollicitant", "student", "schüler", "schülerin", "élève",
    "alumno", "alumna", "alunno", "aluno", "leerling", "resident", "bewohner", "bewohnerin",
    "résident", "residente", "bewoner", "member", "mitglied", "membre", "miembro", "socio",
    "lid", "sócio", "name", "nom", "nombre", "nome", "naam", "full name", "vorname", "nachname",
    "prénom", "apellido", "apellidos", "cognome", "voornaam", "achternaam", "sobrenome",
    "apelido",
    // Family: "mi hermano Raúl", "meine Tochter Lena". Not the words for a man or a woman,
    // which also start other phrases, nor `papa` (the Pope in Italian).
    "brother", "sister", "son", "daughter", "husband", "wife", "mother", "father", "mom", "mum",
    "dad", "grandma", "grandpa", "nephew", "niece", "cousin", "uncle", "aunt", "bruder",
    "schwester", "sohn", "tochter", "mutter", "vater", "mama", "oma", "opa", "neffe", "nichte",
    "cousine", "onkel", "tante", "frère", "sœur", "soeur", "fils", "fille", "mari", "mère",
    "père", "maman", "neveu", "nièce", "oncle", "hermano", "hermana", "hijo", "hija", "marido",
    "esposo", "esposa", "madre", "padre", "mamá", "papá", "abuela", "abuelo", "sobrino",
    "sobrina", "tío", "tía", "fratello", "sorella", "figlio", "figlia", "marito", "moglie",
    "mamma", "papà", "nonna", "nonno", "nipote", "cugino", "cugina", "zio", "zia", "broer",
    "zus", "zoon", "dochter", "moeder", "vader", "neef", "oom", "irmão", "irmã",
    "filho", "filha", "mãe", "pai", "avó", "avô", "sobrinho", "sobrinha", "tio", "tia",
    // In-laws: "mijn schoonmoeder Truus van der Meer".
    "mother-in-law", "father-in-law", "sister-in-law", "brother-in-law", "schwiegermutter",
    "schwiegervater", "schwägerin", "schwager", "belle-mère", "beau-père", "belle-sœur",
    "beau-frère", "suegra", "suegro", "cuñada", "cuñado", "suocera", "suocero", "cognata",
    "cognato", "schoonmoeder", "schoonvader", "schoonzus", "zwager", "sogra", "sogro",
    "cunhada", "cunhado",
    // Staff, as HR writes of them.
    "colaborador", "colaboradora", "collaborateur", "collaboratrice", "collaboratore",
    "trabajador", "trabajadora", "lavoratore", "lavoratrice",
];

/// Honorifics and titles: a capitalised word after one is a name, even a rare surname.
#[rustfmt::skip]
pub(super) const HONORIFICS: &[&str] = &[
    "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "miss", "mx", "dr", "dr.", "prof", "prof.", "herr",
    "frau", "hr.", "fr.", "m.", "mme", "mme.", "mlle", "mlle.", "monsieur", "madame",
    "mademoiselle", "sr", "sr.", "sra", "sra.", "srta", "srta.", "señor", "señora", "señorita",
    "don", "doña", "d.", "dña.", "sig.", "sig.ra", "sig.na", "signor", "signora", "signorina",
    "dott.", "dott.ssa", "dhr.", "dhr", "mevr.", "mevr", "mw.", "de heer", "mevrouw", "meneer",
    "sra.ª", "senhor", "senhora", "dona", "eng.", "ing.",
];

/// Closing phrases of letters and e-mails: the line after one is a signature.
#[rustfmt::skip]
pub(super) const CLOSINGS: &[&str] = &[
    "regards", "best,", "thanks,", "cheers,", "sincerely", "grüße", "grüßen", "gruß", "grüsse",
    "viele grüße", "cordialement", "salutations", "bien à vous", "saludos", "atentamente",
    "un saludo", "cordiali saluti", "distinti saluti", "saluti", "met vriendelijke groet",
    "groeten", "groet,", "atenciosamente", "cumprimentos", "abraço", "danke", "thank you",
    "thanks", "kind regards", "best wishes", "merci", "bisous", "gracias", "abrazos", "besos",
    "grazie", "baci", "bedankt", "dank je", "groetjes", "obrigad", "beijos",
];

/// First-person words: a writer speaking of themself.
pub(super) const FIRST_PERSON: &[&str] = &[
    "i", "i'm", "i've", "my", "me", "ich", "mir", "mich", "mein", "meine", "meiner", "je", "j'ai",
    "moi", "mon", "ma", "mes", "yo", "mi", "me", "mis", "io", "mio", "mia", "ik", "mij", "mijn",
    "eu", "meu", "minha",
];

/// Nobiliary and family-name particles that may sit inside a full name ("Ludwig van Beethoven",
/// "María de la Cruz", "Anna dos Santos").
pub(super) const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du", "la", "le",
    "ten", "ter", "zu", "y", "e", "'t", "d'",
];

/// Month names and abbreviations in the seven languages, with their number.
pub(super) const MONTHS: &[(&str, u8)] = &[
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    ("januar", 1),
    ("jänner", 1),
    ("februar", 2),
    ("märz", 3),
    ("maerz", 3),
    ("mai", 5),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    ("okt", 10),
    ("dez", 12),
    ("janvier", 1),
    ("février", 2),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("juin", 6),
    ("juillet", 7),
    ("août", 8),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("decembre", 12),
    ("janv", 1),
    ("févr", 2),
    ("avr", 4),
    ("juil", 7),
    ("déc", 12),
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    ("ene", 1),
    ("abr", 4),
    ("ago", 8),
    ("dic", 12),
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    ("gen", 1),
    ("mag", 5),
    ("giu", 6),
    ("lug", 7),
    ("set", 9),
    ("ott", 10),
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
    ("janeiro", 1),
    ("fevereiro", 2),
    ("março", 3),
    ("marco", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
    ("fev", 2),
    ("out", 10),
];

/// The month a word names, if any (ASCII case folded; accented letters must match).
pub(super) fn month(word: &[u8]) -> Option<u8> {
    let w = word.strip_suffix(b".").unwrap_or(word);
    MONTHS.iter().find_map(|(name, n)| {
        let n_bytes = name.as_bytes();
        (n_bytes.len() == w.len() && eq_fold(n_bytes, w)).then_some(*n)
    })
}

/// Byte-wise equality ignoring ASCII case and the case of Latin-1 accented letters.
pub(super) fn eq_fold(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let (x, y) = (a[i], b[i]);
        if x.eq_ignore_ascii_case(&y) {
            i += 1;
            continue;
        }
        // Latin-1 supplement capitals U+00C0..U+00DE are C3 80..C3 9E; small letters C3 A0..BE.
        if i > 0 && a[i - 1] == 0xc3 && b[i - 1] == 0xc3 && (x ^ y) == 0x20 {
            i += 1;
            continue;
        }
        return false;
    }
    true
}

/// Whether `word` equals one of `list`, ignoring case.
pub(super) fn in_list(word: &[u8], list: &[&str]) -> bool {
    list.iter().any(|w| eq_fold(w.as_bytes(), word))
}

/// Greetings: the name after one is the addressee's.
pub(super) const GREETINGS: &[&str] = &[
    "hi", "hello", "hey", "dear", "hallo", "liebe", "lieber", "servus", "moin", "bonjour", "salut",
    "cher", "chère", "coucou", "hola", "querido", "querida", "estimado", "estimada", "ciao",
    "caro", "cara", "gentile", "salve", "beste", "hoi", "dag", "olá", "oi", "prezado", "prezada",
];

/// Header labels naming a message's writer.
#[rustfmt::skip]
pub(super) const FROM_LABELS: &[&str] = &[
    "from", "von", "de", "van", "da", "absender", "expéditeur", "remitente", "mittente",
    "afzender", "remetente", "sender",
];

/// Labels of a letter's subject line: "Re: Mrs Eileen Pritchard" heads a referral about her.
pub(super) const SUBJECT_LABELS: &[&str] = &[
    "re",
    "ref",
    "subject",
    "betreff",
    "betr",
    "objet",
    "oggetto",
    "asunto",
    "assunto",
    "onderwerp",
];

/// Titles of doctors and professors: the person after one treats, and is not the patient.
pub(super) const CLINICIANS: &[&str] = &[
    "dr", "dr.", "prof", "prof.", "dott.", "dott.ssa", "dra.", "dra",
];

/// Whether `hay` contains `needle` at the start of a word, ignoring case.
pub(super) fn contains_word_fold(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    // A needle that starts with a space or a mark (` ag,`, ` s.a.`) carries its own boundary.
    let marked = n
        .first()
        .is_some_and(|c| !c.is_ascii_alphanumeric() && *c < 0x80);
    n.len() <= hay.len()
        && hay.windows(n.len()).enumerate().any(|(p, w)| {
            (p == 0 || marked || !(hay[p - 1].is_ascii_alphanumeric() || hay[p - 1] >= 0x80))
                && eq_fold(w, n)
        })
}

/// Whether `hay` contains `needle` as a whole word, ignoring case.
pub(super) fn contains_whole_word_fold(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c >= 0x80;
    n.len() <= hay.len()
        && hay.windows(n.len()).enumerate().any(|(p, w)| {
            (p == 0 || !word(hay[p - 1]))
                && hay.get(p + n.len()).is_none_or(|c| !word(*c))
                && eq_fold(w, n)
        })
}

/// Whether `hay` contains `needle`, ignoring case.
pub(super) fn contains_fold(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    n.len() <= hay.len() && hay.windows(n.len()).any(|w| eq_fold(w, n))
}

/// Whether `w` starts with an upper-case letter (ASCII or Latin-1).
pub(super) fn upper_first(w: &[u8]) -> bool {
    match w.first() {
        Some(c) if c.is_ascii_uppercase() => true,
        Some(0xc3) => w.get(1).is_some_and(|c| (0x80..=0x9e).contains(c)),
        _ => false,
    }
}
