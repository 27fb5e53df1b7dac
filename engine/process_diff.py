"""What changed between two versions of a diagram, element by element, for people to read.

Elements are matched by their BPMN id (ids are readable and stable: ``approve_request``), so a renamed task shows
as *changed* (its name), while a task whose id changed shows as one removed and one added. The result is plain
JSON (stored as ``ProcessSpecVersion.changes``): the web and the CLI word it, each in its own language.

    {"elements": [{"kind": "task", "id": …, "name": …, "change": "changed",
                   "details": [{"attribute": "name", "old": …, "new": …}]}, …],
     "forms": [{"file": …, "change": "changed", "fields": [{"field": …, "change": …, "attributes": [...]}],
                "attributes": [...]}],
     "counts": {"task": {"added": 1, "removed": 0, "changed": 2}, …, "form": {…}}}
"""

from __future__ import annotations

from lxml import etree

from .checks import BPMN, SPIFF, parse_xml

KINDS = ("process", "lane", "task", "timer", "event", "gateway", "flow", "form")
TASK_TAGS = (
    "task",
    "userTask",
    "manualTask",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "scriptTask",
    "callActivity",
    "subProcess",
)
EVENT_TAGS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
GATEWAY_TAGS = ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway")
TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")


def compare(old_bpmn: str | bytes, old_forms: dict, new_bpmn: str | bytes, new_forms: dict) -> dict:
    """The changes from the old version to the new one (see the module docstring for the shape)."""
    old, new = elements(old_bpmn), elements(new_bpmn)
    changed = []
    for element_id in [*new, *(i for i in old if i not in new)]:
        before, after = old.get(element_id), new.get(element_id)
        if before is None:
            details = [{"attribute": k, "old": "", "new": v} for k, v in after["attrs"].items() if v]
            changed.append(_entry(after, element_id, "added", details))
        elif after is None:
            details = [{"attribute": k, "old": v, "new": ""} for k, v in before["attrs"].items() if v]
            changed.append(_entry(before, element_id, "removed", details))
        else:
            details = _attribute_changes(before, after)
            if details:
                changed.append(_entry(after, element_id, "changed", details))
    changed.sort(key=lambda e: KINDS.index(e["kind"]))  # stable: document order within a kind
    forms = form_changes(old_forms or {}, new_forms or {})
    return {"elements": changed, "forms": forms, "counts": _counts(changed, forms)}


def is_empty(changes: dict | None) -> bool:
    return not changes or (not changes.get("elements") and not changes.get("forms"))


def _entry(element: dict, element_id: str, change: str, details: list | None = None) -> dict:
    return {
        "kind": element["kind"],
        "id": element_id,
        "name": element["name"],
        "change": change,
        "details": details or [],
    }


def _attribute_changes(before: dict, after: dict) -> list[dict]:
    keys = [*after["attrs"], *(k for k in before["attrs"] if k not in after["attrs"])]
    details = []
    if before["name"] != after["name"]:
        details.append({"attribute": "name", "old": before["name"], "new": after["name"]})
    if before["kind"] != after["kind"]:
        details.append({"attribute": "kind", "old": before["kind"], "new": after["kind"]})
    for key in keys:
        old, new = before["attrs"].get(key, ""), after["attrs"].get(key, "")
        if old != new:
            details.append({"attribute": key, "old": old, "new": new})
    return details


def _counts(elements_changed: list[dict], forms: list[dict]) -> dict:
    counts: dict = {}
    for entry in [*elements_changed, *({"kind": "form", "change": f["change"]} for f in forms)]:
        per_kind = counts.setdefault(entry["kind"], {"added": 0, "removed": 0, "changed": 0})
        per_kind[entry["change"]] += 1
    return counts


def elements(bpmn: str | bytes) -> dict[str, dict]:
    """Every element a reader cares about, by id: ``{"kind", "name", "attrs": {attribute: text}}``."""
    root = parse_xml(bpmn.encode("utf-8") if isinstance(bpmn, str) else bpmn)
    lane_of = {
        ref.text: lane.get("name") or lane.get("id")
        for lane in root.iter(f"{{{BPMN}}}lane")
        for ref in lane.iter(f"{{{BPMN}}}flowNodeRef")
    }
    found: dict[str, dict] = {}
    for node in root.iter(etree.Element):
        if not str(node.tag).startswith(f"{{{BPMN}}}") or node.get("id") is None:
            continue
        described = _describe(node, etree.QName(node).localname, lane_of)
        if described is not None:
            found[node.get("id")] = described
    return found


