"""Engine errors → HTTP statuses, with a message in the user's language."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from engine import errors as e

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database


class DatabaseId(IntegerConverter):
    """``<int:…>`` in a URL: a number past the database's integer range matches no route (404) instead of failing
    in the database (OverflowError on SQLite, "integer out of range" on PostgreSQL) with a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _messages():
    return {
        400: _("The request could not be understood."),
        403: _("You do not have permission to do this."),
        404: _("The page or item was not found, or you may not see it."),
        409: _("Someone else has already handled this. Reload the page to see the current situation."),
        413: _("The upload is too large."),
        422: _("Check the highlighted fields."),
        500: _("Something went wrong on our side. The administrator has been told in the log."),
    }


def render_error(status: int, message: str | None = None):
    wants_json = request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/")
    text = message or _messages().get(status, _messages()[500])
    if wants_json:
        return {"error": text, "status": status}, status
    return render_template("errors/error.html", status=status, message=text), status


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseId  # before the blueprints add their routes

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        return render_error(
            400, _("The form had expired or was not sent from this site. Reload the page and try again.")
        )

    @app.errorhandler(e.NotFoundError)
    def not_found(err):
        return render_error(404)

    @app.errorhandler(e.NotAllowedError)
    def not_allowed(err):
        return render_error(403)

    @app.errorhandler(e.ConflictError)
    def conflict(err):
        return render_error(409)

    @app.errorhandler(e.WorkflowError)
    def workflow_error(err):
        app.logger.error("workflow error: %s", err)
        return render_error(
            500,
            _(
                "The process could not continue because of a problem in its diagram. "
                "Nothing was saved. Please tell the administrator."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(err):
        if request.path.startswith("/api/v1/"):  # outside the API's views (no route): still problem details
            from .api import Problem, problem_response

            return problem_response(Problem(err.code or 500, err.name, err.description or ""))
        if err.code in _messages():
            return render_error(err.code)
        return err
