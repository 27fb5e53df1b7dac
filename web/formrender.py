"""JSON Schema forms rendered server-side as plain, accessible HTML (no JavaScript needed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _

from .i18n import localized


@dataclass
class Option:
    value: str
    label: str
    group: str = ""
    description: str = ""


@dataclass
class Field:
    name: str
    label: str
    help: str
    widget: str
    required: bool
    value: object
    options: list[Option] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    max_length: int | None = None


def schema_text(node: dict, key: str) -> str:
    """A schema's title or description in the current language (x-<key> holds translations)."""
    base = node.get(key, "")
    return localized({"fi": base, **node.get(f"x-{key}", {})}) if base else ""


def fields(schema: dict, ui: dict, values: dict, errors: dict[str, list[dict]] | None = None) -> list[Field]:
    errors = errors or {}
    props = schema.get("properties", {})
    order = [n for n in ui.get("ui:order", []) if n in props] + [n for n in props if n not in ui.get("ui:order", [])]
    required = set(schema.get("required", []))
    result = []
    for name in order:
        prop, opts = props[name], ui.get(name, {})
        choices = prop.get("oneOf") or prop.get("items", {}).get("oneOf") or []
        options = [
            Option(
                str(c.get("const")),
                localized({"fi": c.get("title", str(c.get("const"))), **c.get("x-title", {})}),
                c.get("x-group", ""),
                localized(c.get("x-description") or {}),
            )
            for c in choices
        ]
        result.append(
            Field(
                name=name,
                label=schema_text(prop, "title") or name,
                help=schema_text(prop, "description"),
                widget=_widget(prop, opts),
                required=name in required,
                value=values.get(name, ""),
                options=options,
                errors=[error_message(e) for e in errors.get(name, [])],
                max_length=prop.get("maxLength"),
            )
        )
    return result


def _widget(prop: dict, opts: dict) -> str:
    if prop.get("type") == "array":
        return "checkboxes"
    if opts.get("ui:widget") in ("textarea", "radio", "select"):
        return opts["ui:widget"]
    if prop.get("oneOf") or prop.get("enum"):
        return "select"
    if prop.get("format") == "date":
        return "date"
    if prop.get("type") == "boolean":
        return "checkbox"
    if prop.get("type") in ("integer", "number"):
        return "number"
    return "text"


def parse(schema: dict, form) -> dict:
    """Turn submitted HTML form fields into JSON values by the schema's types."""
    data = {}
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type")
        if kind == "array":
            items = [v.strip() for v in form.getlist(name) if v.strip()]
            if prop.get("items", {}).get("type") == "integer":
                items = [_int(v) for v in items]
            if items:
                data[name] = items
        elif kind == "boolean":
            data[name] = name in form
        else:
            raw = form.get(name, "").strip()
            if raw and prop.get("format") == "date":
                raw = _iso_date(raw)
            if raw:
                data[name] = _int(raw) if kind == "integer" else raw
    return data


def _iso_date(value: str) -> str:
    """Accept the Finnish way of writing dates (d.m.yyyy) where a browser has no date picker."""
    parts = value.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[2]) == 4:
        return f"{int(parts[2]):04d}-{int(parts[1]):02d}-{int(parts[0]):02d}"
    return value


def _int(value: str):
    try:
        return int(value)
    except ValueError:
        return value  # left for the schema to reject with a message


def error_message(error: dict) -> str:
    code, params = error.get("code"), error.get("params", {})
    messages = {
        "required": _("This field is required."),
        "minLength": _("Write at least %(limit)s characters.", limit=params.get("limit")),
        "maxLength": _("Write at most %(limit)s characters.", limit=params.get("limit")),
        "minItems": _("Choose at least %(limit)s.", limit=params.get("limit")),
        "maxItems": _("Choose at most %(limit)s.", limit=params.get("limit")),
        "uniqueItems": _("Choose each option only once."),
        "format": _("Give a date as dd.mm.yyyy."),
        "invalid_choice": _("Choose one of the options given."),
        "type": _("The value is not of the right kind."),
        "date_in_past": _("The date cannot be in the past."),
        "end_before_start": _("The end date must be after the start date."),
        "too_long": _("The validity can be at most %(limit)s years.", limit=params.get("limit")),
        "unknown_field": _("The form contained unknown fields."),
        "identity_code": _("Do not write a personal identity code (henkilötunnus) here: nothing here needs one."),
    }
    return messages.get(code, _("The value is not valid."))
