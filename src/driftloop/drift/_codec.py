"""How a reference summary is stored: JSON for its structure and strings, packed binary for arrays.

A summary is a tree of dicts, lists and scalars whose numeric arrays are ndarray leaves
(:func:`encode_array`). :func:`write_tree` stores it as one ``.npz`` file (one DVC out, readable with
``numpy.load``): member ``tree`` is the UTF-8 JSON with each array replaced by
``{"__array__": [dtype, offset, size]}``; members ``f8`` and ``i8`` hold every float64 and int64
array back to back. Parsing the earlier all-JSON file (format 1, arrays in base64) took ~60 ms for
25 columns, a third of the drift stage's own fixed cost at 100k rows; three members and ~200 KB of
JSON take a few milliseconds. :func:`read_tree` still reads format-1 files.
"""

from __future__ import annotations

import base64
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_ARRAY = "__array__"
_BLOBS = {"f8": np.dtype("<f8"), "i8": np.dtype("<i8")}


def encode_array(a: Any) -> np.ndarray:
    """A 1-D float64 or int64 array leaf for a summary tree (integers stay integers)."""
    a = np.asarray(a)
    return np.ascontiguousarray(a, dtype=np.int64 if a.dtype.kind in "iub" else np.float64).ravel()


def decode_array(leaf: Any) -> np.ndarray:
    """The array of a leaf: an ndarray (format 2) or a ``{"dtype", "b64"}`` dict (format 1)."""
    if isinstance(leaf, np.ndarray):
        return leaf
    a = np.frombuffer(base64.b64decode(leaf["b64"]), dtype=leaf["dtype"])
    return a.astype(np.float64 if leaf["dtype"] == "<f8" else np.int64)


def jfloat(x: Any) -> float | None:
    """A JSON-safe float: NaN and +-inf become ``None``."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def write_tree(path: Path, tree: dict[str, Any]) -> None:
    """Store ``tree`` (ndarray leaves allowed) as one ``.npz`` file at exactly ``path``."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _BLOBS}
    sizes = dict.fromkeys(_BLOBS, 0)

    def placeholder(a: Any) -> dict[str, list[Any]]:  # json calls this for each ndarray leaf
        if not isinstance(a, np.ndarray):
            raise TypeError(f"a summary tree holds JSON values and ndarrays, not {type(a).__name__}")
        key = "i8" if a.dtype.kind in "iub" else "f8"
        parts[key].append(np.asarray(a, dtype=_BLOBS[key]).ravel())
        sizes[key] += a.size
        return {_ARRAY: [key, sizes[key] - a.size, int(a.size)]}

    text = json.dumps(tree, allow_nan=False, default=placeholder).encode("utf-8")
    blobs = {k: np.concatenate(v) if v else np.empty(0, _BLOBS[k]) for k, v in parts.items()}
    with open(path, "wb") as fh:  # a file object, so that numpy does not append ".npz" to the name
        np.savez(fh, tree=np.frombuffer(text, dtype=np.uint8), **blobs)  # type: ignore[arg-type]  # stubs: kwargs as bools


def read_tree(path: Path) -> dict[str, Any]:
    """Inverse of :func:`write_tree`; a format-1 file (plain JSON) is read as it is.

    Raises ``OSError`` / ``ValueError`` (``zipfile.BadZipFile``, ``KeyError`` as ``ValueError``) on
    unreadable content; the caller names the file.
    """
    with open(path, "rb") as fh:
        if fh.read(2) != b"PK":  # not a zip: the format-1 JSON file
            fh.seek(0)
            return json.loads(fh.read().decode("utf-8"))
    try:
        with np.load(path, allow_pickle=False) as z:
            text, blobs = z["tree"].tobytes().decode("utf-8"), {k: z[k] for k in _BLOBS}
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a reference summary archive ({exc})") from exc

    def array(d: dict[str, Any]) -> Any:  # the decoder calls this for each JSON object, innermost first
        ref = d.get(_ARRAY) if len(d) == 1 else None
        # the exact shape write_tree gives: a mapping from column names that has one column called
        # "__array__" (its value a kind, a column summary or a sample array) stays a mapping
        if isinstance(ref, list) and len(ref) == 3 and ref[0] in blobs and type(ref[1]) is int and type(ref[2]) is int:
            return blobs[ref[0]][ref[1] : ref[1] + ref[2]]
        return d

    # object_hook, not a walk of the decoded tree: its ~20,000 level and sample strings are never visited
    return json.loads(text, object_hook=array)
