"""revocations: pages (see engine/)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("revocations", __name__)
