"""The description checker (engine/code_guide.py): each rule of DVV's guide found in Finnish and Swedish, good
descriptions pass, and the shipped catalog gets only the advice documented here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.code_guide import Advice, CatalogFileError, check_catalog, check_code, read_catalog_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "engine" / "data" / "authorization_codes.yaml"

GOOD_NAME = {"fi": "Palkkatietojen ilmoittaminen", "sv": "Anmälan om löneuppgifter", "en": "Reporting earnings data"}
GOOD_DESCRIPTION = {
    "fi": "Tällä valtuudella valtuutettu voi valtuuttajan puolesta toimittaa ja korjata palkkatietoilmoituksia. "
    "Valtuus ei koske etuustietoja.",
    "sv": "Med denna fullmakt kan fullmaktshavaren på fullmaktsgivarens vägnar lämna in och korrigera anmälningar "
    "om löneuppgifter. Fullmakten gäller inte förmånsuppgifter.",
    "en": "With this mandate the holder may, on behalf of the grantor, submit and correct earnings payment reports.",
}

# The shipped catalog's advice, kept on purpose: these are the names the agencies published, and they name a
# matter ("asiat", "ärenden") or a document ("tilastoilmoitukset") rather than an action. The advice stays so
# that a municipality writing its own codes sees the guide's rule, and the official names stay as published.
DOCUMENTED_SHIPPED_ADVICE = {
    ("vero_veroasioiden_hoito", "name_not_action", "sv"),
    ("tulli_intrastat_tilastoilmoitukset", "name_not_action", "fi"),
    ("tulli_intrastat_tilastoilmoitukset", "name_not_action", "sv"),
    ("traficom_ajoneuvoverotusasiat", "name_not_action", "fi"),
    ("traficom_ajoneuvoverotusasiat", "name_not_action", "sv"),
}


def rules(advice: list[Advice], field: str | None = None, language: str | None = None) -> set[str]:
    return {
        a.rule for a in advice if (field is None or a.field == field) and (language is None or a.language == language)
    }


def with_description(lang: str, text: str) -> list[Advice]:
    return check_code(GOOD_NAME, {**GOOD_DESCRIPTION, lang: text})


def with_name(lang: str, text: str) -> list[Advice]:
    return check_code({**GOOD_NAME, lang: text}, GOOD_DESCRIPTION)


def test_a_description_written_by_the_guide_gets_no_advice():
    assert check_code(GOOD_NAME, GOOD_DESCRIPTION, "tulorekisteri_palkkatietojen_ilmoittaminen") == []


def test_every_piece_of_advice_is_written_in_finnish_swedish_and_english():
    advice = check_code({"fi": "Kelmun käyttö."}, {"fi": "Kirjaudu Kelmuun ja valitse valikosta Etuustiedot."})
    assert advice
    for item in advice:
        assert set(item.message) == {"fi", "sv", "en"} and all(item.message.values())
    with pytest.raises(AttributeError):
        advice[0].rule = "changed"  # frozen: callers may keep and share it


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("fi", "Tällä suostumuksella valtuutettu voi valtuuttajan puolesta katsella palkkatietoja."),
        ("sv", "Med detta samtycke kan fullmaktshavaren på fullmaktsgivarens vägnar granska löneuppgifter."),
        ("en", "With this consent the holder may view the grantor's earnings data."),
    ],
)
def test_a_description_without_the_word_valtuus_is_advised_to_use_it(lang, text):
    assert rules(with_description(lang, text), "description", lang) == {"mentions_valtuus"}


def test_the_parties_alone_do_not_count_as_the_word_valtuus():
    text = "Valtuutettu voi valtuuttajan puolesta katsella palkkatietoja."
    assert "mentions_valtuus" in rules(with_description("fi", text), language="fi")
    sv = "Fullmaktshavaren kan på fullmaktsgivarens vägnar granska löneuppgifter."
    assert "mentions_valtuus" in rules(with_description("sv", sv), language="sv")


@pytest.mark.parametrize(
    ("lang", "text", "missing"),
    [
        ("fi", "Tällä valtuudella voi katsella valtuuttajan palkkatietoja.", "mentions_holder"),
        ("fi", "Tällä valtuudella valtuutettu voi katsella palkkatietoja.", "mentions_grantor"),
        ("sv", "Med denna fullmakt kan man granska fullmaktsgivarens löneuppgifter.", "mentions_holder"),
        ("sv", "Med denna fullmakt kan den befullmäktigade granska löneuppgifter.", "mentions_grantor"),
    ],
)
def test_a_description_that_leaves_out_a_party_is_advised_to_name_it(lang, text, missing):
    assert rules(with_description(lang, text), "description", lang) == {missing}


@pytest.mark.parametrize(
    ("lang", "text", "word"),
    [
        (
            "fi",
            "Tällä valtuudella palveluntarjoaja voi valtuutetun ja valtuuttajan puolesta katsella tietoja.",
            "palveluntarjoaja",
        ),
        (
            "sv",
            "Med denna fullmakt kan användaren, dvs. fullmaktshavaren, på fullmaktsgivarens vägnar se uppgifter.",
            "användaren",
        ),
    ],
)
def test_a_description_that_speaks_of_the_service_provider_or_the_user_is_advised(lang, text, word):
    advice = [a for a in with_description(lang, text) if a.rule == "names_other_party"]
    assert len(advice) == 1 and word in advice[0].message["fi"]


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("fi", "Valtuuttamalla henkilön valtuuttaja antaa valtuutetulle valtuuden katsella palkkatietoja."),
        ("sv", "Genom befullmäktigande ger fullmaktsgivaren fullmaktshavaren en fullmakt att se löneuppgifter."),
    ],
)
def test_a_description_of_the_act_of_authorizing_is_advised_to_describe_the_mandate(lang, text):
    assert rules(with_description(lang, text), "description", lang) == {"describes_authorizing"}


@pytest.mark.parametrize(
    ("lang", "text", "word"),
    [
        (
            "fi",
            "Tällä valtuudella valtuutettu voi valtuuttajan puolesta ilmoittaa palkat: klikkaa Uusi ilmoitus "
            "ja valitse valikosta kuukausi.",
            "klikkaa",
        ),
        (
            "fi",
            "Tällä valtuudella valtuutettu voi valtuuttajan puolesta ilmoittaa palkat.\n1. Avaa ilmoitus\n"
            "2. Lähetä ilmoitus",
            "1. 2.",
        ),
        (
            "sv",
            "Med denna fullmakt kan fullmaktshavaren på fullmaktsgivarens vägnar anmäla löner: logga in och "
            "tryck på knappen Ny anmälan.",
            "logga in",
        ),
        ("en", "With this mandate the holder may report earnings for the grantor: click New report.", "click"),
    ],
)
def test_step_by_step_instructions_are_advised_to_say_what_not_how(lang, text, word):
    advice = [a for a in with_description(lang, text) if a.rule == "how_not_what"]
    assert len(advice) == 1 and word in advice[0].message["en"]


@pytest.mark.parametrize(
    ("lang", "text", "service"),
    [
        (
            "fi",
            "Tällä valtuudella valtuutettu voi valtuuttajan puolesta katsella asiakkaiden etuuksia Kelmussa.",
            "Kelmussa",
        ),
        ("fi", "Tällä valtuudella valtuutettu voi valtuuttajan puolesta hoitaa veroasioita OmaVerossa.", "OmaVerossa"),
        (
            "fi",
            "Tällä valtuudella valtuutettu voi valtuuttajan puolesta antaa ilmoituksia Tulliselvityspalvelussa.",
            "Tulliselvityspalvelussa",
        ),
        (
            "sv",
            "Med denna fullmakt kan fullmaktshavaren på fullmaktsgivarens vägnar registrera betalningskrav i eMava.",
            "eMava",
        ),
        (
            "sv",
            "Med denna fullmakt kan fullmaktshavaren på fullmaktsgivarens vägnar lämna deklarationer via Ilmoitin.fi.",
            "Ilmoitin.fi",
        ),
    ],
)
def test_a_description_that_names_a_single_e_service_is_advised(lang, text, service):
    advice = [a for a in with_description(lang, text) if a.rule == "names_service"]
    assert len(advice) == 1 and service in advice[0].message["sv"]


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        # agencies, registers and ordinary words that look like service names are not services
        (
            "fi",
            "Tällä valtuudella valtuutettu voi valtuuttajan puolesta hakea Business Finlandin rahoitusta "
            "ja katsella Kelan etuustietoja sekä EU:n Intrastat-tilastoilmoituksia.",
        ),
        (
            "fi",
            "Tällä valtuudella valtuutettu voi valtuuttajan puolesta ottaa kantaa lausuntoihin; katso myös "
            "tulorekisterin tiedot.",
        ),
        (
            "sv",
            "Med denna fullmakt kan fullmaktshavaren på fullmaktsgivarens vägnar se FPA:s beslut och "
            "Skatteförvaltningens uppgifter.",
        ),
    ],
)
def test_agencies_and_ordinary_words_are_not_taken_for_services(lang, text):
    assert "names_service" not in rules(with_description(lang, text))


def test_a_very_long_sentence_is_advised_to_be_split():
    text = "Tällä valtuudella valtuutettu voi valtuuttajan puolesta " + " ja ".join(["katsella tietoja"] * 20) + "."
    assert rules(with_description("fi", text), "description", "fi") == {"long_sentence"}


@pytest.mark.parametrize(
    ("lang", "name", "rule"),
    [
        (
            "fi",
            "Kunnan sosiaalitoimen asiakkaiden Kelan etuustietojen katselu ja maksuvaatimusten rekisteröinti "
            "eri palveluissa",
            "name_too_long",
        ),
        (
            "sv",
            "Granskning av uppgifter om kundernas förmåner och registrering av betalningskrav till FPA för "
            "kommunens räkning",
            "name_too_long",
        ),
        ("fi", "Palkkatietojen ilmoittaminen.", "name_full_stop"),
        ("sv", "Anmälan om löneuppgifter.", "name_full_stop"),
        ("fi", "Valtuutettu voi ilmoittaa palkat", "name_is_sentence"),
        ("sv", "Du kan anmäla löner", "name_is_sentence"),
        ("fi", "Palkkatiedot", "name_not_action"),
        ("sv", "Löneuppgifter", "name_not_action"),
    ],
)
def test_a_name_that_is_long_a_sentence_or_not_an_action_is_advised(lang, name, rule):
    assert rule in rules(with_name(lang, name), "name", lang)


@pytest.mark.parametrize(
    ("lang", "name"),
    [
        ("fi", "Opintotuen haku"),
        ("fi", "Ajoneuvon rekisteröinti"),
        ("fi", "Tilinumeron ilmoittaminen palvelussuhteeseen liittyvien etuusmaksujen maksamista varten"),
        ("sv", "Granskning av fordonsuppgifter"),
        ("sv", "Ansöka om förmåner i samband med anställningsförhållande"),
        ("sv", "Upprätthållande av trafikidkaruppgifter och tillstånd"),
    ],
)
def test_short_names_of_actions_pass(lang, name):
    assert rules(with_name(lang, name), "name") == set()


def test_missing_finnish_or_swedish_texts_are_advised_and_english_is_optional():
    advice = check_code({"fi": "Palkkatietojen ilmoittaminen"}, {"fi": GOOD_DESCRIPTION["fi"]})
    assert {(a.rule, a.language) for a in advice} == {("name_missing", "sv"), ("description_missing", "sv")}
    assert "ruotsiksi" in advice[0].message["fi"]


def test_hostile_values_are_advice_not_crashes():
    assert {a.rule for a in check_code(None, "not a dict")} == {"name_missing", "description_missing"}
    assert check_code({"fi": 5, "sv": ["x"]}, {"fi": None}) != []


def test_the_shipped_catalog_gets_only_the_documented_advice():
    found = {
        (report.key, advice.rule, advice.language)
        for report in check_catalog(read_catalog_file(SHIPPED))
        for advice in report.advice
    }
    assert found == DOCUMENTED_SHIPPED_ADVICE


def test_every_verified_official_description_passes_the_description_rules():
    doc = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for entry in doc["codes"]:
        advice = check_code(entry["name"], entry["description"], entry["key"])
        assert [a for a in advice if a.field == "description"] == [], entry["key"]


def test_the_shipped_catalog_has_at_least_30_codes_with_their_confusable_partners_in_the_file():
    doc = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    keys = [c["key"] for c in doc["codes"]]
    assert len(keys) >= 30 and len(set(keys)) == len(keys)
    categories = {c["key"] for c in doc["categories"]}
    for entry in doc["codes"]:
        assert entry["category"] in categories
        assert set(entry["name"]) == set(entry["description"]) == {"fi", "sv", "en"}
        assert isinstance(entry.get("description_verified"), bool), entry["key"]
        assert set(entry.get("confusable_with") or []) <= set(keys), entry["key"]
        assert set(entry.get("warning") or {"fi": "", "sv": "", "en": ""}) == {"fi", "sv", "en"}
    kela = next(c for c in doc["codes"] if c["key"] == "kela_etuustietojen_katselu_ja_maksuvaatimusten_rekisterointi")
    assert "tulorekisteri_etuustietojen_katselu" in kela["confusable_with"] and kela["warning"]["fi"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"codes: [1, 2]\n", "is not a mapping with a 'key'"),
        (b"- just\n- a list\n", "no list of codes"),
        (b"codes:\n  - key: a\n    name: [1, 2]\n", "'name' must be texts"),
        (b"!!python/object/apply:os.system ['true']\n", "not valid YAML"),
        (b"codes: [\n", "not valid YAML (line"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_a_hostile_or_malformed_catalog_file_is_refused_with_a_plain_reason(tmp_path, content, words):
    path = tmp_path / "catalog.yaml"
    path.write_bytes(content)
    with pytest.raises(CatalogFileError) as err:
        read_catalog_file(path)
    assert words in str(err.value)
