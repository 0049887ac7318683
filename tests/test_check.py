"""`deltarad check`: the pre-flight, through the real CLI on generated DICOM cohorts and on real
Siemens DICOM (one series per dynamic) from ../shared/data/dicom-vendors."""

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
import yaml
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.cohort import load_cohort_cases
from deltarad.config import load_study
from deltarad.features.extract import prepare_timepoint
from deltarad.preflight import EXAM_COLUMNS, check_exam, dice, share_inside, volume_ml
from deltarad.synthetic import generate_cohort

#: Three tiny patients (outcomes 1, 0, 1; one read by reader 2): six exams.
TINY = dict(n_patients=3, seed=0, shape=(40, 40, 12), spacing_mm=(1.2, 1.2, 2.0), n_phases=4, workers=1)
VOXEL_ML = 1.2 * 1.2 * 2.0 / 1000

runner = CliRunner()


@pytest.fixture(scope="module")
def check_cohort(tmp_path_factory) -> Path:
    return generate_cohort(tmp_path_factory.mktemp("check") / "cohort", **TINY)


@pytest.fixture
def cohort_copy(check_cohort, tmp_path) -> Path:
    return shutil.copytree(check_cohort.parent, tmp_path / "cohort") / "study.yaml"


def _check(study: Path, out: Path, workers: int = 0):
    result = runner.invoke(app, ["check", str(study), "--out", str(out), "--workers", str(workers)])
    return result, out


def test_check_reads_every_exam_and_exits_0(check_cohort, tmp_path):
    result, out = _check(check_cohort, tmp_path / "out")
    assert result.exit_code == 0, result.output
    exams = pd.read_csv(out / "check.csv", dtype={"patient_id": str})
    assert list(exams.columns) == EXAM_COLUMNS
    assert len(exams) == 6 and set(exams["timepoint"]) == {"baseline", "early"}
    assert (exams["status"] != "failed").all(), exams["error"].tolist()
    assert (exams["size"] == "40x40x12").all() and (exams["spacing_mm"] == "1.2x1.2x2").all()
    cohort = pd.read_csv(check_cohort.parent / "cohort.csv", dtype={"patient_id": str}).set_index("patient_id")
    for r in exams.itertuples():
        drawn = sitk.ReadImage(str(check_cohort.parent / cohort.at[r.patient_id, f"{r.timepoint}_mask"]))
        assert r.mask_ml == pytest.approx(np.count_nonzero(sitk.GetArrayViewFromImage(drawn)) * VOXEL_ML, abs=1e-3)
    assert (exams["mask_in_fov"] == 1).all()
    read_by_2 = cohort.index[cohort["baseline_mask_reader2"].notna()].tolist()
    assert sorted(exams.loc[exams["reader2"] == "yes", "patient_id"].unique()) == read_by_2
    assert exams.loc[exams["reader2"] == "yes", "reader2_dice"].between(0.3, 1).all()
    assert exams.loc[exams["reader2"] == "no", "reader2_dice"].isna().all()
    assert (exams["ring_ml"] > 0).all() and (exams["ring_ml"] <= exams["ring_geometric_ml"]).all()
    assert np.allclose(exams["ring_removed_share"], 1 - exams["ring_ml"] / exams["ring_geometric_ml"], atol=1e-3)
    assert (exams["air_threshold_from"] == "field-of-view edge").all()
    patients = pd.read_csv(out / "check_patients.csv", dtype={"patient_id": str})
    assert patients["patient_id"].tolist() == ["DR0001", "DR0002", "DR0003"]
    assert (patients["status"] != "left out").all()
    coding = pd.read_csv(out / "check_coding.csv", dtype=str)
    outcome = coding[coding["column"] == "outcome"].set_index("value")
    assert outcome.loc["1", "maps_to"] == "1 (ALN-pCR)" and outcome.loc["1", "patients"] == "2"
    assert outcome.loc["0", "maps_to"] == "0 (non-pCR)" and outcome.loc["0", "patients"] == "1"
    assert "exams: 6 checked" in result.output and "0 failing" in result.output
    assert "patients: 3, 0 would be left out" in result.output


