"""``werk aas import`` and ``werk aas export`` on a plant's twin: all or nothing, every format, what a running
server would load at its next start."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from pathlib import Path

import pytest
from basyx.aas import model

from tests.aas.http.aas_stack import PDF, PNG, package
from tests.conftest import free_port, shared_data
from werk.aas.adapter import io as aas_io
from werk.cli import main
from werk.config import demo_config_path, load_config
from werk.twin.plant import open_twin


def _plant(tmp_path: Path, port: int | None = None) -> Path:
    text = demo_config_path().read_text().replace("path: werk-data/demo.db", f"path: {tmp_path / 'werk.db'}")
    text = text.replace("  port: 8080\n", f"  port: {port or free_port()}\n")
    plant = tmp_path / "plant.yaml"
    plant.write_text(text)
    return plant


def _twin_ids(plant: Path) -> set[str]:
    store, persistence = open_twin(load_config(plant))
    persistence.close()
    return {o.id for o in store.objects}


def test_import_stores_a_template_and_export_writes_it_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = shared_data("aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.json")
    expected = aas_io.read_file(template)
    plant = _plant(tmp_path)
    before = _twin_ids(plant)

    assert main(["aas", "import", str(template), "-c", str(plant)]) == 0
    out = capsys.readouterr().out
    assert "1 submodels" in out and "30 conceptDescriptions" in out and "added" in out
    after = _twin_ids(plant)
    assert after - before == {o.id for o in expected.objects}

    assert main(["aas", "export", "-c", str(plant)]) == 0  # JSON on standard output
    env = json.loads(capsys.readouterr().out)
    assert {sm["id"] for sm in env["submodels"]} >= {
        o.id for o in expected.objects if isinstance(o, model.Submodel)
    }
    for suffix, read in (("xml", aas_io.read_xml), ("aasx", aas_io.read_aasx)):
        out_file = tmp_path / f"twin.{suffix}"
        assert main(["aas", "export", "-c", str(plant), "-o", str(out_file)]) == 0
        assert {o.id for o in read(out_file.read_bytes()).objects} == after


def test_an_id_the_twin_holds_refuses_the_whole_file_unless_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = shared_data("aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.json")
    plant = _plant(tmp_path)
    assert main(["aas", "import", str(template), "-c", str(plant)]) == 0
    capsys.readouterr()
    assert main(["aas", "import", str(template), "-c", str(plant)]) == 2
    assert "in the twin already, nothing was imported" in capsys.readouterr().err
    assert main(["aas", "import", str(template), "-c", str(plant), "--replace"]) == 0
    assert "0 added, 32 replaced" in capsys.readouterr().out


def test_a_file_that_cannot_be_read_fully_is_refused_and_the_twin_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = _plant(tmp_path)
    before = _twin_ids(plant)
    doc = json.loads(
        shared_data("aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.json").read_text()
    )
    doc["submodels"][0]["submodelElements"][0]["modelType"] = "NoSuchElement"  # one bad element among many
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(doc))
    assert main(["aas", "import", str(bad), "-c", str(plant)]) == 2
    message = capsys.readouterr().err
    assert "broken.json" in message and "NoSuchElement" in message
    assert _twin_ids(plant) == before


def test_export_names_an_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["aas", "export", "-c", str(_plant(tmp_path)), "--format", "csv"])
    assert "invalid choice: 'csv'" in capsys.readouterr().err


def test_import_refuses_while_a_werk_holds_the_twin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = shared_data("aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.json")
    plant = _plant(tmp_path)
    _, running = open_twin(load_config(plant))  # what werk serve holds while it runs
    try:
        assert main(["aas", "import", str(template), "-c", str(plant)]) == 2
        assert f"(pid {os.getpid()})" in capsys.readouterr().err
    finally:
        running.close()
    assert main(["aas", "import", str(template), "-c", str(plant)]) == 0  # and once it has stopped


def test_export_only_reads_and_shows_values_stored_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = _plant(tmp_path)
    store, persistence = open_twin(load_config(plant))  # what a first start stores
    sm = next(s for s in store.all(model.Submodel) if s.id_short == "TechnicalData")
    persistence.close()
    db = tmp_path / "werk.db"
    with sqlite3.connect(db) as conn:  # a value a running werk stored alone
        conn.execute(
            "INSERT INTO aas_value VALUES (?, 'TechnicalPropertyAreas[0].IdealCycleTime', '99.5', 1, 0)",
            (sm.id,),
        )
    assert main(["aas", "export", "-c", str(plant)]) == 0
    env = json.loads(capsys.readouterr().out)
    exported = next(s for s in env["submodels"] if s["id"] == sm.id)
    assert "99.5" in json.dumps(exported)
    with sqlite3.connect(db) as conn:  # not folded: the export wrote nothing
        assert conn.execute("SELECT count(*) FROM aas_value").fetchone()[0] == 1


def test_an_imported_package_keeps_its_files_through_export(tmp_path: Path) -> None:
    plant = _plant(tmp_path)
    pkg = tmp_path / "pump.aasx"
    pkg.write_bytes(package("https://example.com/aas/pump-9", PDF))
    assert main(["aas", "import", str(pkg), "-c", str(plant)]) == 0
    out = tmp_path / "twin.aasx"
    assert main(["aas", "export", "-c", str(plant), "-o", str(out)]) == 0
    files = aas_io.read_aasx(out.read_bytes()).files
    for name, body in [("/aasx/files/manual.pdf", PDF), ("/aasx/files/pump.png", PNG)]:
        buf = io.BytesIO()
        files.write_file(name, buf)
        assert buf.getvalue() == body
    # the same name with other content: the whole package is refused, unless --replace
    pkg.write_bytes(package("https://example.com/aas/pump-9", PDF + b"v2"))
    assert main(["aas", "import", str(pkg), "-c", str(plant)]) == 2
    assert main(["aas", "import", str(pkg), "-c", str(plant), "--replace"]) == 0
    assert main(["aas", "export", "-c", str(plant), "-o", str(out)]) == 0
    buf = io.BytesIO()
    aas_io.read_aasx(out.read_bytes()).files.write_file("/aasx/files/manual.pdf", buf)
    assert buf.getvalue() == PDF + b"v2"


def test_import_refuses_a_zip_bomb_with_an_error_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.aas.http.test_limits import zip_bomb

    plant = _plant(tmp_path)
    before = _twin_ids(plant)
    bomb = tmp_path / "bomb.aasx"
    bomb.write_bytes(zip_bomb())
    assert main(["aas", "import", str(bomb), "-c", str(plant)]) == 2
    err = capsys.readouterr().err
    assert "bomb.aasx" in err and "inflates" in err and "Traceback" not in err
    assert _twin_ids(plant) == before
