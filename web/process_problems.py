"""The reasons engine/checks.py gives for refusing a diagram, in the reader's language where known.

The engine words its problems in English (the CLI's language); the element they name needs no translation. Each
pattern here matches one reason; its groups (file names, ids, the library's own detail) are carried over as they
are. A reason without a pattern is shown in English – never hidden.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

_PATTERNS = [
    (r"not safe, well-formed UTF-8 XML: (?P<detail>.*)", _l("not safe, well-formed UTF-8 XML: %(detail)s")),
    (r"the root is not a BPMN 2\.0 <definitions> element", _l("not a BPMN 2.0 diagram (no <definitions> element)")),
    (r"not valid BPMN 2\.0: (?P<detail>.*)", _l("not valid against the BPMN 2.0 XML schema: %(detail)s")),
    (r"contains no process", _l("contains no process")),
    (r'is not executable \(isExecutable="true"\)', _l('is not executable (isExecutable="true" is missing)')),
    (r"has no incoming sequence flow", _l("has no incoming sequence flow")),
    (r"has no outgoing sequence flow", _l("has no outgoing sequence flow")),
    (r"connects an element that does not exist", _l("connects an element that does not exist")),
    (r"maps to no role: .*", _l("maps to no role: a lane's id must be lane_ followed by a role")),
    (r"is in no lane, so nobody could be its owner", _l("is in no lane, so nobody could do it")),
    (r"script tasks are not allowed; use a service task", _l("script tasks are not allowed; use a service task")),
    (r"has no form \(formJsonSchemaFilename\)", _l("has no form (formJsonSchemaFilename)")),
    (r"names no service operation", _l("names no service operation")),
    (r"service operation (?P<name>'.*') does not exist", _l("service operation %(name)s does not exist")),
    (r"(?P<op>\S+) needs the parameter (?P<name>'.*')", _l("%(op)s needs the parameter %(name)s")),
    (r"(?P<op>\S+) has no parameter (?P<name>'.*')", _l("%(op)s has no parameter %(name)s")),
    (
        r"(?P<where>condition|timer|parameter '.*?'|\w+): (?P<detail>.*(not allowed|may be called|syntax error).*)",
        _l("expression outside the allowed safe subset (%(where)s): %(detail)s"),
    ),
    (r"form (?P<file>\S+): cannot be read as JSON: (?P<detail>.*)", _l("form %(file)s cannot be read: %(detail)s")),
    (r"form (?P<file>\S+): (?P<detail>.*)", _l("form %(file)s is not a valid JSON Schema form: %(detail)s")),
    (
        r"timer has no timeDate, timeDuration or timeCycle",
        _l("the timer has no time (timeDate, timeDuration, timeCycle)"),
    ),
    (
        r"timer .*(must be|does not parse).*",
        _l("the timer is not an ISO 8601 date, duration or cycle"),
    ),
    (r"has no diagram interchange .*", _l("has no diagram layout (BPMNDiagram), so modellers cannot open it")),
    (r"has no shape in the diagram \(BPMNShape\)", _l("has no shape in the diagram layout (BPMNShape)")),
    (r"has no edge in the diagram \(BPMNEdge\)", _l("has no line in the diagram layout (BPMNEdge)")),
    (r"SpiffWorkflow cannot run it: (?P<detail>.*)", _l("the process engine cannot run it: %(detail)s")),
    (r"give exactly one \.bpmn file", _l("give exactly one .bpmn file")),
    (r"is not a version of any process here", _l("is not a version of any process here (the process id differs)")),
    (r"no user task of the diagram uses this form", _l("no user task of the diagram uses this form")),
    (r"not JSON: (?P<detail>.*)", _l("not JSON: %(detail)s")),
]
_COMPILED = [(re.compile(pattern + r"\Z", re.DOTALL), message) for pattern, message in _PATTERNS]


def problem_reason(message: str) -> str:
    """``message`` from engine/checks.py in the current language, or as it is when no pattern knows it."""
    for pattern, translated in _COMPILED:
        found = pattern.match(message)
        if found:
            return str(translated) % found.groupdict() if found.groupdict() else str(translated)
    return message