def test_the_table_does_not_depend_on_the_workers(check_cohort, tmp_path):
    tables = []
    for workers in (0, 2):
        result, out = _check(check_cohort, tmp_path / f"out{workers}", workers=workers)
        assert result.exit_code == 0, result.output
        tables.append(pd.read_csv(out / "check.csv").drop(columns="seconds"))
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_ring_is_the_ring_extraction_builds(check_cohort):
    """The check's ring (no N4) has the voxels of extraction's peritumoral region, reader by reader."""
    study = load_study(check_cohort)
    cohort, _ = load_cohort_cases(study)
    settings = study.imaging.model_copy(update={"n4": False})
    for case_row in cohort.to_dict("records"):
        for timepoint in ("baseline", "early"):
            row = check_exam(case_row, timepoint, settings)
            regions = prepare_timepoint(case_row, timepoint, settings).regions
            voxels = {r: np.count_nonzero(sitk.GetArrayViewFromImage(regions["peritumoral", r])) for _, r in regions}
            assert row["ring_ml"] == pytest.approx(voxels[1] / 1000, abs=1e-9)  # 1 mm voxels
            if 2 in voxels:
                assert row["reader2_ring_ml"] == pytest.approx(voxels[2] / 1000, abs=1e-9)


def test_missing_mask_and_blank_clinical_value_exit_1_naming_them(cohort_copy, tmp_path):
    table = cohort_copy.parent / "cohort.csv"
    cohort = pd.read_csv(table, dtype={"patient_id": str})
    (cohort_copy.parent / cohort.loc[1, "baseline_mask"]).unlink()
    cohort.loc[2, "cea"] = np.nan
    cohort.to_csv(table, index=False)

    result, out = _check(cohort_copy, tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "patients: 3, 2 would be left out" in result.output
    assert "DR0002: baseline: file not found" in result.output
    assert "DR0003: no value of 'cea'" in result.output
    exams = pd.read_csv(out / "check.csv", dtype={"patient_id": str}).set_index(["patient_id", "timepoint"])
    assert exams.at[("DR0002", "baseline"), "status"] == "failed"
    assert "tumour_reader1.nrrd" in exams.at[("DR0002", "baseline"), "error"]
    assert exams.at[("DR0002", "early"), "status"] != "failed"  # one bad exam stops nothing else
    patients = pd.read_csv(out / "check_patients.csv", dtype={"patient_id": str}).set_index("patient_id")
    assert patients["status"].to_dict() == {
        "DR0001": patients.at["DR0001", "status"],
        "DR0002": "left out",
        "DR0003": "left out",
    }
    assert patients.at["DR0001", "status"] in {"ok", "warning"}
    assert patients.at["DR0003", "clinical_missing"] == "cea"


def test_outcome_values_the_cohort_refuses_are_listed_with_the_patient(cohort_copy, tmp_path):
    table = cohort_copy.parent / "cohort.csv"
    cohort = pd.read_csv(table, dtype=str)
    cohort.loc[0, "outcome"] = "yes"
    cohort.to_csv(table, index=False)

    result, out = _check(cohort_copy, tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "DR0001: cohort: column 'outcome' must be 0 or 1, got 'yes'" in result.output
    coding = pd.read_csv(out / "check_coding.csv", dtype=str)
    assert coding[(coding["column"] == "outcome") & (coding["value"] == "yes")]["maps_to"].tolist() == [
        "refused (patients left out)"
    ]
    exams = pd.read_csv(out / "check.csv", dtype={"patient_id": str})
    assert "DR0001" not in set(exams["patient_id"])  # a run leaves it out before reading its images


@pytest.mark.parametrize("content", ["cohort: cohort.csv\nimaging: {phse: 3}\n", "[not, a, mapping]\n", None])
def test_bad_study_file_is_one_line_and_exit_2(tmp_path, content):
    study = tmp_path / "study.yaml"
    if content is not None:
        study.write_text(content)
    result, _ = _check(study, tmp_path / "out")
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(study) in lines[0], result.output
    assert "Traceback" not in result.output and not (tmp_path / "out" / "check.csv").exists()


def test_out_naming_a_file_is_one_line_and_exit_2(check_cohort, tmp_path):
    (tmp_path / "taken").write_text("")
    result, _ = _check(check_cohort, tmp_path / "taken")
    assert result.exit_code == 2 and result.output.strip().startswith("error: file ") and "--out" in result.output
    assert "Traceback" not in result.output


def test_check_on_siemens_one_series_per_dynamic(shared_data, tmp_path):
    """Real Siemens XA30 DICOM, one series per dynamic, copied as a baseline and an early exam, with
    a 12 mm sphere drawn on the grid SimpleITK's own series reader gives series 7004 (dynamic 3)."""
    source = shared_data / "dicom-vendors" / "siemens-xa30-series-per-phase"
    for exam in ("baseline", "early"):
        for series in sorted(source.glob("700?_*")):
            shutil.copytree(series, tmp_path / "P1" / exam / series.name)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(source / "7004_func-bold_task-fa_run-1")))
    grid = reader.Execute()
    centre = np.array(grid.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in grid.GetSize()]))
    zyx = np.indices(grid.GetSize()[::-1]).reshape(3, -1).T
    points = (
        np.array(grid.GetOrigin())
        + zyx[:, ::-1] @ (np.array(grid.GetDirection()).reshape(3, 3) * np.array(grid.GetSpacing())).T
    )
    sphere = (np.linalg.norm(points - centre, axis=1) <= 12.0).reshape(grid.GetSize()[::-1]).astype(np.uint8)
    mask = sitk.GetImageFromArray(sphere)
    mask.CopyInformation(grid)
    sitk.WriteImage(mask, str(tmp_path / "P1" / "tumour.nrrd"))
    pd.DataFrame(
        [
            {
                "patient_id": pid,
                "outcome": outcome,
                "ultrasound": 0,
                "baseline_image": "P1/baseline",
                "early_image": "P1/early",
                "baseline_mask": "P1/tumour.nrrd",
                "early_mask": "P1/tumour.nrrd",
            }
            for pid, outcome in (("S1", 1), ("S2", 0))
        ]
    ).to_csv(tmp_path / "cohort.csv", index=False)
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({"cohort": "cohort.csv", "imaging": {"phase": 3}}))

    result, out = _check(study, tmp_path / "out")
    assert result.exit_code == 0, result.output
    exams = pd.read_csv(out / "check.csv", dtype={"patient_id": str})
    assert len(exams) == 4 and (exams["status"] != "failed").all(), exams["error"].tolist()
    assert (exams["size"] == "64x64x33").all() and (exams["spacing_mm"] == "3.375x3.375x3.4").all()
    assert (exams["image_files"] == 4 * 33).all()
    assert exams["mask_ml"].iloc[0] == pytest.approx(sphere.sum() * 3.375 * 3.375 * 3.4 / 1000, rel=1e-3)
    assert (exams["mask_in_fov"] == 1).all() and (exams["reader2"] == "no").all()
    assert (exams["ring_ml"] > 0).all()
    header = pydicom.dcmread(next((source / "7004_func-bold_task-fa_run-1").glob("*.dcm")), stop_before_pixels=True)
    identifiers = [
        "1.3.12.2.1107.5.2.43",
        str(header.PatientName),
        str(header.InstitutionName),
        header.StudyDate,
        header.PatientBirthDate,
    ]  # the UID root of every UID (and of the file names)
    written = result.output + "".join(p.read_text() for p in out.iterdir())
    assert [i for i in identifiers if i in written] == []


