"""DICOM identifiers never reach an output, and the same inputs give byte-identical outputs.

A tiny generated cohort is re-stamped with a realistic patient name, ID, birth date, accession
number, institution and dates in every DICOM header, run through the whole method twice from
scratch, and every output (CSV, Parquet, JSON, HTML, NRRD headers, logs) is searched for them.
"""

import logging
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pydicom
import pytest

from deltarad.config import load_study
from deltarad.report.html import build_report
from deltarad.synthetic import generate_cohort
from deltarad.workflow import run_study

IDENTIFIERS = {
    "PatientName": "Doe^Jane",
    "PatientID": "MRN99887766",
    "PatientBirthDate": "19610723",
    "AccessionNumber": "ACC5550123",
    "InstitutionName": "St Elsewhere General Hospital",
    "StudyDate": "20240315",
    "ReferringPhysicianName": "House^Gregory",
}
NEEDLES = [
    "Doe^Jane",
    "Doe Jane",
    "Jane Doe",
    "MRN99887766",
    "19610723",
    "1961-07-23",
    "ACC5550123",
    "Elsewhere General",
    "20240315",
    "2024-03-15",
    "House^Gregory",
    "Gregory House",
]
EMBEDDED_IMAGE = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    study_file = generate_cohort(
        root / "cohort", n_patients=24, seed=7, shape=(40, 40, 12), spacing_mm=(1.2, 1.2, 2.0), n_phases=4, workers=1
    )
    n_files = 0
    for dcm in (root / "cohort").rglob("*.dcm"):
        ds = pydicom.dcmread(dcm)
        for key, value in IDENTIFIERS.items():
            setattr(ds, key, value)
        ds.save_as(dcm)
        n_files += 1
    assert n_files > 0
    study = load_study(study_file)
    study.validation.bootstrap = 2  # a little of every stage, quickly
    study.validation.cv_repeats = 1
    log_file = root / "run.log"
    handler = logging.FileHandler(log_file)
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.INFO)
    try:
        outs = [root / "out1", root / "out2"]
        run_study(study, outs[0])
        build_report(outs[0])
        # extraction's own determinism (any worker count) is tested in tests/scale; here the
        # second run reuses the first run's feature store and redoes everything after it
        shutil.copytree(outs[0] / "store", outs[1] / "store")
        run_study(study, outs[1])
        build_report(outs[1])
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(level)
        handler.close()
    return root, outs, log_file


def _texts(folder: Path):
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            yield path, str(table.schema.metadata) + table.to_pandas().to_csv()
        elif path.suffix in (".png", ".xlsx"):
            continue  # binary; the same figures and tables are searched as SVG, HTML and CSV
        else:
            yield path, EMBEDDED_IMAGE.sub("", path.read_bytes().decode("latin-1"))


def test_no_dicom_identifier_in_any_output_or_log(two_runs):
    root, outs, log_file = two_runs
    scanned = 0
    for out in outs:
        for path, text in _texts(out):
            scanned += 1
            for needle in NEEDLES:
                assert needle not in text, f"{needle!r} found in {path}"
    log = log_file.read_text()
    assert "DR0001" in log or "extract" in log  # the log was captured
    for needle in NEEDLES:
        assert needle not in log
    assert scanned > 20
    assert "DR0001" in set(pd.read_csv(outs[0] / "predictions.csv")["patient_id"])  # the cohort's own id is used


def test_same_inputs_give_byte_identical_csv_outputs(two_runs):
    _, (a, b), _ = two_runs
    csvs = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    assert {"features.csv", "predictions.csv", "delta_features.csv", "selection.csv"} <= {str(p) for p in csvs}
    for rel in csvs:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert (a / "model.json").read_text().replace("out1", "") == (b / "model.json").read_text().replace("out2", "")


# ----------------------------------------------------------------------------- deltarad index


def _hmac_pseudonym(key: bytes, patient_id: str) -> str:
    """The pseudonym by its definition (RFC 2104 HMAC over SHA-256, Python's hmac), first 12 hex digits."""
    import hashlib
    import hmac

    return "P" + hmac.new(key, patient_id.encode(), hashlib.sha256).hexdigest()[:12]


