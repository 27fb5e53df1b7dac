"""The description checker's advice in Finnish, Swedish and English (plain language, for the code's author).

``{detail}`` is what the check found: a word, a count, or a language code.
"""

from __future__ import annotations

LANGUAGE_NAMES = {
    "fi": {"fi": "suomeksi", "sv": "finska", "en": "Finnish"},
    "sv": {"fi": "ruotsiksi", "sv": "svenska", "en": "Swedish"},
    "en": {"fi": "englanniksi", "sv": "engelska", "en": "English"},
}

MESSAGES: dict[str, dict[str, str]] = {
    "name_missing": {
        "fi": "Nimi puuttuu ({language}). Suomi.fi näyttää valtuusasian nimen suomeksi ja ruotsiksi.",
        "sv": "Namnet saknas ({language}). Suomi.fi visar fullmaktsärendets namn på finska och svenska.",
        "en": "The name is missing ({language}). Suomi.fi shows the code's name in Finnish and Swedish.",
    },
    "description_missing": {
        "fi": "Kuvaus puuttuu ({language}). Kerro, mitä valtuutettu voi valtuuden perusteella tehdä.",
        "sv": "Beskrivningen saknas ({language}). Berätta vad fullmaktshavaren får göra med fullmakten.",
        "en": "The description is missing ({language}). Say what the holder may do with the mandate.",
    },
    "name_too_long": {
        "fi": "Nimi on pitkä ({detail} sanaa). Ohjeen mukaan nimi on mahdollisimman lyhyt ja ytimekäs; "
        "tarkenna asiaa kuvauksessa.",
        "sv": "Namnet är långt ({detail} ord). Enligt anvisningen ska namnet vara så kort och koncist som möjligt; "
        "förtydliga i beskrivningen.",
        "en": "The name is long ({detail} words). The guide asks for a name as short and concise as possible; "
        "give the details in the description.",
    },
    "name_full_stop": {
        "fi": "Nimi päättyy merkkiin »{detail}«. Nimi on otsikko, ei virke: jätä välimerkki pois.",
        "sv": "Namnet slutar med »{detail}«. Namnet är en rubrik, inte en mening: ta bort skiljetecknet.",
        "en": 'The name ends with "{detail}". A name is a heading, not a sentence: leave the punctuation out.',
    },
    "name_is_sentence": {
        "fi": "Nimi näyttää virkkeeltä ({detail}). Anna nimeksi lyhyt tekemistä kuvaava asiasana, "
        "esim. »Palkkatietojen ilmoittaminen«.",
        "sv": "Namnet ser ut som en mening ({detail}). Ge ett kort namn som beskriver en handling, "
        "t.ex. »Anmälan om löneuppgifter«.",
        "en": "The name reads like a sentence ({detail}). Use a short name for an action, "
        'e.g. "Reporting earnings payment data".',
    },
    "name_not_action": {
        "fi": "Nimi ei kuvaa tekemistä (»{detail}«). Ohjeen mukaan nimi kertoo, mitä tehdään, "
        "esim. »opintotuen haku«, »ajoneuvotietojen katselu«.",
        "sv": "Namnet beskriver ingen handling (»{detail}«). Enligt anvisningen ska namnet säga vad man gör, "
        "t.ex. »Ansökan om studiestöd«, »Granskning av fordonsuppgifter«.",
        "en": 'The name does not describe an action ("{detail}"). The guide asks for what is done, '
        'e.g. "Applying for study grants".',
    },
    "mentions_valtuus": {
        "fi": "Kuvauksessa ei ole sanaa »valtuus«. Ohjeen mukaan käytetään aina valtuus-sanaa (ei esim. "
        "»suostumus« tai »lupa«), esim. »Tällä valtuudella valtuutettu voi …«.",
        "sv": "Beskrivningen saknar ordet »fullmakt«. Använd alltid ordet fullmakt (inte t.ex. »samtycke« eller "
        "»tillstånd«), t.ex. »Med denna fullmakt kan fullmaktshavaren …«.",
        "en": 'The description does not use the word "mandate". Always speak of the mandate, '
        'e.g. "With this mandate the holder may …".',
    },
    "mentions_holder": {
        "fi": "Kuvaus ei mainitse valtuutettua. Kerro, mitä valtuutettu voi tehdä.",
        "sv": "Beskrivningen nämner inte fullmaktshavaren. Berätta vad fullmaktshavaren får göra.",
        "en": "The description does not mention the holder. Say what the holder may do.",
    },
    "mentions_grantor": {
        "fi": "Kuvaus ei mainitse valtuuttajaa. Kerro, mitä valtuus tarkoittaa valtuuttajalle, "
        "esim. »valtuuttajan puolesta«.",
        "sv": "Beskrivningen nämner inte fullmaktsgivaren. Berätta vad fullmakten innebär för fullmaktsgivaren, "
        "t.ex. »på fullmaktsgivarens vägnar«.",
        "en": "The description does not mention the grantor. Say what the mandate means for the grantor, "
        'e.g. "on behalf of the grantor".',
    },
    "names_other_party": {
        "fi": "Kuvaus puhuu »{detail}«-sanalla. Ohjeen mukaan viitataan aina valtuuttajaan ja valtuutettuun, "
        "ei esimerkiksi palveluntarjoajaan tai käyttäjään.",
        "sv": "Beskrivningen talar om »{detail}«. Hänvisa alltid till fullmaktsgivaren och fullmaktshavaren, "
        "inte till exempel till tjänsteleverantören eller användaren.",
        "en": 'The description speaks of "{detail}". Always refer to the grantor and the holder, '
        "not e.g. to the service provider or the user.",
    },
    "describes_authorizing": {
        "fi": "Kuvaus kertoo valtuuttamisesta (»{detail}«). Ohjeen mukaan kuvataan valtuus, ei valtuuttamista "
        "toimintana.",
        "sv": "Beskrivningen handlar om att ge fullmakt (»{detail}«). Beskriv fullmakten, inte själva "
        "befullmäktigandet.",
        "en": 'The description is about granting ("{detail}"). Describe the mandate, not the act of granting it.',
    },
    "how_not_what": {
        "fi": "Kuvaus neuvoo, miten jokin tehdään (»{detail}«). Kuvauksen pitää vastata kysymykseen »mitä«, "
        "ei »miten«: jätä toimintaohjeet ja näyttöjen neuvot pois.",
        "sv": "Beskrivningen förklarar hur något görs (»{detail}«). Den ska svara på frågan »vad«, inte »hur«: "
        "lämna bort instruktioner om skärmar och steg.",
        "en": 'The description explains how to do something ("{detail}"). It should answer "what", not '
        '"how": leave out steps and screen instructions.',
    },
    "names_service": {
        "fi": "Kuvaus mainitsee palvelun tai järjestelmän (»{detail}«). Ohjeen mukaan kuvauksessa ei viitata "
        "yksittäiseen palveluun; sama valtuus voi olla käytössä monessa palvelussa. Palvelut voi luetella "
        "erikseen.",
        "sv": "Beskrivningen nämner en tjänst eller ett system (»{detail}«). Beskrivningen ska inte hänvisa till "
        "en enskild tjänst; samma fullmakt kan användas i många tjänster. Tjänsterna kan räknas upp separat.",
        "en": 'The description names a service or system ("{detail}"). It should not refer to a single '
        "service; the same mandate may be used in many. List the services separately.",
    },
    "long_sentence": {
        "fi": "Kuvauksessa on pitkä virke ({detail} sanaa). Selkeä kuvaus on helppo ymmärtää: jaa virke kahtia.",
        "sv": "Beskrivningen har en lång mening ({detail} ord). En tydlig beskrivning är lätt att förstå: "
        "dela meningen i två.",
        "en": "The description has a long sentence ({detail} words). Split it so it is easy to understand.",
    },
}


def message(rule: str, detail: str = "") -> dict:
    """The advice for ``rule`` in Finnish, Swedish and English, with ``detail`` filled in."""
    texts = MESSAGES[rule]
    result = {}
    for lang, text in texts.items():
        language = LANGUAGE_NAMES.get(detail, {}).get(lang, detail)
        result[lang] = text.format(detail=detail, language=language)
    return result
