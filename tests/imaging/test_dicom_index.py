"""`deltarad index` on the demo cohort's DICOM and on a tree built from the vendor files; the
reader's notes in the extraction path."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import generate_uid
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.config import ImagingSettings
from deltarad.features.extract import prepare_timepoint
from deltarad.imaging.io import read_exam


@pytest.fixture(scope="module")
def demo(tiny_cohort) -> Path:
    """The shared tiny generated cohort's folder (tests/conftest.py)."""
    return tiny_cohort.parent


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_index_of_the_demo_cohort_finds_both_exams_of_every_patient(demo, tmp_path):
    run("index", str(demo / "patients"), "--out", str(tmp_path / "cohort.csv"))
    draft = pd.read_csv(tmp_path / "cohort.csv", dtype=str, keep_default_na=False)
    truth = pd.read_csv(demo / "cohort.csv", dtype=str)
    assert len(draft) == len(truth) == 3
    expected = {str((demo / p).resolve()) for p in truth["baseline_image"]}
    assert set(draft["baseline_image"]) == expected
    assert set(draft["early_image"]) == {str((demo / p).resolve()) for p in truth["early_image"]}
    assert draft["patient_id"].str.fullmatch(r"P[0-9a-f]{12}").all()
    assert (draft["outcome"] == "").all() and (draft["baseline_series"] == "").all()
    index = pd.read_csv(tmp_path / "index.csv")
    assert (index["role"] == "DCE").sum() == 6
    assert set(index["study"]) == {"S1", "S2"}


def vendor_tree(vendors: Path, root: Path) -> Path:
    """Patient '999': the Siemens XA30 series-per-phase export as two studies (the later one
    written first), the first study also holding a GE diffusion series; patient 'fMRI': the GE
    multiphase series, one study only."""
    source = vendors / "siemens-xa30-series-per-phase"
    later_study, first_study = generate_uid(), None
    for visit, date in (("a_visit", "20230301"), ("b_visit", None)):
        for folder in sorted(p for p in source.iterdir() if p.name.startswith("700")):
            new_series = generate_uid()
            for file in sorted(folder.iterdir()):
                ds = pydicom.dcmread(file)
                first_study = ds.StudyInstanceUID
                if date:
                    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date
                    ds.StudyInstanceUID, ds.SeriesInstanceUID = later_study, new_series
                    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                target = root / "999" / visit / folder.name / file.name
                target.parent.mkdir(parents=True, exist_ok=True)
                ds.save_as(target)
    for file in sorted((vendors / "ge-mrdc-names").glob("i*")):
        ds = pydicom.dcmread(file)
        ds.PatientID, ds.StudyInstanceUID = "999", first_study
        target = root / "999" / "b_visit" / "dwi" / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target)
    shutil.copytree(vendors / "ge-multiphase", root / "fmri", ignore=shutil.ignore_patterns("ref"))
    return root


