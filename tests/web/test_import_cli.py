"""valtuus import and valtuus reconcile: the operator's way to bring a list in and compare with Suomi.fi."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.models import AuditEvent, Authorization
from web.cli import main

GOOD = """Nimi;Sähköposti;Yksikkö;Valtuus;Alkaa;Päättyy;Tila
Henrik Åberg;henrik.aberg@merilahti.example;Sivistystoimi;Veroilmoittaminen;1.3.2025;31.12.2045;voimassa
Söderberg Elin;;Välfärdstjänster;Veroasioiden hoito;1.3.2025;28.2.2045;voimassa
"""
BAD_LINE = "Tiina Mäkelä;tiina.makela@merilahti.example;;Palkkatietojen ilmoitus;1.3.2025;28.2.2045;\n"


def written(host) -> tuple[int, int]:
    with host.db.reader() as s:
        return (
            s.scalar(select(func.count()).select_from(Authorization)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
        )


def csv_file(tmp_path, text: str, name: str = "valtuudet.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("cp1252"))
    return str(path)


def test_a_dry_run_prints_the_counts_and_writes_nothing(runner, host, tmp_path):
    before = written(host)
    result = runner.invoke(main, args=["import", csv_file(tmp_path, GOOD), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "create 2, update 0, unchanged 0, rejected 0" in result.output
    assert "nothing was written" in result.output
    assert written(host) == before


def test_an_import_writes_and_a_second_run_finds_everything_unchanged(runner, host, tmp_path):
    path = csv_file(tmp_path, GOOD)
    before = written(host)
    first = runner.invoke(main, args=["import", path])
    assert first.exit_code == 0, first.output
    assert "imported: created 2, updated 0" in first.output
    assert written(host) == (before[0] + 2, before[1] + 3)
    second = runner.invoke(main, args=["import", path, "--organisation", "merilahti"])
    assert "create 0, update 0, unchanged 2, rejected 0" in second.output
    assert written(host) == (before[0] + 2, before[1] + 4)  # only import.completed


def test_a_refused_import_names_the_row_and_exits_1(runner, host, tmp_path):
    path = csv_file(tmp_path, GOOD + BAD_LINE)
    before = written(host)
    result = runner.invoke(main, args=["import", path])
    assert result.exit_code == 1
    assert "row 4: rejected: Tuntematon valtuusasia Palkkatietojen ilmoitus" in result.output  # Finnish by default
    english = runner.invoke(main, args=["import", path, "--language", "en"])
    assert "row 4: rejected: Unknown authorization Palkkatietojen ilmoitus" in english.output
    assert "row 3: warning:" not in result.output
    assert written(host) == before
    skipped = runner.invoke(main, args=["import", path, "--skip-invalid"])
    assert skipped.exit_code == 0, skipped.output
    assert "rows skipped 1" in skipped.output and written(host)[0] == before[0] + 2


def test_messages_come_from_the_web_translations_when_registered(runner, app, tmp_path):
    app.extensions["valtuus_messages"] = lambda issue, language: f"[{language}] {issue.code}"
    result = runner.invoke(main, args=["import", csv_file(tmp_path, GOOD + BAD_LINE), "--dry-run", "--language", "sv"])
    assert "row 4: rejected: [sv] unknown_code" in result.output


def test_an_unknown_organisation_or_bad_mapping_is_a_usage_error(runner, tmp_path):
    path = csv_file(tmp_path, GOOD)
    assert runner.invoke(main, args=["import", path, "--organisation", "nowhere"]).exit_code == 2
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("columns: {holder: Nimi}\n", encoding="utf-8")
    result = runner.invoke(main, args=["import", path, "--mapping", str(mapping)])
    assert result.exit_code == 2 and "holder" in result.output


def test_reconcile_prints_the_differences(runner, host, tmp_path):
    runner.invoke(main, args=["import", csv_file(tmp_path, GOOD)])
    suomifi = "Valtuutettu;Valtuusasia;Alkaa;Päättyy;Tila\nHenrik Åberg;Veroilmoittaminen;1.3.2025;31.12.2044;Voimassa"
    before = written(host)
    result = runner.invoke(main, args=["reconcile", csv_file(tmp_path, suomifi, "suomifi.csv")])
    assert result.exit_code == 0, result.output
    assert "Only in the registry (1):" in result.output and "Elin Söderberg: Veroasioiden hoito" in result.output
    assert "End date differs (1):" in result.output and "registry 31.12.2045, Suomi.fi 31.12.2044" in result.output
    assert "Only in Suomi.fi (0):" in result.output and "Matching: 0" in result.output
    assert written(host) == before
