"""The in-app guides: Markdown files in docs/ohjeet/ (``<slug>.<lang>.md``), rendered with raw HTML off.

The same files are the repository's documentation, so links between guides are written as links to the
files (``johtaja.fi.md``) and become links to the guide's page here; other relative links (to files the site
does not serve) keep their text and lose the link. Headings get ids, and the h2/h3 headings make the table of
contents.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from engine.config import PROJECT_ROOT

DEFAULT_DIR = PROJECT_ROOT / "docs" / "ohjeet"
ORDER = ("hakeminen", "johtaja", "paakayttaja")  # the index lists these first, in this order
FALLBACK_LANGUAGE = "fi"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_GUIDE_LINK = re.compile(r"^(?:\./)?(?P<slug>[a-z0-9][a-z0-9-]*)(?:\.(?:fi|sv|en))?\.md(?P<anchor>#[\w-]*)?$")
_SAFE_LINK = re.compile(r"^(?:https?:|mailto:|#)", re.IGNORECASE)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Guide:
    slug: str
    language: str  # the language the text is in (Finnish when the wanted one is missing)
    title: str
    summary: str  # the first paragraph, for the index
    html: Markup
    headings: list[Heading] = field(default_factory=list)

    @property
    def contents(self) -> list[Heading]:
        return [h for h in self.headings if h.level in (2, 3)]


def slugs(directory: Path) -> list[str]:
    """Every guide that exists in Finnish, the shipped ones first."""
    found = {p.name.split(".", 1)[0] for p in directory.glob(f"*.{FALLBACK_LANGUAGE}.md")}
    found = {s for s in found if _SLUG.match(s)}
    return [s for s in ORDER if s in found] + sorted(found - set(ORDER))


def source(directory: Path, slug: str, language: str) -> tuple[Path, str] | None:
    """The file of ``slug`` in ``language``, or in Finnish when that one is missing; None for unknown slugs."""
    if not _SLUG.match(slug):
        return None
    for lang in dict.fromkeys((language, FALLBACK_LANGUAGE)):
        path = directory / f"{slug}.{lang}.md"
        if path.is_file():
            return path, lang
    return None


def load(directory: Path, slug: str, language: str, link_for: Callable[[str], str]) -> Guide | None:
    found = source(directory, slug, language)
    if found is None:
        return None
    path, lang = found
    return _render(str(path), path.stat().st_mtime_ns, slug, lang, link_for)


@lru_cache(maxsize=64)
def _render(path: str, _mtime: int, slug: str, lang: str, link_for: Callable[[str], str]) -> Guide:
    """Render one file (cached per file version; ``link_for`` maps a guide's slug to its page's address)."""
    text = Path(path).read_text(encoding="utf-8")
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    headings = _anchor_headings(tokens)
    _rewrite_links(tokens, link_for, set(slugs(Path(path).parent)))
    title = next((h.text for h in headings if h.level == 1), slug)
    tokens = _without_first_h1(tokens)  # the page template shows the title above the table of contents
    return Guide(
        slug=slug,
        language=lang,
        title=title,
        summary=_first_paragraph(tokens),
        html=Markup(md.renderer.render(tokens, md.options, {})),
        headings=headings,
    )


def anchor_for(text: str) -> str:
    """A readable ASCII id from heading text: "Mitä tarvitset?" → "mita-tarvitset"."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-") or "osio"


def _anchor_headings(tokens: list[Token]) -> list[Heading]:
    headings, used = [], set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        text = tokens[i + 1].content if i + 1 < len(tokens) else ""
        anchor, n = anchor_for(text), 2
        while anchor in used:
            anchor, n = f"{anchor_for(text)}-{n}", n + 1
        used.add(anchor)
        token.attrSet("id", anchor)
        headings.append(Heading(int(token.tag[1]), text, anchor))
    return headings


def _without_first_h1(tokens: list[Token]) -> list[Token]:
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            return tokens[:i] + tokens[i + 3 :]  # heading_open, inline, heading_close
    return tokens


def _rewrite_links(tokens: list[Token], link_for: Callable[[str], str], known: set[str]) -> None:
    """Links to guide files go to their pages; web and in-page links stay; any other link keeps only its text."""
    for block in tokens:
        children = block.children or []
        drop_close: list[bool] = []
        kept = []
        for token in children:
            if token.type == "link_open":
                href = str(token.attrGet("href") or "")
                guide = _GUIDE_LINK.match(href)
                if guide and guide["slug"] in known:
                    token.attrSet("href", link_for(guide["slug"]) + (guide["anchor"] or ""))
                elif not _SAFE_LINK.match(href):
                    drop_close.append(True)
                    continue
                drop_close.append(False)
            elif token.type == "link_close" and drop_close and drop_close.pop():
                continue
            kept.append(token)
        if block.children is not None:
            block.children = kept


def _first_paragraph(tokens: list[Token]) -> str:
    for i, token in enumerate(tokens):
        if token.type == "paragraph_open" and i + 1 < len(tokens):
            parts = tokens[i + 1].children or []
            return "".join(" " if c.type == "softbreak" else c.content for c in parts if c.type != "image")
    return ""