def _describe(node, tag: str, lane_of: dict) -> dict | None:
    name = node.get("name") or ""
    if tag == "process":
        return {"kind": "process", "name": name, "attrs": {"executable": node.get("isExecutable") or ""}}
    if tag == "lane":
        return {"kind": "lane", "name": name, "attrs": {}}
    if tag in TASK_TAGS:
        return {
            "kind": "task",
            "name": name,
            "attrs": {"type": tag, "lane": lane_of.get(node.get("id"), "")} | _task_attrs(node),
        }
    if tag in EVENT_TAGS:
        return _event(node, tag, name, lane_of)
    if tag in GATEWAY_TAGS:
        return {"kind": "gateway", "name": name, "attrs": {"type": tag, "default": node.get("default") or ""}}
    if tag == "sequenceFlow":
        condition = node.find(f"{{{BPMN}}}conditionExpression")
        attrs = {"from": node.get("sourceRef") or "", "to": node.get("targetRef") or ""}
        attrs["condition"] = (condition.text or "").strip() if condition is not None else ""
        return {"kind": "flow", "name": name, "attrs": attrs}
    return None


def _task_attrs(node) -> dict:
    attrs = {}
    for prop in node.iter(f"{{{SPIFF}}}property"):
        key = {"formJsonSchemaFilename": "form", "formUiSchemaFilename": "ui_form", "dueInDays": "due_days"}.get(
            prop.get("name"), prop.get("name")
        )
        attrs[key] = prop.get("value") or ""
    operator = node.find(f".//{{{SPIFF}}}serviceTaskOperator")
    if operator is not None:
        attrs["operation"] = operator.get("id") or ""
        for param in operator.iter(f"{{{SPIFF}}}parameter"):
            attrs[f"parameter {param.get('id')}"] = param.get("value") or ""
    if node.get("calledElement"):
        attrs["called_element"] = node.get("calledElement")
    return attrs


def _event(node, tag: str, name: str, lane_of: dict) -> dict:
    attrs = {"type": tag}
    if tag == "boundaryEvent":
        attrs["attached_to"] = node.get("attachedToRef") or ""
        attrs["interrupting"] = node.get("cancelActivity") or "true"
    definitions = [etree.QName(d).localname for d in node if str(d.tag).endswith("EventDefinition")]
    if definitions:
        attrs["trigger"] = ", ".join(definitions)
    timer = node.find(f"{{{BPMN}}}timerEventDefinition")
    if timer is None:
        return {"kind": "event", "name": name, "attrs": attrs}
    for child in timer:
        if etree.QName(child).localname in TIMER_TAGS:
            attrs["timer"] = f"{etree.QName(child).localname}: {(child.text or '').strip()}"
    return {"kind": "timer", "name": name, "attrs": attrs}


def form_changes(old_forms: dict, new_forms: dict) -> list[dict]:
    """Form files added, removed or changed; for a changed JSON Schema, its fields added, removed or changed."""
    result = []
    for filename in sorted(set(old_forms) | set(new_forms)):
        before, after = old_forms.get(filename), new_forms.get(filename)
        if before == after:
            continue
        if before is None or after is None:
            change = "added" if before is None else "removed"
            result.append({"file": filename, "change": change, "fields": [], "attributes": []})
            continue
        result.append({"file": filename, "change": "changed", **_schema_changes(before, after)})
    return result


def _schema_changes(before, after) -> dict:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return {"fields": [], "attributes": ["document"]}
    old_props, new_props = before.get("properties") or {}, after.get("properties") or {}
    old_required, new_required = set(before.get("required") or []), set(after.get("required") or [])
    fields = []
    for field in [*new_props, *(f for f in old_props if f not in new_props)]:
        if field not in old_props or field not in new_props:
            change = "added" if field not in old_props else "removed"
            title = (new_props.get(field) or old_props.get(field) or {}).get("title", "")
            fields.append({"field": field, "title": title, "change": change, "attributes": []})
            continue
        old, new = old_props[field], new_props[field]
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if (field in old_required) != (field in new_required):
            keys.append("required")
        if keys:
            fields.append({"field": field, "title": new.get("title", ""), "change": "changed", "attributes": keys})
    attributes = sorted(
        k for k in set(before) | set(after) if k not in ("properties", "required") and before.get(k) != after.get(k)
    )
    return {"fields": fields, "attributes": attributes}


def describe(changes: dict | None) -> list[str]:
    """The changes as English lines (for the CLI and logs; the web words them in the reader's language)."""
    if changes is None:
        return ["(changes not recorded)"]
    lines = []
    for e in changes.get("elements", []):
        label = f"{e['kind']} {e['id']}" + (f" ({e['name']})" if e["name"] else "")
        lines.append(f"{e['change']}: {label}")
        if e["change"] == "changed":
            lines += [f"    {d['attribute']}: {d['old'] or '–'} → {d['new'] or '–'}" for d in e["details"]]
        else:
            lines += [f"    {d['attribute']}: {d['old'] or d['new']}" for d in e["details"]]
    for f in changes.get("forms", []):
        lines.append(f"{f['change']}: form {f['file']}")
        lines += [f"    field {x['field']} {x['change']}" + _keys(x["attributes"]) for x in f["fields"]]
        if f["attributes"]:
            lines.append("    schema" + _keys(f["attributes"]))
    return lines or ["no changes"]


def _keys(keys: list[str]) -> str:
    return f" ({', '.join(keys)})" if keys else ""
