"""User-task forms: JSON Schema documents, option lists filled from data, validation.

Forms are data that process owners edit. Beside standard JSON Schema they may use:
- ``x-options: "<source>"`` on a field or its ``items``: the allowed values come from data
  (e.g. ``authorization_codes``) and are written into ``oneOf`` per organisation;
- ``x-title`` / ``x-description``: ``{"sv": …, "en": …}`` translations of ``title``/``description``
  (which are Finnish);
- ``x-valid-period``: ``{"from": field, "until": field, "max_years": 25}`` – the until date
  must follow the from date within the limit (Suomi.fi allows at most 25 years);
- ``x-prefill: false``: the field is not prefilled from earlier data (decisions);
- ``x-default-from``: prefill from another data field, or ``$today``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from .errors import FormValidationError
from .privacy import contains_identity_code

OptionSource = Callable[[], list[dict]]  # → [{"const": value, "title": fi, "x-title": {...}}]
OptionCheck = Callable[[str, list], set]  # (source, submitted values) → the values that are not allowed
_FORMAT_CHECKER = FormatChecker()
MAX_FORM_BYTES = 200_000


def read_form_file(forms_dir: Path, filename: str) -> dict:
    """Read a form document by file name from ``forms_dir`` (no paths outside it)."""
    if "/" in filename or "\\" in filename or filename.startswith("."):
        raise ValueError(f"form file name {filename!r} must be a plain file name")
    path = forms_dir / filename
    raw = path.read_bytes()
    if len(raw) > MAX_FORM_BYTES:
        raise ValueError(f"form file {filename} is larger than {MAX_FORM_BYTES} bytes")
    return json.loads(raw.decode("utf-8"))


def schema_problems(schema) -> list[str]:
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return ["a form schema must be a JSON object with type 'object'"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        return [f"invalid JSON Schema: {err.message}"]
    problems = []
    for name, prop in schema.get("properties", {}).items():
        source = prop.get("x-options") or prop.get("items", {}).get("x-options")
        if source and source not in OPTION_SOURCES:
            problems.append(f"field {name}: unknown option source {source!r}")
    return problems


OPTION_SOURCES = ("authorization_codes",)


def with_options(schema: dict, sources: dict[str, OptionSource]) -> dict:
    """A copy of ``schema`` whose ``x-options`` fields list their allowed values."""
    filled = copy.deepcopy(schema)
    for prop in filled.get("properties", {}).values():
        for target in (prop, prop.get("items")):
            if isinstance(target, dict) and target.get("x-options") in sources:
                options = sources[target["x-options"]]()
                target["oneOf"] = options or [{"const": None, "title": "–"}]
    return filled


def make_validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)


def validate(
    schema: dict,
    data: dict,
    today: date,
    check_options: OptionCheck | None = None,
    validator: Draft202012Validator | None = None,
) -> None:
    """Raise :class:`FormValidationError` with errors per field when ``data`` does not fit.
    ``x-options`` values are checked with ``check_options`` (one query, not a filled schema)."""
    errors: dict[str, list[dict]] = {}
    for err in (validator or make_validator(schema)).iter_errors(data):
        field, entry = _describe(err)
        errors.setdefault(field, []).append(entry)
    _check_identity_codes(data, errors)
    if check_options is not None:
        _check_options(schema, data, check_options, errors)
    if not errors:
        _check_period(schema, data, today, errors)
    if errors:
        raise FormValidationError(errors, data)


def _check_options(schema: dict, data: dict, check_options: OptionCheck, errors: dict) -> None:
    for name, prop in schema.get("properties", {}).items():
        source = prop.get("x-options") or (prop.get("items") or {}).get("x-options")
        if not source or name in errors or name not in data:
            continue
        values = data[name] if isinstance(data[name], list) else [data[name]]
        if check_options(source, values):
            errors.setdefault(name, []).append({"code": "invalid_choice"})


def _check_identity_codes(data: dict, errors: dict) -> None:
    """No personal identity code (henkilötunnus) in any text field of any form: nothing needs one."""
    for name, value in data.items():
        if any(contains_identity_code(v) for v in (value if isinstance(value, list) else [value])):
            errors.setdefault(name, []).append({"code": "identity_code"})


def _describe(err) -> tuple[str, dict]:
    path = list(err.absolute_path)
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else "_form"
        return (str(path[0]) if path else missing), {"code": "required"}
    if err.validator == "additionalProperties":
        return "_form", {"code": "unknown_field"}
    field = str(path[0]) if path else "_form"
    params = {}
    if err.validator in ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum"):
        params["limit"] = err.validator_value
    if err.validator == "format":
        params["format"] = err.validator_value
    code = "invalid_choice" if err.validator in ("enum", "const", "oneOf", "anyOf") else err.validator
    return field, {"code": code, "params": params}


def _check_period(schema: dict, data: dict, today: date, errors: dict) -> None:
    rule = schema.get("x-valid-period")
    if not rule:
        return
    start, end = data.get(rule["from"]), data.get(rule["until"])
    if not start or not end:
        return
    start, end = date.fromisoformat(start), date.fromisoformat(end)
    max_years = int(rule.get("max_years", 25))
    if rule.get("from_not_in_past") and start < today:
        errors.setdefault(rule["from"], []).append({"code": "date_in_past"})
    if end < start:
        errors.setdefault(rule["until"], []).append({"code": "end_before_start"})
    elif end > _add_years(start, max_years):
        errors.setdefault(rule["until"], []).append({"code": "too_long", "params": {"limit": max_years}})


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def prefill(schema: dict, data: dict, today: date) -> dict:
    """Initial values of a form from the process data, except fields marked x-prefill: false."""
    values = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("x-prefill") is False:
            continue
        source = prop.get("x-default-from")
        if name in data:
            values[name] = data[name]
        elif source == "$today":
            values[name] = today.isoformat()
        elif source and source in data:
            values[name] = data[source]
        elif "default" in prop:
            values[name] = prop["default"]
    return values
