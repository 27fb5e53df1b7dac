"""Sessions, demo sign-in guard, sign-in rate limit, upload limits and cookie flags (docs/tietoturva.md points here)."""

from __future__ import annotations

import io

import pytest

from web import create_app
from web.cli import demo_sign_in_refusal, main
from web.views.imports import MAX_UPLOAD_BYTES

ENGLISH = {"lang": "en"}


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def signed_in(client) -> bool:
    return client.get("/tasks").status_code == 200


def in_english(web):
    with web.client.session_transaction() as s:
        s.update(ENGLISH)


# -- sessions ------------------------------------------------------------------------------------------


def test_sign_in_issues_a_new_session_cookie_and_the_pre_login_cookie_signs_nobody_in(web, app):
    web.client.get("/login")  # the visitor has a session before signing in (CSRF token)
    before = session_cookie(web.client)
    assert before
    web.login("employee")
    after = session_cookie(web.client)
    assert after and after != before and signed_in(web.client)

    attacker = app.test_client()  # someone who planted or saw the pre-login cookie
    attacker.set_cookie("session", before)
    assert not signed_in(attacker)


def test_nothing_from_before_sign_in_is_carried_into_the_session_but_the_language(web):
    in_english(web)
    with web.client.session_transaction() as s:
        s["planted"] = "by someone else"
    web.login("employee")
    with web.client.session_transaction() as s:
        assert "planted" not in s and s["lang"] == "en" and s["person_id"] == web.people["employee"]


def test_sign_out_clears_the_session_and_a_copy_of_the_old_cookie_no_longer_works(web, app):
    web.login("employee")
    stolen = session_cookie(web.client)
    web.post("/logout", {}, token_from="/tasks")
    with web.client.session_transaction() as s:
        assert "person_id" not in s and "sid" not in s
    assert not signed_in(web.client)

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert not signed_in(replay)


def test_an_idle_session_ends_and_the_person_is_sent_to_sign_in_with_a_message(web):
    in_english(web)
    web.login("employee")
    with web.client.session_transaction() as s:
        s["seen"] -= 31 * 60
    response = web.client.get("/tasks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "next=/tasks" in response.headers["Location"].replace("%2F", "/")
    page = web.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "idle for too long" in page
    assert not signed_in(web.client)


def test_activity_keeps_a_session_alive_until_its_absolute_limit(web):
    in_english(web)
    web.login("employee")
    with web.client.session_transaction() as s:
        s["seen"] -= 20 * 60  # active twenty minutes ago: still fine
        s["started"] -= 9 * 3600
    assert signed_in(web.client)
    with web.client.session_transaction() as s:
        s["started"] -= 2 * 3600  # eleven hours since sign-in
    response = web.client.get("/tasks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "maximum length" in web.client.get("/login").get_data(as_text=True)


def test_the_timeouts_are_read_from_the_environment(host, monkeypatch, people):
    monkeypatch.setenv("VALTUUS_SESSION_IDLE_MINUTES", "5")
    monkeypatch.setenv("VALTUUS_SESSION_MAX_HOURS", "1")
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "VALTUUS_HOST": host, "DEMO_SIGN_IN": True})
    assert app.config["SESSION_IDLE_MINUTES"] == 5 and app.config["SESSION_MAX_HOURS"] == 1
    from tests.conftest import Web

    web = Web(app.test_client(), people)
    web.login("employee")
    with web.client.session_transaction() as s:
        s["seen"] -= 6 * 60
    assert not signed_in(web.client)


def test_the_defaults_are_thirty_minutes_idle_and_ten_hours_in_all(app):
    assert app.config["SESSION_IDLE_MINUTES"] == 30 and app.config["SESSION_MAX_HOURS"] == 10


def test_the_session_cookie_is_httponly_and_samesite_and_secure_behind_tls(web, host, people):
    web.client.get("/login")
    response = web.login("employee")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    app = create_app(
        {"TESTING": True, "SECRET_KEY": "t", "VALTUUS_HOST": host, "DEMO_SIGN_IN": True, "SESSION_COOKIE_SECURE": True}
    )
    from tests.conftest import Web

    tls = Web(app.test_client(), people)
    page = tls.client.get("/login", base_url="https://localhost")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_secure_cookies_are_switched_on_by_the_environment(host, monkeypatch):
    monkeypatch.setenv("VALTUUS_SECURE_COOKIES", "1")
    assert create_app({"TESTING": True, "SECRET_KEY": "t", "VALTUUS_HOST": host}).config["SESSION_COOKIE_SECURE"]


