"""One request walked through the site in headless Chromium, by clicking as the four people would."""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.browser import chromium

SCREENSHOT = Path("/tmp/valtuus-browser-final.png")
EMPLOYEE, SUPERVISOR, DIRECTOR, ADMIN = "Emilia Esimerkki", "Sami Esihenkilö", "Daniela Johtaja", "Pia Pääkäyttäjä"


@pytest.fixture
def base_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(base_url):
    with chromium("the browser test") as browser:
        page = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 900})
        page.set_default_timeout(10_000)
        yield page


def sign_in(page, name: str) -> None:
    page.get_by_role("radio", name=re.compile(name)).check()
    page.locator("main button.primary").click()
    page.get_by_text(name, exact=True).first.wait_for()


def sign_out(page) -> None:
    page.locator("header .user-box button[type=submit]").click()
    page.get_by_role("radio").first.wait_for()


def nav(page, link: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=link, exact=True).click()


def open_task(page) -> None:
    nav(page, "My tasks")
    page.locator("main table a").first.click()


def send(page) -> None:
    page.locator("main button.primary").click()


@pytest.mark.browser
def test_a_request_walks_from_employee_to_active_authorization_in_a_real_browser(page, codes):
    from playwright.sync_api import expect

    valid_from, valid_until = (str(date.today() + timedelta(days=n)) for n in (30, 395))
    page.goto("/login")
    page.locator('header button[value="en"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    sign_in(page, EMPLOYEE)
    nav(page, "New request")
    page.locator(f"#codes-{codes[0]}").check()
    page.locator(f"#codes-{codes[1]}").check()
    page.locator("#justification").fill("Payroll needs to report earnings payment data.")
    page.locator("#valid_from").fill(valid_from)
    page.locator("#valid_until").fill(valid_until)
    send(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Request #\d+"))
    request_url = page.url
    sign_out(page)

    sign_in(page, SUPERVISOR)
    open_task(page)
    page.locator("#endorsement_decision-endorse").check()
    send(page)
    sign_out(page)

    sign_in(page, DIRECTOR)
    open_task(page)
    page.locator("#approval_decision-reject").check()
    send(page)  # a rejection needs a reason: the person is told so and the task stays open
    expect(page.get_by_role("alert")).to_contain_text("Check the highlighted fields")
    expect(page.locator("#approval_reason")).to_have_attribute("aria-invalid", "true")
    page.locator("#approval_decision-approve").check()
    send(page)
    sign_out(page)

    sign_in(page, ADMIN)
    open_task(page)
    expect(page.locator("#registered_valid_from")).to_have_value(valid_from)
    expect(page.locator("#registered_valid_until")).to_have_value(valid_until)
    expect(page.locator("#registered_on")).not_to_have_value("")
    page.locator("#registration_outcome-registered").check()
    send(page)

    assert page.url == request_url
    expect(page.get_by_text("The request has been handled to the end.")).to_be_visible()
    rows = page.locator("main table.data tbody tr")
    expect(rows).to_have_count(2)
    for row in rows.all():
        expect(row.locator(".badge")).to_have_text("Active")
    steps = page.locator("ol.history li").filter(has=page.locator("strong"))  # one per completed step
    expect(steps).to_have_count(4)
    expect(steps).to_contain_text([EMPLOYEE, SUPERVISOR, DIRECTOR, ADMIN])
    expect(steps).to_contain_text(["Endorsed", "Approved", "Registered"])
    # bpmn-js drew it (CSP and all), marking the route taken with a colour and a ✓ symbol
    for step in ("fill_request", "endorse_request", "approve_request", "register_in_suomifi", "end_active"):
        expect(page.locator(f'#diagram [data-element-id="{step}"].step-done')).to_have_count(1)
    expect(page.locator('#diagram [data-element-id="record_rejection"].step-done')).to_have_count(0)
    expect(page.locator("#diagram .step-symbol.done").first).to_have_text("✓")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    nav(page, "Authorizations")
    holder_rows = page.locator("main table.data tbody tr").filter(has_text=EMPLOYEE)
    expect(holder_rows).to_have_count(2)
    expect(holder_rows.locator(".badge")).to_have_text(["Active", "Active"])
