"""Credentials stay out of config files, output and MLflow: one refusal and one redaction.

A URI that carries credentials (``http://alice:s3cret@host:5000``) would be composed into the
git-tracked ``params.yaml``, printed by MLflow and repeated by error messages. So:

* :func:`refuse_credentials` refuses it wherever driftloop reads a URI -- every string of the
  composed config (:func:`refuse_credentials_in`), ``MLFLOW_TRACKING_URI`` and
  ``MLFLOW_REGISTRY_URI`` -- naming the key, showing the URI masked, and pointing to MLflow's
  own environment variables, which MLflow reads and never records;
* :func:`redact` masks what may still reach a message (a URI's userinfo, a secret query
  parameter, the value of any secret-named environment variable); driftloop applies it where it
  prints an error (:func:`driftloop.stages.run_stage`, the CLI).

Pure and cheap: ``re`` and ``os`` only, so every stage and the CLI can import it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from driftloop.errors import ConfigError

__all__ = [
    "MASK",
    "credentials_in",
    "redact",
    "redactor",
    "refuse_credentials",
    "refuse_credentials_in",
    "secret_values",
]

MASK = "***"

#: ``scheme://userinfo@``: the userinfo is group 2 (it cannot hold ``/``, ``?``, ``#`` or spaces).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@\s'\"]+)@")
#: A query parameter whose name says it holds a secret (``?token=...``, ``&X-Amz-Signature=...``).
_SECRET_QUERY = re.compile(
    r"([?&;][\w.\-]*(?:password|passwd|pwd|token|secret|key|signature|sig|credential)[\w.\-]*=)([^&#\s'\"]+)",
    re.IGNORECASE,
)
#: Environment variables whose values are secrets.
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|KEY|CREDENTIAL", re.IGNORECASE)
#: Shorter values (``1``, ``true``) are not masked: they would mask ordinary words and numbers.
_MIN_SECRET_LEN = 6

_ENV_ADVICE = (
    "Give the URI without them and the credentials through MLflow's environment variables "
    "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN), which "
    "MLflow reads and driftloop never records."
)
_STORAGE_ADVICE = (
    "Give the URI without them and the storage's credentials through its own environment "
    "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, "
    "AZURE_STORAGE_*), which fsspec reads and driftloop never records."
)
_DASK_ADVICE = (
    "Give the scheduler's address without them: TLS and authentication of the Dask connection "
    "come from Dask's own configuration (a tls:// address with DASK_DISTRIBUTED__COMM__TLS__* "
    "variables or ~/.config/dask/*.yaml), which driftloop never records."
)
#: The keys that always name an MLflow server, and the schemes under which another tracking key's
#: URI is one (an s3:// artifact root is a bucket, whose credentials are the storage's).
_MLFLOW_SERVER_KEYS = ("tracking.uri", "tracking.registry_uri", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_MLFLOW_SCHEMES = frozenset({"http", "https", "mlflow-artifacts", "databricks"})


def _advice(found: list[tuple[str, str]]) -> str:
    """What to do instead, for each key and URI refused (each advice once, in the keys' order):
    Dask's own configuration for the scheduler's address, MLflow's variables for an MLflow
    server's URI, the storage's own environment for a bucket (data or artifacts)."""
    said = []
    for key, uri in found:
        group = key.split(".")[0].split(" ")[0].split("[")[0]
        if group == "engine":
            said.append(_DASK_ADVICE)
        elif key.startswith(_MLFLOW_SERVER_KEYS) or (
            group == "tracking" and uri.split(":", 1)[0].lower() in _MLFLOW_SCHEMES
        ):
            said.append(_ENV_ADVICE)
        else:
            said.append(_STORAGE_ADVICE)
    return " ".join(dict.fromkeys(said))


def _mask_userinfo(match: re.Match[str]) -> str:
    user, sep, _ = match.group(2).partition(":")
    return f"{match.group(1)}{user}:{MASK}@" if sep else f"{match.group(1)}{MASK}@"


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the secret-named variables of ``environ`` (default: ``os.environ``), longest
    first, skipping values shorter than 6 characters.

    >>> secret_values({"MLFLOW_TRACKING_PASSWORD": "hunter22", "API_TOKEN": "1", "HOME": "/home/me"})
    ['hunter22']
    """
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(values, key=lambda v: (-len(v), v))


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with credentials masked as ``***``.

    Masks a URI's password (the whole userinfo when it has no password: it may be a token),
    the value of a query parameter named like a secret, and every occurrence of the value of a
    secret-named environment variable (``*PASSWORD*``, ``*TOKEN*``, ``*SECRET*``, ``*KEY*``,
    ``*CREDENTIAL*``) of ``environ`` (default: ``os.environ``).

    >>> redact("MLflow at http://alice:s3cret@mlflow:5000/api refused")
    'MLflow at http://alice:***@mlflow:5000/api refused'
    >>> redact("https://ghp_abc123@example.com/x and ssh://git@host")
    'https://***@example.com/x and ssh://***@host'
    >>> redact("s3://bucket/m?X-Amz-Signature=abcdef&region=eu", environ={})
    's3://bucket/m?X-Amz-Signature=***&region=eu'
    >>> redact("auth failed for tok-98765", environ={"MLFLOW_TRACKING_TOKEN": "tok-98765"})
    'auth failed for ***'
    >>> redact("no secrets in sqlite:///mlflow.db", environ={})
    'no secrets in sqlite:///mlflow.db'
    """
    return redactor(environ)(text)


def redactor(environ: Mapping[str, str] | None = None) -> Callable[[str], str]:
    """:func:`redact` with the environment's secret values read once, for masking many texts
    (a config's params) without rescanning the environment for each.

    >>> mask = redactor({"API_TOKEN": "tok-98765"})
    >>> [mask(t) for t in ("tok-98765", "http://u:p@h", "plain")]
    ['***', 'http://u:***@h', 'plain']
    """
    secrets = secret_values(environ)

    def mask(text: str) -> str:
        out = _USERINFO.sub(_mask_userinfo, text)
        out = _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, out)
        for value in secrets:
            out = out.replace(value, MASK)
        return out

    return mask


def has_credentials(uri: str) -> bool:
    """Whether ``uri`` holds userinfo (``user:password@`` or ``token@``) or a secret query parameter.

    >>> has_credentials("http://alice:pw@host:5000"), has_credentials("sqlite:///mlflow.db")
    (True, False)
    """
    return bool(_USERINFO.search(uri) or _SECRET_QUERY.search(uri))


def refuse_credentials(uri: Any, key: str) -> None:
    """Raise :class:`ConfigError` when ``uri`` holds credentials, naming ``key`` and showing the URI
    masked (never the secret), with the environment variables to use instead.

    >>> refuse_credentials("http://127.0.0.1:5000", "tracking.uri")
    >>> refuse_credentials("http://alice:s3cret@host:5000", "tracking.uri")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: tracking.uri holds credentials (http://alice:***@host:5000): ... \
MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN), ...
    """
    if isinstance(uri, str) and has_credentials(uri):
        _refuse([(key, uri)])


def credentials_in(cfg: Any, where: str = "") -> list[str]:
    """The dotted keys of every string in the nested ``cfg`` (mappings and lists) that holds a
    URI with credentials.

    >>> credentials_in({"tracking": {"uri": "http://u:p@h"}, "data": {"paths": ["a", "s3://k@b/x"]}})
    ['tracking.uri', 'data.paths[1]']
    """
    return [key for key, _ in _found(cfg, where)]


def refuse_credentials_in(cfg: Any, where: str = "") -> None:
    """Raise :class:`ConfigError` naming every key of ``cfg`` that holds a URI with credentials.

    >>> refuse_credentials_in({"tracking": {"uri": "http://u:pw1234@h"}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: tracking.uri holds credentials (http://u:***@h): ...
    """
    found = _found(cfg, where)
    if found:
        _refuse(found)


def _found(cfg: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(cfg, str):
        return [(where or "<value>", cfg)] if has_credentials(cfg) else []
    found: list[tuple[str, str]] = []
    if isinstance(cfg, Mapping):
        for key, value in cfg.items():
            found.extend(_found(value, f"{where}.{key}" if where else str(key)))
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            found.extend(_found(value, f"{where}[{i}]"))
    return found


def _refuse(found: list[tuple[str, str]]) -> None:
    shown = "; ".join(f"{key} holds credentials ({redact(uri, environ={})})" for key, uri in found)
    raise ConfigError(
        f"{shown}: a URI's credentials would reach params.yaml, the output and MLflow's records. {_advice(found)}"
    )