# -- demo sign-in --------------------------------------------------------------------------------------


def test_demo_sign_in_is_off_unless_explicitly_enabled(host, monkeypatch):
    monkeypatch.delenv("VALTUUS_DEMO_SIGN_IN", raising=False)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "VALTUUS_HOST": host})
    assert app.config["DEMO_SIGN_IN"] is False
    client = app.test_client()
    assert client.get("/login").status_code == 404
    assert client.post("/login", data={"person_id": "1"}).status_code in (400, 404)  # no form token, no demo
    assert "demo-banner" not in client.get("/healthz").get_data(as_text=True)
    monkeypatch.setenv("VALTUUS_DEMO_SIGN_IN", "1")
    assert create_app({"TESTING": True, "SECRET_KEY": "t", "VALTUUS_HOST": host}).config["DEMO_SIGN_IN"] is True


def test_make_run_enables_demo_sign_in_explicitly():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "VALTUUS_DEMO_SIGN_IN=1 $(BIN)/valtuus run" in makefile


def test_the_demo_banner_is_on_every_page_signed_in_or_not(web):
    assert "demo-banner" in web.client.get("/login").get_data(as_text=True)
    web.login("admin")
    for path in ("/", "/tasks", "/authorizations", "/help", "/notifications", "/no-such-page"):
        assert 'class="demo-banner"' in web.client.get(path).get_data(as_text=True), path


def test_run_refuses_demo_sign_in_on_a_network_address_and_names_the_flag(runner):
    result = runner.invoke(main, args=["run", "--host", "0.0.0.0", "--no-timers"])
    assert result.exit_code == 2 and "--allow-demo-sign-in-on-network" in result.output
    assert "--allow-demo-sign-in-on-network" in runner.invoke(main, args=["run", "--help"]).output


@pytest.mark.parametrize(
    ("demo", "bind", "forced", "refused"),
    [
        (True, "0.0.0.0", False, True),
        (True, "192.0.2.10", False, True),
        (True, "::", False, True),
        (True, "", False, True),
        (True, "0.0.0.0", True, False),
        (True, "127.0.0.1", False, False),
        (True, "::1", False, False),
        (True, "localhost", False, False),
        (False, "0.0.0.0", False, False),
    ],
)
def test_demo_sign_in_is_served_only_on_loopback_unless_forced(demo, bind, forced, refused):
    assert (demo_sign_in_refusal(demo, bind, forced) is not None) is refused


# -- sign-in rate limit --------------------------------------------------------------------------------


def test_the_eleventh_sign_in_attempt_in_a_minute_gets_429_with_retry_after_in_the_users_language(web, app, caplog):
    in_english(web)
    token = web.token("/login")
    for _ in range(10):
        response = web.client.post("/login", data={"person_id": "x", "csrf_token": token})
        assert response.status_code == 303
    response = web.client.post("/login", data={"person_id": str(web.people["employee"]), "csrf_token": token})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "Too many sign-in attempts" in response.get_data(as_text=True)
    assert "sign-in rate limit reached for 127.0.0.1" in caplog.text
    assert not signed_in(web.client)

    other = app.test_client()  # another client address is not held back
    page = other.get("/login", environ_base={"REMOTE_ADDR": "192.0.2.7"}).get_data(as_text=True)
    from tests.conftest import CSRF

    response = other.post(
        "/login",
        data={"person_id": str(web.people["employee"]), "csrf_token": CSRF.search(page).group(1)},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 303


# -- uploads -------------------------------------------------------------------------------------------


def send(web, content: bytes, name: str):
    data = {"csrf_token": web.token("/registry/import"), "file": (io.BytesIO(content), name)}
    return web.client.post("/registry/import", data=data, content_type="multipart/form-data")


def stored_uploads(host) -> int:
    from sqlalchemy import func, select

    from engine.models import ImportUpload

    with host.db.reader() as s:
        return s.scalar(select(func.count()).select_from(ImportUpload))


def test_a_file_over_the_upload_limit_gets_a_413_page_that_says_the_limit(web, host):
    in_english(web)
    web.login("admin")
    response = send(web, b"a;b\n" + b"x" * MAX_UPLOAD_BYTES, "valtuudet.csv")
    assert response.status_code == 413
    assert "at most 8 MB" in response.get_data(as_text=True)
    response = send(web, b"a;b\n" + b"x" * (10 * 1024 * 1024), "valtuudet.csv")  # beyond the whole request limit
    assert response.status_code == 413
    assert "The upload is too large" in response.get_data(as_text=True)
    assert stored_uploads(host) == 0


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"Nimi;Valtuus\nEmilia;Palkka\n", "valtuudet.xlsx"),  # text named as a workbook
        (b"MZ\x90\x00\x03\x00\x00\x00binary", "valtuudet.csv"),  # a program named as a list
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old excel", "valtuudet.xlsx"),  # an old binary .xls
        (b"#!/bin/sh\nrm -rf /\n", "valtuudet.sh"),
    ],
)
def test_a_file_whose_content_is_not_a_spreadsheet_is_refused_before_anything_is_stored(web, host, content, name):
    in_english(web)
    web.login("admin")
    response = send(web, content, name)
    assert response.status_code == 400
    assert ".xlsx" in response.get_data(as_text=True)
    assert stored_uploads(host) == 0


