"""Omat tehtävät: the inbox, and a task's form."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import queries
from engine.errors import FormValidationError, NotFoundError
from engine.models import ProcessSpecVersion

from .. import formrender
from ..auth import login_required
from ..host import host

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@bp.get("")
@login_required
def inbox():
    with host().db.reader() as s:
        return render_template("tasks/inbox.html", rows=queries.inbox(s, g.user))


@bp.get("/<task_id>")
@login_required
def show(task_id: str):
    return _render(task_id)


@bp.post("/<task_id>")
@login_required
def complete(task_id: str):
    try:
        result = host().complete_task(g.user.id, task_id, lambda schema: formrender.parse(schema, request.form))
    except FormValidationError as err:
        return _render(task_id, values=err.data, errors=err.errors, status=422)
    flash(_("Saved."), "success")
    if result.next_task_for_actor:
        return redirect(url_for("tasks.show", task_id=result.next_task_for_actor), 303)
    return redirect(url_for("requests.show", instance_id=result.instance_id), 303)


@bp.get("/<task_id>/diagram.bpmn")
@login_required
def diagram(task_id: str):
    """The diagram version the task's process runs on, for the bpmn-js viewer (whoever may open the task)."""
    with host().db.reader() as s:
        _task, instance, _can = queries.task_for(s, g.user, task_id)
        bpmn = s.scalar(select(ProcessSpecVersion.bpmn).where(ProcessSpecVersion.id == instance.spec_version_id))
    return Response(bpmn, mimetype="application/xml")


def _render(task_id: str, values: dict | None = None, errors: dict | None = None, status: int = 200):
    with host().db.reader() as s:
        task, instance, can_complete = queries.task_for(s, g.user, task_id)
        schema, ui = host().task_form(s, task)
        try:
            view = queries.request_view(s, g.user, instance.id)
        except NotFoundError:  # an owner who may not see the whole request still gets the form
            view = None
        form_fields = formrender.fields(schema, ui, values if values is not None else task.prefill, errors)
        returned = _return_reason(view) if view and can_complete else None
        return render_template(
            "tasks/task.html",
            task=task,
            instance=instance,
            view=view,
            can_complete=can_complete,
            schema=schema,
            fields=form_fields,
            errors=errors or {},
            is_ready=task.status == "ready",
            returned=returned,
        ), status


def _return_reason(view) -> str | None:
    """Why the request came back, when its latest decision was "return for clarification"."""
    for entry in reversed(view.history):
        data = entry.event.details.get("data", {}) if entry.event.action == "task.completed" else {}
        if "approval_decision" in data:
            return data.get("approval_reason") if data["approval_decision"] == "return" else None
    return None
