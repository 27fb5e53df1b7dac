"""The script engine SpiffWorkflow runs diagrams with: checked expressions, named services, no scripts."""

from __future__ import annotations

import json
from collections.abc import Callable

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from . import expressions
from .errors import EngineError

ServiceCaller = Callable[[object, str, dict], object]


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    def evaluate(self, expression, context, external_context=None):
        names = dict(external_context or {})
        names.update(context)
        return expressions.evaluate(expression, names)

    def execute(self, script, context, external_context=None):
        raise EngineError("scripts are not allowed in diagrams; use a service task")

    def call_service(self, context, **kwargs):
        raise EngineError("no service caller bound")


class SafeScriptEngine(PythonScriptEngine):
    """Evaluates only checked expressions; service tasks call ``services`` (bound per command)."""

    def __init__(self, services: ServiceCaller | None = None):
        super().__init__(environment=SafeEnvironment())
        self.services = services

    def validate(self, expression):
        expressions.compile_expression(expression)

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except EngineError as err:
            raise WorkflowTaskException(f"Expression {expression!r}: {err}", task=task, exception=err) from err
        except Exception as err:  # a missing key, a type error …: the diagram or data is wrong
            raise WorkflowTaskException(f"Expression {expression!r} failed: {err!r}", task=task, exception=err) from err

    def execute(self, task, script, external_context=None):
        raise WorkflowTaskException("Scripts are not allowed in diagrams; use a service task", task=task)

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        if self.services is None:
            raise WorkflowTaskException("No services are bound to this run", task=task)
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        result = self.services(task, operation_name, params)
        return json.dumps(result, default=str)
