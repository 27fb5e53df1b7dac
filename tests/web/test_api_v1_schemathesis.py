"""Property-based: schemathesis generates requests from the OpenAPI document and calls the WSGI app; no answer
may be a 5xx, and every answer must fit the documented status codes, content types and schemas. Bounded to a
few examples per operation (the whole file runs in well under a minute)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import select

from engine import api_tokens
from engine.models import Unit
from web.api import openapi_spec

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

schema = schemathesis.openapi.from_dict(openapi_spec())  # the document the app serves (built without a request)


@pytest.fixture
def fuzz_token(app, host) -> str:
    with host.db.unit_of_work() as s:
        organisation_id = s.scalar(select(Unit.organisation_id).limit(1))
        _row, secret = api_tokens.create(s, organisation_id, "fuzz", list(api_tokens.SCOPES), created_by=None,
                                         now=host.clock())
    app.config["API_RATE_LIMIT"] = 100_000
    return secret


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error_or_outside_its_schema(case, app, fuzz_token):
    case.call_and_validate(
        app=app,
        base_url="http://localhost/api/v1",
        headers={"Authorization": f"Bearer {fuzz_token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