@pytest.fixture(scope="module")
def identified_tree(tiny_cohort, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The tiny cohort's DICOM with a hospital-like PatientID (and name) per patient: (tree, {folder: MRN})."""
    tree = tmp_path_factory.mktemp("index_privacy") / "tree"
    shutil.copytree(tiny_cohort.parent / "patients", tree)
    mrns: dict[str, str] = {}
    for dcm in sorted(tree.rglob("*.dcm")):
        ds = pydicom.dcmread(dcm)
        ds.PatientID = mrns.setdefault(ds.PatientID, f"MRN9988776{len(mrns)}")
        ds.PatientName = "Doe^Jane"
        ds.save_as(dcm)
    assert len(mrns) == 3
    return tree, mrns


def _index(tree: Path, out: Path, *options: str):
    from typer.testing import CliRunner

    from deltarad.cli import app

    return CliRunner().invoke(app, ["index", str(tree), "--out", str(out / "cohort.csv"), *options])


def _write_key(path: Path, key: bytes) -> Path:
    path.write_text(key.hex() + "\n")
    path.chmod(0o600)
    return path


def test_index_pseudonyms_are_hmac_of_the_patient_id_under_the_study_key(identified_tree, tmp_path):
    tree, mrns = identified_tree
    key_a, key_b = _write_key(tmp_path / "a.key", bytes(range(32))), _write_key(tmp_path / "b.key", b"\xff" * 32)
    seen = {}
    for run, key in (("a1", key_a), ("a2", key_a), ("b", key_b)):
        result = _index(tree, tmp_path / run, "--key", str(key))
        assert result.exit_code == 0, result.output
        seen[run] = list(pd.read_csv(tmp_path / run / "cohort.csv", dtype=str)["patient_id"])
    assert seen["a1"] == seen["a2"]  # the same key: the same pseudonyms in every run
    assert set(seen["a1"]) == {_hmac_pseudonym(bytes(range(32)), m) for m in mrns.values()}
    assert set(seen["b"]) == {_hmac_pseudonym(b"\xff" * 32, m) for m in mrns.values()}
    assert not set(seen["a1"]) & set(seen["b"])  # another key: other pseudonyms


def test_index_creates_the_study_key_once_outside_the_outputs(identified_tree, tmp_path):
    import os
    import stat

    tree, mrns = identified_tree
    key_file = Path(os.environ["XDG_CONFIG_HOME"]) / "deltarad" / "keys" / "privacy-test.key"
    assert not key_file.exists()
    first = _index(tree, tmp_path / "one", "--study-name", "privacy-test")
    assert first.exit_code == 0, first.output
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"created the study key {key_file}" in first.output  # its location in the log
    key = bytes.fromhex(key_file.read_text().strip())
    assert len(key) == 32
    second = _index(tree, tmp_path / "two", "--study-name", "privacy-test")
    assert second.exit_code == 0 and "created" not in second.output and str(key_file) in second.output
    assert bytes.fromhex(key_file.read_text().strip()) == key  # used again, not replaced
    one = pd.read_csv(tmp_path / "one" / "cohort.csv", dtype=str)["patient_id"]
    assert set(one) == {_hmac_pseudonym(key, m) for m in mrns.values()}
    assert one.tolist() == pd.read_csv(tmp_path / "two" / "cohort.csv", dtype=str)["patient_id"].tolist()
    for out in ("one", "two"):
        assert sorted(p.name for p in (tmp_path / out).iterdir()) == ["cohort.csv", "index.csv"]  # no link table
        for path in (tmp_path / out).iterdir():
            data = path.read_bytes()
            assert key.hex().encode() not in data.lower() and key not in data, path
            for needle in (*mrns.values(), "Doe^Jane"):  # (the folder names are the user's paths)
                assert needle.encode() not in data, (needle, path)


def test_index_refuses_a_key_inside_the_output_folder(identified_tree, tmp_path):
    tree, _ = identified_tree
    result = _index(tree, tmp_path / "out", "--key", str(tmp_path / "out" / "study.key"))
    assert result.exit_code == 2 and "outside the output folder" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "study.key").exists() and not (tmp_path / "out" / "cohort.csv").exists()


def test_index_writes_the_link_table_only_where_asked(identified_tree, tmp_path):
    import stat

    tree, mrns = identified_tree
    key = _write_key(tmp_path / "k.key", b"\x01" * 32)
    result = _index(tree, tmp_path / "out", "--key", str(key), "--link-table", str(tmp_path / "private" / "links.csv"))
    assert result.exit_code == 0, result.output
    links = pd.read_csv(tmp_path / "private" / "links.csv", dtype=str)
    assert dict(zip(links["patient_id"], links["pseudonym"])) == {
        m: _hmac_pseudonym(b"\x01" * 32, m) for m in mrns.values()
    }
    assert stat.S_IMODE((tmp_path / "private" / "links.csv").stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cohort.csv", "index.csv"]
