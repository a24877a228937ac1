"""Model files: round trips give equal predictions; corrupt, truncated and foreign files are refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from werk.apps.maintenance.anomaly import AnomalyDetector
from werk.apps.maintenance.model_file import (
    MAGIC,
    header_of,
    load_model,
    save_model,
    sha256_of_arrays,
    sha256_of_files,
)
from werk.apps.maintenance.rul import RulFeatureSpec, RulModel
from werk.errors import ModelFileError, WerkError

SIGNALS = ("current", "pressure")


def histories(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    out = []
    for _ in range(count):
        n = int(rng.integers(80, 140))
        life = np.arange(n) / n
        out.append(np.column_stack([np.exp(2 * life) + rng.normal(0, 0.05, n), rng.normal(0, 1, n)]))
    return out


@pytest.fixture(scope="module")
def rul_model() -> RulModel:
    return RulModel.fit(histories(12), RulFeatureSpec(signals=("a", "b")), rounds=30, seeds=(0, 1))


@pytest.fixture
def detector() -> AnomalyDetector:
    rng = np.random.default_rng(0)
    return AnomalyDetector.fit(rng.normal([2.0, 1.0], [0.1, 0.05], (300, 2)), SIGNALS, window=10)


def test_rul_round_trip_predicts_the_same(tmp_path: Path, rul_model: RulModel) -> None:
    data = histories(12)
    path = save_model(
        tmp_path / "rul.werkmodel",
        rul_model,
        metrics={"rmse": 12.5},
        training_data_sha256=sha256_of_arrays(*data),
    )
    loaded = load_model(path, expected_features=rul_model.feature_names(), expected_kind="rul-lightgbm")
    assert isinstance(loaded.model, RulModel)
    for h in histories(3):
        assert loaded.model.predict_history(h) == rul_model.predict_history(h)
    assert loaded.metrics == {"rmse": 12.5}
    assert loaded.training_data_sha256 == sha256_of_arrays(*data)
    assert {"python", "numpy", "lightgbm", "werk"} <= set(loaded.libraries)
    assert loaded.feature_set == rul_model.feature_names()


def test_anomaly_round_trip_and_payload_is_json_not_pickle(tmp_path: Path, detector: AnomalyDetector) -> None:
    path = save_model(tmp_path / "a.werkmodel", detector, metrics={}, training_data_sha256="x")
    loaded = load_model(path, expected_features=list(SIGNALS))
    assert isinstance(loaded.model, AnomalyDetector)
    assert loaded.model.threshold == detector.threshold
    live = np.random.default_rng(1).normal([2.0, 1.2], [0.1, 0.05], (50, 2))
    np.testing.assert_array_equal(loaded.model.score_batch(live), detector.score_batch(live))
    blob = path.read_bytes()
    assert blob.startswith(MAGIC)
    payload = blob.split(b"\n", 3)[3]
    assert json.loads(payload)["signals"] == list(SIGNALS)
    assert header_of(path)["kind"] == "anomaly-zsq"


def test_corrupt_payload_is_refused(tmp_path: Path, detector: AnomalyDetector) -> None:
    path = save_model(tmp_path / "a.werkmodel", detector, metrics={}, training_data_sha256="x")
    blob = bytearray(path.read_bytes())
    i = blob.rindex(b"threshold") + 12  # a digit of the threshold: still valid JSON, another model
    blob[i] = ord("7") if blob[i] != ord("7") else ord("3")
    path.write_bytes(bytes(blob))
    with pytest.raises(ModelFileError, match=r"a\.werkmodel: corrupt: SHA-256 of header and payload") as err:
        load_model(path)
    assert isinstance(err.value, WerkError)


def test_corrupt_header_metric_is_refused(tmp_path: Path, detector: AnomalyDetector) -> None:
    """A flipped digit in the metrics still parses as JSON; only the hash over the header catches it."""
    path = save_model(tmp_path / "a.werkmodel", detector, metrics={"f1": 0.5}, training_data_sha256="x")
    path.write_bytes(path.read_bytes().replace(b'"f1":0.5', b'"f1":0.9', 1))
    with pytest.raises(ModelFileError, match="corrupt: SHA-256 of header and payload"):
        load_model(path)


def test_truncated_files_are_refused(tmp_path: Path, rul_model: RulModel) -> None:
    path = save_model(tmp_path / "rul.werkmodel", rul_model, metrics={}, training_data_sha256="x")
    blob = path.read_bytes()
    path.write_bytes(blob[:-100])
    with pytest.raises(ModelFileError, match=r"rul\.werkmodel: truncated: payload has \d+ of \d+ bytes"):
        load_model(path)
    path.write_bytes(blob[: blob.index(b"sha256 ") + 20])  # inside the hash line
    with pytest.raises(ModelFileError, match="truncated: the file ends before the SHA-256 line"):
        load_model(path)
    path.write_bytes(blob[:40])  # inside the header line
    with pytest.raises(ModelFileError, match="truncated or corrupt: the header line never ends"):
        load_model(path)
    path.write_bytes(blob[:5])  # inside the format line
    with pytest.raises(ModelFileError, match="truncated: the file ends inside the format line"):
        load_model(path)


def test_other_feature_set_is_refused(tmp_path: Path, rul_model: RulModel) -> None:
    path = save_model(tmp_path / "rul.werkmodel", rul_model, metrics={}, training_data_sha256="x")
    other = RulFeatureSpec(signals=("a", "c")).feature_names()
    with pytest.raises(
        ModelFileError, match=r"feature set differs: feature 2 is 'b\.last' in the file, 'c\.last'"
    ):
        load_model(path, expected_features=other)
    with pytest.raises(ModelFileError, match="the file has 25 features, the caller computes 2"):
        load_model(path, expected_features=["a", "b"])
    with pytest.raises(ModelFileError, match="holds a 'rul-lightgbm' model, expected 'anomaly-zsq'"):
        load_model(path, expected_kind="anomaly-zsq")


def test_foreign_and_missing_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.werkmodel"
    path.write_bytes(b"\x80\x04\x95 a pickle, perhaps")
    with pytest.raises(ModelFileError, match=r"notes\.werkmodel: not a werk model file"):
        load_model(path)
    path.write_bytes(MAGIC + b"{not json\n{}")
    with pytest.raises(ModelFileError, match="corrupt header"):
        load_model(path)
    with pytest.raises(ModelFileError, match=r"absent\.werkmodel: cannot be read"):
        load_model(tmp_path / "absent.werkmodel")


def test_a_header_nested_past_the_json_parser_is_a_corrupt_header(tmp_path: Path) -> None:
    path = tmp_path / "deep.werkmodel"
    path.write_bytes(MAGIC + b"[" * 100_000 + b"]" * 100_000 + b"\n{}")
    with pytest.raises(ModelFileError, match=r"deep\.werkmodel: corrupt header \(RecursionError"):
        load_model(path)
    with pytest.raises(ModelFileError, match="corrupt header"):
        header_of(path)


def test_training_data_hashes(tmp_path: Path) -> None:
    a = np.arange(6.0).reshape(2, 3)
    assert sha256_of_arrays(a) == sha256_of_arrays(a.copy())
    assert sha256_of_arrays(a) != sha256_of_arrays(a.reshape(3, 2))  # same bytes, other shape
    assert sha256_of_arrays(a) != sha256_of_arrays(a + 1e-12)
    f = tmp_path / "train.txt"
    f.write_text("1 2 3\n")
    first = sha256_of_files([f])
    f.write_text("1 2 4\n")
    assert sha256_of_files([f]) != first
