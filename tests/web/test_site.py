"""Site-wide behaviour: health, headers, languages, sign-in and sign-out."""

from __future__ import annotations


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "database": "ok"}


def test_every_page_carries_the_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_finnish_is_the_default_and_swedish_and_english_can_be_chosen(web):
    assert '<html lang="fi">' in web.client.get("/login").get_data(as_text=True)
    web.post("/language", {"lang": "sv", "next": "/login"}, token_from="/login")
    assert '<html lang="sv">' in web.client.get("/login").get_data(as_text=True)
    web.post("/language", {"lang": "en", "next": "/login"}, token_from="/login")
    assert '<html lang="en">' in web.client.get("/login").get_data(as_text=True)
    assert web.post("/language", {"lang": "de"}, token_from="/login").status_code == 400


def test_a_swedish_speaking_person_gets_swedish_pages(web):
    web.login("anstalld")
    assert '<html lang="sv">' in web.client.get("/").get_data(as_text=True)


def test_sign_in_starts_a_fresh_session_and_sign_out_ends_it(web):
    web.login("employee")
    assert web.client.get("/tasks").status_code == 200
    web.post("/logout", {}, token_from="/tasks")
    assert web.client.get("/tasks").status_code == 302


def test_signing_in_as_someone_who_does_not_exist_is_refused(web):
    response = web.post("/login", {"person_id": "999999"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert web.client.get("/tasks").status_code == 302


def test_an_open_redirect_after_sign_in_or_language_change_is_not_followed(web):
    for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        response = web.post("/login", {"person_id": str(web.people["employee"]), "next": target})
        assert response.headers["Location"] == "/"
        response = web.post("/language", {"lang": "sv", "next": target}, token_from="/")
        assert response.headers["Location"] == "/"
