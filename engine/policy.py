"""An organisation's governance settings (organisation.settings), with the defaults the shipped diagrams expect.

Diagrams read these as ``policy["…"]``; other municipalities change them with configuration only.
Durations are ISO 8601 (``P7D``) so that timers in the diagrams can use them as they are.
"""

from __future__ import annotations

import re

DEFAULT_POLICY: dict = {
    "supervisor_endorsement": True,  # the request goes through the supervisor before the director
    "review_interval_months": 12,  # months from registration (or the last review) to the next review
    "review_lead_days": 30,  # a review round opens this many days before the review date
    "reviewer": "director",  # who reviews: "director" of the holder's unit, or the holder's "supervisor"
    "review_reminder_days": 7,  # reminder to the reviewer after this many days
    "review_escalation_days": 14,  # then the deputy and the pääkäyttäjä are asked too
    "review_deadline_days": 30,  # when nobody has decided by then, the default decision applies
    "review_default": "keep",  # keep | revoke | escalate (keep asking, every deadline period)
    "renewal_offer_days": [60, 30, 7],  # renewal offered to holder and director this many days before the end
    "revocation_due_working_days": 1,  # the pääkäyttäjä invalidates in Suomi.fi within this many working days
    "revocation_reminder_days": 1,  # reminder this many days after the due date
    "revocation_escalation_days": 3,  # then every pääkäyttäjä is asked
    # `valtuus retention`: people who left more than this many years ago are pseudonymised (engine/retention.py)
    "retention_years": 6,
}

REVIEW_DEFAULTS = ("keep", "revoke", "escalate")
REVIEWERS = ("director", "supervisor")
_DAYS = re.compile(r"_days$")


def policy_for(settings: dict | None) -> dict:
    """The organisation's settings over the defaults; values of the wrong kind fall back to the default."""
    result = dict(DEFAULT_POLICY)
    for key, value in (settings or {}).items():
        default = DEFAULT_POLICY.get(key)
        if default is None:
            result[key] = value  # settings the shipped diagrams do not use are passed through
        elif key == "review_default" and value in REVIEW_DEFAULTS or key == "reviewer" and value in REVIEWERS:
            result[key] = value
        elif key == "renewal_offer_days":
            if isinstance(value, list) and value and all(isinstance(v, int) and 0 < v <= 365 for v in value):
                result[key] = sorted(set(value), reverse=True)
        elif isinstance(default, bool):
            if isinstance(value, bool):
                result[key] = value
        elif isinstance(default, int) and isinstance(value, int) and not isinstance(value, bool):
            if (_DAYS.search(key) and 0 <= value <= 3650) or key == "review_interval_months" and 1 <= value <= 120 \
                    or key == "retention_years" and 1 <= value <= 100:
                result[key] = value
    return result
