"""Debian's Chromium driven by Playwright, shared by the browser tests (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out to a network this machine does not have.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium(purpose: str) -> Iterator:
    """A headless browser; skips without Chromium, or fails when VALTUUS_REQUIRE_BROWSER=1 (CI)."""
    if not Path(CHROMIUM).exists():
        reason = f"Chromium is not installed at {CHROMIUM}; {purpose} needs it"
        if os.environ.get("VALTUUS_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
