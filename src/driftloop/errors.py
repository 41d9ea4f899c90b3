"""The exception hierarchy.

Every error driftloop raises on purpose derives from :class:`DriftloopError`, so a
stage shell or the CLI can turn it into a clear message and a non-zero exit code
without hiding genuine bugs (which stay ordinary exceptions with tracebacks).
"""

from __future__ import annotations


class DriftloopError(Exception):
    """Base class of all deliberate driftloop errors."""

    exit_code = 2


class ConfigError(DriftloopError):
    """A configuration key is unknown, missing or has a value of the wrong kind."""

    exit_code = 3


class DataError(DriftloopError):
    """Input data is missing, empty or does not match the expected schema."""

    exit_code = 4


class RegistryError(DriftloopError):
    """The MLflow registry or tracking server refused or lacks what was asked for."""

    exit_code = 5


class ModelError(DriftloopError):
    """A model cannot be built, loaded or applied to the given data."""

    exit_code = 6


class StorageError(DriftloopError):
    """A file or folder cannot be written or read: a full disk, a read-only or unwritable folder,
    a file where a folder should be. The message names the path; the code is the general one
    (no separate exit code: the path says what to fix)."""

    exit_code = 2


class LockError(DriftloopError):
    """Another process holds the promotion (or cycle) lock."""

    exit_code = 7
