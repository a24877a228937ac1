"""Trained maintenance models as files: parameters, metrics, feature set, library versions, training-data hash.

File layout (``.werkmodel``)::

    WERKMODEL 1\\n                      magic line and format version
    {header JSON, one line}\\n          kind, feature_set, metrics, libraries, training_data_sha256,
                                        payload_bytes, created (UTC)
    sha256 <64 hex digits>\\n           SHA-256 of the header line (with its newline) followed by the payload
    {payload JSON}                      the model's parameters (numbers, strings, LightGBM's text model)

Why not pickle (or joblib): unpickling runs whatever code the file names, so a model file copied from a share or a
USB stick would be a program werk executes. Here the payload is plain JSON; tree models travel in LightGBM's own
text format and are rebuilt by ``lightgbm.Booster(model_str=...)``. Loading never executes code from the file.

Why a hash over header and payload: a file cut short by a full disk or an interrupted copy, or a flipped byte,
would otherwise load as a subtly different model or with wrong metrics. The SHA-256 is checked before the payload
is parsed; a mismatch or a short payload is refused with :class:`~werk.errors.ModelFileError`. The hash is an
integrity check, not a signature: whoever can write the file can rewrite the hash, so keep model files where only
operators can write. (LightGBM parses the tree text in C++; a hash-valid file from an untrusted source is still
untrusted input.)

Why the feature set and the training-data hash: a model is only valid for the features it was trained on, in that
order; :func:`load_model` refuses a file whose feature list differs from the one the caller computes. The training
data hash (:func:`sha256_of_arrays`, :func:`sha256_of_files`) lets an auditor tell which data produced a model.

Saving writes a temporary file next to the target and renames it, so a crash never leaves half a model behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from werk.apps.maintenance.anomaly import AnomalyDetector
from werk.apps.maintenance.rul import RulModel
from werk.errors import ModelFileError

MAGIC = b"WERKMODEL 1\n"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 1 << 20
DIGEST_PREFIX = b"sha256 "
DIGEST_LINE_BYTES = len(DIGEST_PREFIX) + 64 + 1

Model = RulModel | AnomalyDetector
KINDS: dict[str, type[RulModel] | type[AnomalyDetector]] = {
    RulModel.kind: RulModel,
    AnomalyDetector.kind: AnomalyDetector,
}


def model_path(models_dir: str | Path, asset: str) -> Path:
    """Where an asset's RUL model file lives: ``<models_dir>/<asset>.rul.werkmodel``."""
    return Path(models_dir) / f"{asset}.rul.werkmodel"


@dataclass(frozen=True)
class LoadedModel:
    """A model read back from a file, with the header that describes it."""

    model: Model
    kind: str
    feature_set: list[str]
    metrics: dict[str, float]
    libraries: dict[str, str]
    training_data_sha256: str
    created: str