def test_index_of_a_vendor_tree(shared_data, tmp_path):
    vendors = shared_data / "dicom-vendors"
    root = vendor_tree(vendors, tmp_path / "tree")
    key = bytes(range(32))
    (tmp_path / "study.key").write_text(key.hex())
    run("index", str(root), "--out", str(tmp_path / "out" / "cohort.csv"), "--key", str(tmp_path / "study.key"))
    draft = pd.read_csv(tmp_path / "out" / "cohort.csv", dtype=str, keep_default_na=False).set_index("patient_id")
    siemens, ge = ("P" + hmac.new(key, patient_id, hashlib.sha256).hexdigest()[:12] for patient_id in (b"999", b"fMRI"))
    assert draft.loc[siemens, "baseline_image"] == str(root / "999" / "b_visit")  # 2023-01-13, before 2023-03-01
    assert draft.loc[siemens, "early_image"] == str(root / "999" / "a_visit")
    assert draft.loc[ge, "baseline_image"] == str(root / "fmri") and draft.loc[ge, "early_image"] == ""
    reference = sitk.ReadImage(
        str(vendors / "siemens-xa30-series-per-phase" / "ref" / "7001_func-bold_task-fa_run-1.nii")
    )
    size = list(reference.GetSize())
    size[3] = 0
    for timepoint in ("baseline", "early"):
        image, notes = read_exam(draft.loc[siemens, f"{timepoint}_image"], phase=2, patient=siemens)
        ref = sitk.Extract(reference, size, [0, 0, 0, 2])
        resampled = sitk.Resample(image, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, ref.GetPixelID())
        assert np.array_equal(sitk.GetArrayFromImage(resampled), sitk.GetArrayFromImage(ref))
    assert any("left out series 1 'Ax DWI TENSOR R2'" in n for n in read_exam(root / "999" / "b_visit", phase=0)[1])

    index = pd.read_csv(tmp_path / "out" / "index.csv", dtype=str, keep_default_na=False)
    dwi = index[index["series_description"] == "Ax DWI TENSOR R2"].iloc[0]
    assert dwi["role"] == "left out" and "not a dynamic (DCE) series" in dwi["why"] and dwi["study"] == "S1"
    dce = index[index["role"] == "DCE"]
    assert len(dce) == 4 + 4 + 1
    assert "this series is phase(s) 3" in dce[dce["series_number"] == "7004"].iloc[0]["why"]
    text = (tmp_path / "out" / "cohort.csv").read_text() + (tmp_path / "out" / "index.csv").read_text()
    for identifier in ("Development", "20230113", "20230301", "1.3.12.2", ",999,", "fMRI,"):
        assert identifier not in text

    run("index", str(root), "--out", str(tmp_path / "ids" / "cohort.csv"), "--with-ids")
    with_ids = pd.read_csv(tmp_path / "ids" / "index.csv", dtype=str, keep_default_na=False)
    assert {"999", "fMRI"} <= set(with_ids["patient_id"]) and "20230301" in set(with_ids["study_date"])


def test_index_of_an_empty_tree_is_an_error_in_words(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["index", str(tmp_path / "empty"), "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 2 and "no DICOM images found" in result.output and "Traceback" not in result.output


def test_reader_notes_reach_the_extraction_notes(demo):
    row = pd.read_csv(demo / "cohort.csv", dtype=str).iloc[0].to_dict()
    row = {
        k: str(demo / v) if k.endswith(("_image", "_mask", "_reader2")) and isinstance(v, str) else v
        for k, v in row.items()
    }
    exam = prepare_timepoint(row, "baseline", ImagingSettings(n4=False))
    assert "phase 3 of 4 read (TemporalPositionIdentifier/Index 4)" in exam.notes


def test_studies_without_patient_id_stand_alone(tmp_path):
    from dicom_layouts import write_series

    for n in (1, 2):
        write_series(
            tmp_path / "tree" / f"s{n}",
            2,
            study_uid=f"1.2.826.0.1.3680043.10.5{n}",
            PatientID="",
            per_slice=lambda p, k: {"TemporalPositionIdentifier": p + 1},
        )
    run("index", str(tmp_path / "tree"), "--out", str(tmp_path / "cohort.csv"))
    draft = pd.read_csv(tmp_path / "cohort.csv", dtype=str, keep_default_na=False)
    assert len(draft) == 2 and (draft["early_image"] == "").all()
    index = pd.read_csv(tmp_path / "index.csv", dtype=str, keep_default_na=False)
    assert (index["why"] == "no PatientID in the DICOM: this study stands alone in the draft cohort").sum() == 2


def test_check_reads_the_exam_extraction_reads(shared_data, tmp_path):
    """deltarad check and extraction read through one function, which takes imaging.image_kind and
    the <timepoint>_series column."""
    from dicom_layouts import series_per_dynamic_folder, volume

    from deltarad.imaging.io import read_analysed_exam

    def check_read(path, settings, patient, series=None):
        return read_analysed_exam(path, settings, series=series, patient=patient)

    philips = shared_data / "dicom-vendors" / "philips-dynamics" / "classic"
    _, notes = check_read(str(philips), ImagingSettings(phase=1, image_kind="CONTROL"), "C1")
    assert any("images of kind 'CONTROL' read" in n for n in notes)
    series_per_dynamic_folder(tmp_path, other_dce=True)
    image, notes = check_read(str(tmp_path), ImagingSettings(phase=1), "C2", series="t1_vibe*")
    assert np.array_equal(sitk.GetArrayFromImage(image), volume(8))
