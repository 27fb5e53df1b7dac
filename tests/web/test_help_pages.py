"""The in-app guides (docs/ohjeet/*.md): every guide in fi/sv/en from the same files, in the UI language,
linked from the pages where people need them, and safe (no raw HTML from the sources)."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from tests.conftest import request_form
from web import create_app, helpdocs

GUIDES = ("hakeminen", "johtaja", "paakayttaja")
LANGUAGES = ("fi", "sv", "en")
HEADING = re.compile(r"<h([1-6])\b[^>]*>")


def title_of(slug: str, lang: str) -> str:
    first = (helpdocs.DEFAULT_DIR / f"{slug}.{lang}.md").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ")
    return first[2:].strip()


def in_language(client, lang: str) -> None:
    with client.session_transaction() as session:
        session["lang"] = lang


def headings(path) -> list[tuple[int, str]]:
    tokens = MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))
    return [(int(t.tag[1]), tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("slug", GUIDES)
def test_each_guide_renders_in_each_language_with_its_title(client, slug, lang):
    in_language(client, lang)
    page = client.get(f"/help/{slug}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{title_of(slug, lang)}</h1>" in html
    assert '<p class="notice" role="note">' not in html  # not the Finnish fallback


def test_every_guide_exists_in_all_three_languages_with_the_same_sections():
    slugs = helpdocs.slugs(helpdocs.DEFAULT_DIR)
    assert set(GUIDES) <= set(slugs)
    for slug in slugs:
        shape = {}
        for lang in LANGUAGES:
            path = helpdocs.DEFAULT_DIR / f"{slug}.{lang}.md"
            assert path.is_file(), f"{path.name} is missing"
            levels = [level for level, _text in headings(path)]
            assert levels[0] == 1 and levels.count(1) == 1, f"{path.name}: one title, first"
            shape[lang] = levels
        assert shape["sv"] == shape["fi"] and shape["en"] == shape["fi"], f"{slug}: sections differ {shape}"


@pytest.mark.parametrize("slug", GUIDES)
def test_a_guide_page_has_one_h1_headings_in_order_and_a_working_table_of_contents(client, slug):
    html = client.get(f"/help/{slug}").get_data(as_text=True)
    content = html.split('id="content"', 1)[1]
    levels = [int(n) for n in HEADING.findall(content)]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    toc = re.search(r'<nav class="help-toc".*?</nav>', content, re.S).group(0)
    anchors = re.findall(r'href="#([^"]+)"', toc)
    sections = [text for level, text in headings(helpdocs.DEFAULT_DIR / f"{slug}.fi.md") if level == 2]
    assert len(anchors) == len(sections)
    for anchor in anchors:
        assert f'<h2 id="{anchor}">' in content


def test_the_guide_follows_the_signed_in_persons_language(web):
    web.login("anstalld")  # a Swedish-speaking employee of the demo organisation
    html = web.client.get("/help/hakeminen").get_data(as_text=True)
    assert f"<h1>{title_of('hakeminen', 'sv')}</h1>" in html


def test_choosing_another_language_changes_the_guide(web):
    web.login("employee")
    assert f"<h1>{title_of('johtaja', 'fi')}</h1>" in web.client.get("/help/johtaja").get_data(as_text=True)
    response = web.post("/language", {"lang": "en", "next": "/help/johtaja"}, token_from="/help/johtaja")
    assert response.status_code == 303 and response.headers["Location"].endswith("/help/johtaja")
    assert f"<h1>{title_of('johtaja', 'en')}</h1>" in web.client.get("/help/johtaja").get_data(as_text=True)


def test_the_guides_can_be_read_before_signing_in(client):
    in_language(client, "fi")
    index = client.get("/help").get_data(as_text=True)
    for slug in GUIDES:
        assert f'href="/help/{slug}"' in index and title_of(slug, "fi") in index


@pytest.mark.parametrize("slug", ["tuntematon", "Hakeminen", "hakeminen.fi", "..%2Fhakeminen", "hakeminen.fi.md"])
def test_an_unknown_guide_is_not_found(client, slug):
    assert client.get(f"/help/{slug}").status_code == 404


@pytest.mark.parametrize("lang", LANGUAGES)
def test_links_between_guides_lead_to_guide_pages_in_the_same_language(client, lang):
    in_language(client, lang)
    for slug in GUIDES:
        html = client.get(f"/help/{slug}").get_data(as_text=True)
        article = html.split('class="help-article"', 1)[1]
        assert ".md" not in " ".join(re.findall(r'href="([^"]+)"', article))  # no links to repository files
        for target in re.findall(r'href="/help/([a-z-]+)"', article):
            linked = client.get(f"/help/{target}").get_data(as_text=True)
            assert f"<h1>{title_of(target, lang)}</h1>" in linked


@pytest.fixture
def scratch_help(tmp_path, host):
    (tmp_path / "kokeilu.fi.md").write_text(
        "# Kokeilu\n\n<script>alert('x')</script>\n\n<img src=x onerror=\"alert('y')\">\n\n"
        "Teksti <b onclick=\"alert('z')\">lihava</b>.\n\n[vaarallinen](javascript:alert(1)) ja "
        "[tiedosto](../README.md) ja [verkko](https://www.suomi.fi/valtuudet).\n\n## Osa\n\nSisältö.\n",
        encoding="utf-8",
    )
    config = {"TESTING": True, "SECRET_KEY": "test", "VALTUUS_HOST": host, "HELP_DIR": str(tmp_path)}
    return create_app(config).test_client()


def test_raw_html_in_a_guide_is_shown_as_text_and_never_run(scratch_help):
    html = scratch_help.get("/help/kokeilu").get_data(as_text=True)
    article = html.split('class="help-article"', 1)[1]
    assert "<script" not in article and "<img" not in article and "<b " not in article
    assert "&lt;script&gt;" in article and "&lt;b onclick=" in article
    assert 'href="javascript' not in article
    assert "tiedosto" in article and "README.md" not in article  # a file the site does not serve: text only
    assert '<a href="https://www.suomi.fi/valtuudet">verkko</a>' in article


def test_a_guide_missing_in_the_ui_language_is_shown_in_finnish_and_says_so(scratch_help):
    in_language(scratch_help, "sv")
    html = scratch_help.get("/help/kokeilu").get_data(as_text=True)
    assert "<h1>Kokeilu</h1>" in html
    assert '<div class="help-layout" lang="fi">' in html
    assert '<p class="notice" role="note">' in html  # "shown in Finnish"


def test_the_request_page_and_the_front_page_link_to_the_employees_guide(web):
    web.login("employee")
    for path in ("/requests/new", "/"):
        assert 'href="/help/hakeminen"' in web.client.get(path).get_data(as_text=True), path
    assert 'href="/help"' in web.client.get("/").get_data(as_text=True)  # the menu item


def test_the_directors_and_the_main_administrators_tasks_link_to_their_guides(web, host, codes):
    from tests.web.test_request_pages import TASK_LINK, ready_task

    web.login("employee")
    instance_id = int(web.post("/requests/new", request_form(codes[:1])).headers["Location"].rsplit("/", 1)[1])
    web.login("supervisor")
    task_id = TASK_LINK.search(web.client.get("/tasks").get_data(as_text=True)).group(1)
    assert 'href="/help/johtaja"' in web.client.get(f"/tasks/{task_id}").get_data(as_text=True)
    web.post(f"/tasks/{task_id}", {"endorsement_decision": "endorse"})

    web.login("director")
    task_id = ready_task(host, instance_id)
    assert 'href="/help/johtaja"' in web.client.get(f"/tasks/{task_id}").get_data(as_text=True)
    web.post(f"/tasks/{task_id}", {"approval_decision": "approve"})

    web.login("admin")
    page = web.client.get(f"/tasks/{ready_task(host, instance_id)}").get_data(as_text=True)
    assert 'href="/help/paakayttaja"' in page and 'href="/help/johtaja"' not in page


def test_relative_links_in_the_guide_sources_point_at_files_in_the_repository():
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    for path in sorted(helpdocs.DEFAULT_DIR.glob("*.md")):
        for target in link.findall(path.read_text(encoding="utf-8")):
            if not target.startswith(("http:", "https:", "mailto:")):
                assert (path.parent / target).resolve().is_file(), f"{path.name}: {target}"