def test_share_inside_dice_and_volume_in_closed_form():
    image = sitk.Image([10, 10, 10], sitk.sitkUInt8)
    mask = sitk.Image([10, 10, 10], sitk.sitkUInt8) + 1
    mask.SetOrigin((5.0, 0.0, 0.0))  # voxel centres x = 5..14 mm, the image's field of view ends at 9.5
    assert share_inside(mask, image) == 0.5
    mask.SetSpacing((2.0, 1.0, 1.0))
    mask.SetOrigin((0.0, 0.0, 0.0))  # centres x = 0, 2, ..., 18: 0..8 inside
    assert share_inside(mask, image) == 0.5
    assert volume_ml(mask) == pytest.approx(2.0)  # 1,000 voxels of 2 mm^3
    x, y = np.zeros((10, 10, 10), np.uint8), np.zeros((10, 10, 10), np.uint8)
    x[:, :, 0:4], y[:, :, 2:8] = 1, 1  # 400 and 600 voxels, 200 shared
    assert dice(sitk.GetImageFromArray(x), sitk.GetImageFromArray(y)) == pytest.approx(2 * 200 / 1000)


def test_mask_partly_outside_the_field_of_view_is_a_warning_with_its_share(cohort_copy, tmp_path):
    cohort = pd.read_csv(cohort_copy.parent / "cohort.csv", dtype={"patient_id": str})
    path = cohort_copy.parent / cohort.loc[0, "early_mask"]
    mask = sitk.ReadImage(str(path))
    zyx = np.argwhere(sitk.GetArrayViewFromImage(mask))
    columns = zyx[:, 2]
    shift = 40 - int(np.median(columns))  # the lesion's median column moved onto the image's last edge
    moved = sitk.ReadImage(str(path))
    moved.SetOrigin(mask.TransformIndexToPhysicalPoint((shift, 0, 0)))
    sitk.WriteImage(moved, str(path))
    expected = float(np.mean(columns + shift <= 39))

    result, out = _check(cohort_copy, tmp_path / "out")
    exams = pd.read_csv(out / "check.csv", dtype={"patient_id": str}).set_index(["patient_id", "timepoint"])
    row = exams.loc[("DR0001", "early")]
    assert row["mask_in_fov"] == pytest.approx(expected, abs=1e-4) and 0.3 < expected < 0.8
    assert row["status"] == "warning"
    assert f"{100 * (1 - expected):.1f}% of the mask lies outside the image's field of view" in row["warnings"]
    assert "mask resampled onto the image" in row["warnings"]


