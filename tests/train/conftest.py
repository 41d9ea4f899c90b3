"""Fixtures for the training tests: the shared synthetic data of tests/synthetic.py."""

from ..synthetic import CLASSES, frames, make, make_frame, make_schema, make_schema_for, schema  # noqa: F401