def test_a_utf16_text_list_passes_the_content_check(web, host):
    web.login("admin")
    body = "Nimi;Sähköposti;Valtuus\nEmilia Esimerkki;employee@merilahti.example;Palkka\n".encode("utf-16")
    assert send(web, body, "valtuudet.txt").status_code == 303
    assert stored_uploads(host) == 1


def attempts(client, token: str, count: int, **headers) -> list[int]:
    return [
        client.post("/login", data={"person_id": "x", "csrf_token": token}, headers=headers).status_code
        for _ in range(count)
    ]


def test_a_forged_forwarded_for_header_does_not_escape_the_limit_without_a_trusted_proxy(web):
    token = web.token("/login")
    codes = [attempts(web.client, token, 1, **{"X-Forwarded-For": f"203.0.113.{n}"})[0] for n in range(11)]
    assert codes[:10] == [303] * 10 and codes[10] == 429


def test_behind_a_trusted_proxy_the_limit_is_per_forwarded_client_address(host, people, monkeypatch):
    monkeypatch.setenv("VALTUUS_PROXY_HOPS", "1")
    from tests.conftest import Web

    web = Web(
        create_app({"TESTING": True, "SECRET_KEY": "t", "VALTUUS_HOST": host, "DEMO_SIGN_IN": True}).test_client(),
        people,
    )
    token = web.token("/login")
    assert attempts(web.client, token, 11, **{"X-Forwarded-For": "198.51.100.1"})[-1] == 429
    assert attempts(web.client, token, 1, **{"X-Forwarded-For": "198.51.100.2"}) == [303]


def test_an_xlsx_that_would_expand_beyond_the_limit_is_refused_without_inflating_it():
    import zipfile

    from engine.tabular import MAX_UNCOMPRESSED_BYTES, TableError, read_table

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("xl/big.xml", "w") as member:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(MAX_UNCOMPRESSED_BYTES // len(chunk) + 1):
            member.write(chunk)
    assert len(buffer.getvalue()) < 2 * 1024 * 1024  # small on the wire
    with pytest.raises(TableError, match="expands too much"):
        read_table(buffer.getvalue(), "valtuudet.xlsx")


# -- responses and configuration -----------------------------------------------------------------------


def test_pages_are_not_kept_in_caches_and_the_api_allows_no_other_origins(web):
    web.login("admin")
    page = web.client.get("/authorizations")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    api = web.client.get("/api/v1/authorizations", headers={"Origin": "https://evil.example"})
    # signed in, yet the API answers 401: the session cookie gives it nothing, so no cross-site request can use it
    assert api.status_code == 401 and "Access-Control-Allow-Origin" not in api.headers


def test_the_instance_secret_is_random_kept_and_readable_by_its_owner_only(tmp_path):
    from web import _instance_secret

    first = _instance_secret(tmp_path)
    assert len(first) == 64 and int(first, 16)
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert _instance_secret(tmp_path) == first
    assert _instance_secret(tmp_path / "other") != first


def test_every_test_this_document_points_at_exists():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "tietoturva.md").read_text(encoding="utf-8")
    references = set(re.findall(r"(tests/[\w/]+\.py)::(test_\w+)", text))
    assert len(references) > 40
    missing = [
        f"{path}::{name}"
        for path, name in sorted(references)
        if not (root / path).is_file() or f"def {name}(" not in (root / path).read_text(encoding="utf-8")
    ]
    assert not missing, missing