def test_an_empty_ring_fails_the_exam_in_words(cohort_copy, tmp_path):
    study = yaml.safe_load(cohort_copy.read_text())
    study["imaging"]["air_threshold"] = 1e6  # every voxel is air
    cohort_copy.write_text(yaml.safe_dump(study))

    result, out = _check(cohort_copy, tmp_path / "out")
    assert result.exit_code == 1, result.output
    exams = pd.read_csv(out / "check.csv", dtype={"patient_id": str})
    assert (exams["status"] == "failed").all() and (exams["air_threshold_from"] == "study file").all()
    assert (
        exams["error"]
        .str.contains("reader 1: the peritumoral ring is empty once air, skin and chest wall are removed")
        .all()
    )
    assert "patients: 3, 3 would be left out" in result.output


def test_an_empty_early_mask_is_a_complete_early_response(cohort_copy, tmp_path):
    """check counts it as extraction does: left out of the radiomics models, said in words."""
    cohort = pd.read_csv(cohort_copy.parent / "cohort.csv", dtype={"patient_id": str})
    path = Path(cohort.loc[cohort["patient_id"] == "DR0002", "early_mask"].iat[0])
    path = path if path.is_absolute() else cohort_copy.parent / path
    mask = sitk.ReadImage(str(path))
    sitk.WriteImage(mask * 0, str(path))

    result, out = _check(cohort_copy, tmp_path / "out")
    assert result.exit_code == 1, result.output
    exams = pd.read_csv(out / "check.csv", dtype={"patient_id": str}).set_index(["patient_id", "timepoint"])
    assert exams.loc[("DR0002", "early"), "status"] == "failed"
    assert exams.loc[("DR0002", "early"), "error"].startswith("complete early response: the early tumour mask")
    assert exams.loc[("DR0002", "baseline"), "status"] != "failed"


