"""Workflow state without the embedded spec.

SpiffWorkflow's default serializer copies the whole process spec into every
instance (most of the bytes, and 2–2.5× slower to load). Here the spec lives once
per version in ``process_spec_versions``; an instance stores only its task tree
and data, and is rebuilt against the cached, parsed spec of its version.
"""

from __future__ import annotations

import json
import zlib
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG


class SpecByReferenceConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct, spec, subprocess_specs):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class StateSerializer:
    version = VERSION

    def __init__(self):
        self.registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
        self.converter = SpecByReferenceConverter(BpmnWorkflow, self.registry)
        self._encoder = create_encoder(self.registry, None)

    def dumps(self, workflow: BpmnWorkflow) -> bytes:
        """zlib-compressed JSON: the task tree's bookkeeping repeats a lot and shrinks about 5×."""
        self.registry._encoder_mode = True  # as BpmnWorkflowSerializer.serialize_json does
        try:
            text = json.dumps(self.converter.to_dict(workflow), cls=self._encoder, separators=(",", ":"))
        finally:
            self.registry._encoder_mode = False
        return zlib.compress(text.encode("utf-8"), 6)

    def loads(self, data: bytes, spec, subprocess_specs, version: str | None = None) -> BpmnWorkflow:
        dct = json.loads(zlib.decompress(data))
        if version and version != self.version and version in MIGRATIONS:
            MIGRATIONS[version](dct)
        return self.converter.restore(dct, spec, subprocess_specs)