def sha256_of_arrays(*arrays: npt.ArrayLike) -> str:
    """SHA-256 over the dtype, shape and bytes of each array, in order (same data, same hash, on any machine)."""
    h = hashlib.sha256()
    for a in arrays:
        arr = np.ascontiguousarray(a)
        h.update(f"{arr.dtype.str}{arr.shape};".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def sha256_of_files(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the names and contents of training files, in the order given."""
    h = hashlib.sha256()
    for p in paths:
        path = Path(p)
        h.update(f"{path.name};".encode())
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of what computed the model; a model trained with another LightGBM may predict differently."""
    out = {"python": platform.python_version()}
    for dist in ("werk", "numpy", "lightgbm"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def save_model(
    path: str | Path,
    model: Model,
    *,
    metrics: Mapping[str, float],
    training_data_sha256: str,
) -> Path:
    """Write ``model`` with its metrics and provenance to ``path`` (atomically); return the path."""
    path = Path(path)
    payload = json.dumps(model.to_payload(), separators=(",", ":"), allow_nan=False).encode()
    header = {
        "format": FORMAT_VERSION,
        "kind": model.kind,
        "feature_set": model.feature_names(),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "libraries": library_versions(),
        "training_data_sha256": training_data_sha256,
        "payload_bytes": len(payload),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    header_line = json.dumps(header, separators=(",", ":")).encode() + b"\n"
    digest = hashlib.sha256(header_line + payload).hexdigest()
    blob = MAGIC + header_line + f"{DIGEST_PREFIX.decode()}{digest}\n".encode() + payload
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is no secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(
    path: str | Path,
    *,
    expected_features: Sequence[str] | None = None,
    expected_kind: str | None = None,
) -> LoadedModel:
    """Read a model file, checking magic, header, length, hash, kind and feature set before building the model.

    Raises :class:`~werk.errors.ModelFileError` naming the file and what is wrong.
    """
    path = Path(path)

    def fail(what: str) -> ModelFileError:
        return ModelFileError(f"model file {path}: {what}")

    try:
        blob = path.read_bytes()
    except OSError as e:
        raise fail(f"cannot be read ({e.strerror or e})") from e
    if not blob.startswith(MAGIC):
        if MAGIC.startswith(blob):
            raise fail("truncated: the file ends inside the format line")
        raise fail(
            f"not a werk model file (expected it to start with {MAGIC!r}, found {blob[: len(MAGIC)]!r})"
        )
    end = blob.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise fail("truncated or corrupt: the header line never ends")
    try:
        header = json.loads(blob[len(MAGIC) : end])
        kind = str(header["kind"])
        features = [str(f) for f in header["feature_set"]]
        size = int(header["payload_bytes"])
        if header["format"] != FORMAT_VERSION:
            raise fail(
                f"format {header['format']}, this werk reads format {FORMAT_VERSION}; retrain or upgrade"
            )
    except ModelFileError:
        raise
    except (ValueError, KeyError, TypeError, RecursionError) as e:  # json recurses per level: a deep header
        raise fail(f"corrupt header ({type(e).__name__}: {e})") from e

    header_line = blob[len(MAGIC) : end + 1]
    digest_line = blob[end + 1 : end + 1 + DIGEST_LINE_BYTES]
    if len(digest_line) < DIGEST_LINE_BYTES:
        raise fail("truncated: the file ends before the SHA-256 line")
    if not digest_line.startswith(DIGEST_PREFIX) or not digest_line.endswith(b"\n"):
        raise fail("corrupt: the line after the header is not 'sha256 <hex>'")
    digest = digest_line[len(DIGEST_PREFIX) : -1].decode("ascii", errors="replace")
    payload = blob[end + 1 + DIGEST_LINE_BYTES :]
    if len(payload) < size:
        raise fail(f"truncated: payload has {len(payload)} of {size} bytes")
    if len(payload) > size:
        raise fail(f"corrupt: {len(payload) - size} bytes after the declared payload")
    actual = hashlib.sha256(header_line + payload).hexdigest()
    if actual != digest:
        raise fail(
            f"corrupt: SHA-256 of header and payload is {actual[:16]}..., the file says {digest[:16]}..."
        )

    if expected_kind is not None and kind != expected_kind:
        raise fail(f"holds a {kind!r} model, expected {expected_kind!r}")
    if kind not in KINDS:
        raise fail(f"unknown model kind {kind!r} (known: {sorted(KINDS)})")
    if expected_features is not None and list(expected_features) != features:
        raise fail(
            f"feature set differs: {_feature_diff(features, list(expected_features))}; retrain the model"
        )

    try:
        model: Model = KINDS[kind].from_payload(json.loads(payload))
    except Exception as e:  # a hash-valid payload that still does not parse: written by other code
        raise fail(f"payload cannot be read as a {kind!r} model ({type(e).__name__}: {e})") from e
    if model.feature_names() != features:
        raise fail("corrupt: the payload's feature set differs from the header's")
    return LoadedModel(
        model=model,
        kind=kind,
        feature_set=features,
        metrics={str(k): float(v) for k, v in dict(header.get("metrics", {})).items()},
        libraries={str(k): str(v) for k, v in dict(header.get("libraries", {})).items()},
        training_data_sha256=str(header.get("training_data_sha256", "")),
        created=str(header.get("created", "")),
    )


def _feature_diff(found: list[str], expected: list[str]) -> str:
    if len(found) != len(expected):
        return f"the file has {len(found)} features, the caller computes {len(expected)}"
    i = next(i for i, (a, b) in enumerate(zip(found, expected, strict=True)) if a != b)
    return f"feature {i} is {found[i]!r} in the file, {expected[i]!r} in the caller"


def header_of(path: str | Path) -> dict[str, Any]:
    """The header of a model file without checking or loading the payload (for listings)."""
    path = Path(path)
    with path.open("rb") as f:
        magic = f.read(len(MAGIC))
        line = f.readline(MAX_HEADER_BYTES)
    if magic != MAGIC or not line.endswith(b"\n"):
        raise ModelFileError(f"model file {path}: not a werk model file, or truncated in its header")
    try:
        header: dict[str, Any] = json.loads(line)
    except (ValueError, RecursionError) as e:
        raise ModelFileError(f"model file {path}: corrupt header ({e})") from e
    return header