def test_a_cohort_a_run_refuses_as_a_whole_exits_1_and_says_why(cohort_copy, tmp_path):
    table = cohort_copy.parent / "cohort.csv"
    cohort = pd.read_csv(table, dtype={"patient_id": str})
    cohort["outcome"] = 0
    cohort.to_csv(table, index=False)

    result, out = _check(cohort_copy, tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "study: a run stops: every usable patient has outcome = 0: a model needs both outcomes" in result.output
    assert len(pd.read_csv(out / "check.csv")) == 6  # the exams are still checked


#: Each vendor layout of ../shared/data/dicom-vendors and its dcm2niix reference (see its README).
VENDOR_LAYOUTS = {
    "ge-multiphase": ("ge-multiphase", "ge-multiphase/ref/fMRI_Multiphase_Des_2.nii"),
    "ge-mrdc-names": ("ge-mrdc-names", "ge-mrdc-names/ref/Ax_DWI_TENSOR_R2_1.nii"),
    "siemens-xa10-enhanced": ("siemens-xa10-enhanced", "siemens-xa10-enhanced/ref/Siemens_REST1_w_SMS_PF7-8_6.nii"),
    "siemens-xa30-series-per-phase": (
        "siemens-xa30-series-per-phase",
        "siemens-xa30-series-per-phase/ref/7001_func-bold_task-fa_run-1.nii",
    ),
    "philips-classic": ("philips-dynamics/classic", "philips-dynamics/ref/1903_WIP_SOURCE_-_3DpCASL_cl.nii.gz"),
    "philips-enhanced": ("philips-dynamics/enhanced", "philips-dynamics/ref/1903_WIP_SOURCE_-_3DpCASL_enh.nii.gz"),
}


def test_check_gives_every_vendor_layout_a_row_read_or_refused_in_words(shared_data, tmp_path):
    """Every layout is read (then with the reference's number of voxels) or refused in words, never
    with a bare exception name; one layout's failure stops none of the others. GE's `.MRDC.` series
    (several volumes per position, no temporal tag) is not a dynamic series: refused."""
    vendors = shared_data / "dicom-vendors"
    rows, voxels = [], {}
    for layout, (_folder, reference) in VENDOR_LAYOUTS.items():
        ref = sitk.ReadImage(str(vendors / reference))
        voxels[layout] = int(np.prod(ref.GetSize()[:3]))
        if ref.GetDimension() == 4:
            ref = sitk.Extract(ref, [*ref.GetSize()[:3], 0], [0, 0, 0, 0])
        block = np.zeros(ref.GetSize()[::-1], np.uint8)
        z, y, x = (n // 2 for n in block.shape)
        block[z - 1 : z + 2, y - 3 : y + 3, x - 3 : x + 3] = 1
        mask = sitk.GetImageFromArray(block)
        mask.CopyInformation(ref)
        sitk.WriteImage(mask, str(tmp_path / f"{layout}.nrrd"))
    # each layout is one patient's baseline and the previous patient's early exam (one folder at
    # both timepoints of a patient is refused as a copy-paste slip)
    layouts = list(VENDOR_LAYOUTS)
    read_at = {}
    for i, layout in enumerate(layouts):
        early = layouts[(i + 1) % len(layouts)]
        read_at[layout, "baseline"], read_at[layout, "early"] = layout, early
        rows.append(
            {
                "patient_id": layout,
                "outcome": len(rows) % 2,
                "ultrasound": 0,
                "baseline_image": str(vendors / VENDOR_LAYOUTS[layout][0]),
                "early_image": str(vendors / VENDOR_LAYOUTS[early][0]),
                "baseline_mask": f"{layout}.nrrd",
                "early_mask": f"{early}.nrrd",
            }
        )
    pd.DataFrame(rows).to_csv(tmp_path / "cohort.csv", index=False)
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({"cohort": "cohort.csv", "imaging": {"phase": 1}}))

    result, out = _check(study, tmp_path / "out")
    assert result.exit_code in (0, 1), result.output
    exams = pd.read_csv(out / "check.csv", dtype={"patient_id": str})
    assert sorted(exams["patient_id"].unique()) == sorted(VENDOR_LAYOUTS) and len(exams) == 2 * len(VENDOR_LAYOUTS)
    for r in exams.itertuples():
        if r.status == "failed":
            assert isinstance(r.error, str) and not re.match(r"^\w+(Error|Exception|Iteration)\b", r.error), r.error
        if isinstance(r.size, str):  # read
            assert np.prod([int(n) for n in r.size.split("x")]) == voxels[read_at[r.patient_id, r.timepoint]], r
    mrdc = [read_at[r.patient_id, r.timepoint] == "ge-mrdc-names" for r in exams.itertuples()]
    assert sum(mrdc) == 2 and (exams.loc[mrdc, "status"] == "failed").all()
