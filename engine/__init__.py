"""Valtuushallinta engine: hosts the BPMN governance model and owns all data.

The engine knows nothing of Flask. It takes plain values and ids, returns plain
objects and raises the errors of :mod:`engine.errors`.
"""
