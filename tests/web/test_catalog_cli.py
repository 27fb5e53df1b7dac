"""valtuus catalog check: the code catalog (a file or an organisation's) against DVV's guide."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import AuthorizationCode
from web.cli import main

GOOD_CODE = """
  - key: hyva
    name: {fi: "Palkkatietojen ilmoittaminen", sv: "Anmälan om löneuppgifter"}
    description:
      fi: "Tällä valtuudella valtuutettu voi valtuuttajan puolesta toimittaa palkkatietoilmoituksia."
      sv: "Med denna fullmakt kan fullmaktshavaren på fullmaktsgivarens vägnar lämna in anmälningar."
"""
BAD_CATALOG = (
    """
codes:
  - key: kelmu_kaytto
    name: {fi: "Kelmun käyttö.", sv: "Användning av Kelmu"}
    description:
      fi: "Kirjaudu Kelmuun ja valitse valikosta Etuustiedot."
      sv: "Logga in i Kelmu och klicka på Förmåner."
"""
    + GOOD_CODE
)


def test_the_shipped_catalog_is_checked_by_default_and_advice_alone_exits_0(runner):
    result = runner.invoke(main, args=["catalog", "check"])
    assert result.exit_code == 0, result.output
    assert "tulli_intrastat_tilastoilmoitukset" in result.output and "[name_not_action]" in result.output
    assert "kela_etuustietojen_katselu_ja_maksuvaatimusten_rekisterointi" not in result.output  # no advice
    assert "koodia tarkistettu" in result.output


def test_strict_exits_1_when_any_code_gets_advice(runner, tmp_path):
    path = tmp_path / "codes.yaml"
    path.write_text(BAD_CATALOG, encoding="utf-8")
    result = runner.invoke(main, args=["catalog", "check", "--file", str(path), "--strict", "--language", "sv"])
    assert result.exit_code == 1
    assert "kelmu_kaytto: Användning av Kelmu" in result.output
    for rule in ("[how_not_what]", "[names_service]", "[name_full_stop]", "[mentions_valtuus]"):
        assert rule in result.output
    assert "hyva:" not in result.output
    assert "Beskrivningen" in result.output  # the advice is in the chosen language
    assert "2 koder granskade, 1 fick råd" in result.output


def test_strict_exits_0_when_no_code_gets_advice(runner, tmp_path):
    path = tmp_path / "codes.yaml"
    path.write_text("codes:" + GOOD_CODE, encoding="utf-8")
    result = runner.invoke(main, args=["catalog", "check", "--file", str(path), "--strict", "--language", "en"])
    assert result.exit_code == 0, result.output
    assert "1 codes checked, 0 with advice" in result.output


def test_a_hostile_file_gives_a_clear_error_and_no_traceback(runner, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['echo pwned']\n", encoding="utf-8")
    result = runner.invoke(main, args=["catalog", "check", "--file", str(path)])
    assert result.exit_code == 2
    assert "error:" in result.output and "not valid YAML" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert "pwned" not in result.output


def test_an_invalid_or_missing_file_gives_a_clear_error(runner, tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- not\n- a catalog\n", encoding="utf-8")
    result = runner.invoke(main, args=["catalog", "check", "--file", str(path)])
    assert result.exit_code == 2 and "no list of codes" in result.output
    result = runner.invoke(main, args=["catalog", "check", "--file", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_an_organisations_catalog_in_the_database_is_checked(runner, host):
    with host.db.unit_of_work() as s:
        code = s.scalar(select(AuthorizationCode).where(AuthorizationCode.key == "vero_veroilmoittaminen"))
        code.description = {**code.description, "fi": "Valitse OmaVerosta Ilmoitukset ja lähetä."}
    result = runner.invoke(main, args=["catalog", "check", "--organisation", "merilahti", "--strict"])
    assert result.exit_code == 1
    assert "vero_veroilmoittaminen: Veroilmoittaminen" in result.output
    assert "[how_not_what]" in result.output and "[names_service]" in result.output


def test_file_and_organisation_together_are_refused(runner):
    result = runner.invoke(main, args=["catalog", "check", "--file", "x.yaml", "--organisation", "merilahti"])
    assert result.exit_code == 2 and "not both" in result.output
