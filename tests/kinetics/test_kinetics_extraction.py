"""The kinetics stage inside extraction: kinetics.csv, the notes naming the chosen phases, ΔFTV and
volume change joined as cohort variables, a kinetic map as the analysed image (its features equal
PyRadiomics on the same map), and the refusals of unknown or disagreeing phase times, in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.cohort import load_cohort
from deltarad.config import ImagingSettings, Study
from deltarad.design import Design, ImageSpec
from deltarad.features.extract import extract_timepoint, load_extractor
from deltarad.report.sections.kinetics import delong_against, kinetic_references
from deltarad.study_tables import table3_models
from deltarad.synthetic import generate_cohort
from deltarad.workflow import extract_features, with_kinetics

SHAPE = (25, 25, 25)
TIMES = [
    0,
    90,
    180,
    270,
    360,
    450,
]  # I-SPY's rule: early phase 2, late phase 5 (tests/kinetics/test_kinetics_timing.py)
SPHERE_CURVE = [100, 150, 200, 195, 190, 180]  # PE 100 % at phase 2, SER 1.25
BACKGROUND_CURVE = [100, 130, 150, 150, 150, 150]  # PE 50 %: never in the FTV
PARAMS = {
    "imageType": {"Original": {}},
    "featureClass": {"firstorder": None, "shape": None, "glcm": None},
    "setting": {"binWidth": 5},
}


def ball(radius: float) -> np.ndarray:
    z, y, x = np.indices(SHAPE)
    return (z - 12) ** 2 + (y - 12) ** 2 + (x - 12) ** 2 <= radius**2


def write_exam(folder: Path, name: str, radius: float, seed: int, noisy_tumour: bool = False) -> tuple[str, str]:
    """A 4-D NIfTI exam (1 mm voxels) of a sphere of `radius` mm in a background, with a little
    noise outside the sphere (inside too where `noisy_tumour`) and a corner of zero signal
    (undefined PE), and its mask."""
    rng = np.random.default_rng(seed)
    sphere = ball(radius)
    noise = rng.normal(0, 2.0, SHAPE)
    phases = []
    for inside, outside in zip(SPHERE_CURVE, BACKGROUND_CURVE):
        a = outside + noise
        a[sphere] = inside + rng.normal(0, 3.0, sphere.sum()) * noisy_tumour
        a[:3, :3, :3] = 0  # air: S0 = 0, PE undefined
        phases.append(a.astype(np.float32))
    image = sitk.JoinSeries([sitk.GetImageFromArray(p) for p in phases])
    image.SetSpacing((1.0, 1.0, 1.0, 1.0))
    mask = sitk.GetImageFromArray(sphere.astype(np.uint8))
    sitk.WriteImage(image, str(folder / f"{name}.nii.gz"))
    sitk.WriteImage(mask, str(folder / f"{name}_mask.nrrd"))
    return str(folder / f"{name}.nii.gz"), str(folder / f"{name}_mask.nrrd")


@pytest.fixture(scope="module")
def closed_form(tmp_path_factory) -> Path:
    """Two patients; baseline sphere of radius 8 mm, early of radius 6 mm (P2's early exam 5 mm)."""
    folder = tmp_path_factory.mktemp("closed")
    rows = []
    for pid, early_radius in (("P1", 6.0), ("P2", 5.0)):
        row = {"patient_id": pid, "outcome": int(pid == "P1"), "ultrasound": 0}
        for timepoint, radius, seed in (("baseline", 8.0, 0), ("early", early_radius, 1)):
            row[f"{timepoint}_image"], row[f"{timepoint}_mask"] = write_exam(folder, f"{pid}_{timepoint}", radius, seed)
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "cohort.csv", index=False)
    (folder / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    return folder


def study_file(folder: Path, kinetics: dict, **extra) -> Path:
    study = {"cohort": "cohort.csv", "imaging": {"n4": False, "params": "params.yaml"}, "kinetics": kinetics, **extra}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def test_extract_writes_kinetics_notes_and_the_kinetic_variables(closed_form, tmp_path):
    path = study_file(closed_form, {"times_s": TIMES})
    result = CliRunner().invoke(app, ["extract", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    kinetics = pd.read_csv(tmp_path / "out" / "kinetics.csv", dtype={"patient_id": str})
    assert list(kinetics.columns) == [
        "patient_id",
        "timepoint",
        "reader",
        "pre_phase",
        "early_phase",
        "late_phase",
        "ftv_ml",
        "pe_peak",
        "ttp_s",
        "share_persistent",
        "share_plateau",
        "share_washout",
    ]
    first = (tmp_path / "out" / "kinetics.csv").read_bytes()
    again = CliRunner().invoke(app, ["extract", str(path), "--out", str(tmp_path / "out")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "out" / "kinetics.csv").read_bytes() == first  # from the store: kinetics are cached too
    assert len(list((tmp_path / "out" / "store").glob("*.parquet"))) == 2 * 4  # features and kinetics per exam
    got = {(r.patient_id, r.timepoint): r for r in kinetics.itertuples()}
    # every sphere voxel passes (S0 = P95, PE 100 %, SER 1.25); 1 mm voxels: FTV = the voxel count / 1000 mL
    for (pid, timepoint), radius in {("P1", "baseline"): 8, ("P1", "early"): 6, ("P2", "early"): 5}.items():
        assert got[pid, timepoint].ftv_ml == pytest.approx(ball(radius).sum() / 1000), (pid, timepoint)
        assert (got[pid, timepoint].early_phase, got[pid, timepoint].late_phase) == (2, 5)
    notes = pd.read_csv(tmp_path / "out" / "extraction_notes.csv", dtype={"patient_id": str})
    kinetic_notes = notes[notes["note"].str.contains("kinetics:")]
    assert len(kinetic_notes) == 4
    note = kinetic_notes["note"].iloc[0]
    assert "6 phases timed [0, 90, 180, 270, 360, 450] s, from kinetics.times_s" in note
    assert "early phase 2 (135 s after injection, nearest 150 s)" in note
    assert "late phase 5 (405 s after injection, nearest 450 s)" in note
    deltas = pd.read_csv(tmp_path / "out" / "kinetics_deltas.csv", dtype={"patient_id": str}).set_index("patient_id")
    n8, n6, n5 = ball(8).sum(), ball(6).sum(), ball(5).sum()
    assert deltas.loc["P1", "delta_ftv"] == pytest.approx((n6 - n8) / n8)
    assert deltas.loc["P2", "delta_ftv"] == pytest.approx((n5 - n8) / n8)
    # the masks are the spheres and the grid stays 1 mm: the voxel volume changes as the FTV does
    assert deltas.loc["P1", "volume_change"] == pytest.approx((n6 - n8) / n8)
    # the QC image shades reader 1's FTV voxels magenta (half over the grey image)
    from matplotlib.image import imread

    rgb = imread(tmp_path / "out" / "regions" / "P1" / "qc_baseline.png")[..., :3]
    shaded = (rgb[..., 0] - rgb[..., 1] > 0.3) & (rgb[..., 2] - rgb[..., 1] > 0.3)
    assert shaded.sum() > 100
    study = Study.from_settings(
        {"kinetics": {"times_s": TIMES}, "design": {"references": ["ultrasound", "delta_ftv_early"]}}
    )
    features = pd.read_csv(tmp_path / "out" / "features.csv", dtype={"patient_id": str})
    cohort, failures = with_kinetics(
        study, pd.read_csv(closed_form / "cohort.csv"), features, kinetics, tmp_path / "again"
    )
    assert cohort.loc[cohort.patient_id == "P2", "delta_ftv_early"].item() == pytest.approx((n5 - n8) / n8)
    assert "volume_change_early" in cohort.columns and failures.empty
    # a patient without ΔFTV (here: P2's early kinetics missing) is left out of a model that uses it, in words
    cohort, failures = with_kinetics(
        study,
        pd.read_csv(closed_form / "cohort.csv"),
        features,
        kinetics[~((kinetics.patient_id == "P2") & (kinetics.timepoint == "early"))],
        tmp_path / "again",
    )
    assert list(cohort["patient_id"]) == ["P1"]
    assert failures.to_dict("records") == [
        {
            "patient_id": "P2",
            "stage": "kinetics",
            "error": "no value of delta_ftv_early (a reference model's; see kinetics.csv and extraction_failures.csv)",
        }
    ]


def test_kinetic_variables_can_be_references(closed_form):
    study = Study.from_settings(
        {"kinetics": {}, "design": {"references": ["ultrasound", "delta_ftv_early", "volume_change_early"]}}
    )
    assert [r.columns for r in study.design.references] == [
        ("ultrasound",),
        ("delta_ftv_early",),
        ("volume_change_early",),
    ]
    # Table 3 evaluates them beside the radscores; the report's "Beyond ΔFTV and shrinkage" finds them
    assert {"delta_ftv_early", "volume_change_early"} <= set(table3_models(study.design))
    assert kinetic_references(study.design) == ["delta_ftv_early", "volume_change_early"]


def test_delong_of_each_radscore_against_the_kinetic_references():
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    predictions = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(40)],
            "set": "validation",
            "outcome": y,
            "radscore": y + rng.normal(0, 0.8, 40),
            "delta_ftv_early": y + rng.normal(0, 2, 40),
        }
    )
    predictions["copy"] = predictions["radscore"]
    table = delong_against(predictions, "outcome", ["radscore"], ["delta_ftv_early", "copy"])
    assert table["radscore_auc"].iloc[0] == pytest.approx(roc_auc_score(y, predictions["radscore"]))
    assert table["reference_auc"].iloc[0] == pytest.approx(roc_auc_score(y, predictions["delta_ftv_early"]))
    assert table["delong_p"].iloc[1] == 1.0 and table["n"].tolist() == [40, 40]


def test_unknown_phase_times_cost_the_kinetics_not_the_features(closed_form, tmp_path):
    study = Study.model_validate(
        {
            "cohort": "cohort.csv",
            "imaging": {"n4": False, "params": "params.yaml"},
            "kinetics": {},
            "base_dir": closed_form,
        }
    )
    cohort = pd.read_csv(closed_form / "cohort.csv", dtype={"patient_id": str})
    extraction = extract_features(study, cohort, tmp_path / "out", progress=False)
    assert len(extraction.features) == 2 * 2 * 2  # every exam keeps its features (2 regions)
    assert extraction.kinetics is not None and extraction.kinetics.empty
    failures = extraction.failures
    assert set(failures["stage"]) == {"kinetics"} and len(failures) == 4
    assert "the phase times are unknown (no times in the headers and no kinetics.times_s)" in failures["error"].iloc[0]


def test_header_times_and_study_file_times_that_disagree_are_refused_in_words(tmp_path):
    folder = tmp_path / "cohort"
    generate_cohort(
        folder, n_patients=1, seed=5, shape=(48, 48, 16), spacing_mm=(1.2, 1.2, 2.0), workers=1, tissue_kinetics=True
    )
    (folder / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    base = {"cohort": "cohort.csv", "imaging": {"n4": False, "params": str(folder / "params.yaml")}, "base_dir": folder}
    agree = Study.model_validate({**base, "kinetics": {}})
    cohort = load_cohort(agree, require_outcome=False)
    extraction = extract_features(agree, cohort, tmp_path / "agree", progress=False)
    assert extraction.failures.empty, extraction.failures
    note = extraction.notes.loc[extraction.notes["note"].str.contains("kinetics:"), "note"].iloc[0]
    assert "7 phases timed [0, 80, 160, 240, 320, 400, 480] s, from the DICOM headers" in note
    assert "early phase 2" in note and "late phase 6" in note
    assert set(extraction.kinetics["timepoint"]) == {"baseline", "early"}
    # the features of an exam whose phases were read once for kinetics and radiomics are the same
    plain = extract_features(Study.model_validate(base), cohort, tmp_path / "plain", progress=False).features
    pd.testing.assert_frame_equal(extraction.features, plain)
    disagree = Study.model_validate({**base, "kinetics": {"times_s": [0, 90, 180, 270, 360, 450, 540]}})
    failures = extract_features(disagree, cohort, tmp_path / "disagree", progress=False).failures
    assert set(failures["stage"]) == {"kinetics"}
    assert (
        "the DICOM headers time the phases at [0, 80, 160, 240, 320, 400, 480] s but kinetics.times_s says "
        "[0, 90, 180, 270, 360, 450, 540] s"
    ) in failures["error"].iloc[0]


def test_pe_map_features_equal_pyradiomics_on_the_same_map(closed_form, tmp_path):
    image_path, mask_path = write_exam(tmp_path, "noisy", 8.0, 4, noisy_tumour=True)
    row = {"patient_id": "P8", "baseline_image": image_path, "baseline_mask": mask_path}
    settings = ImagingSettings(n4=False, resample_mm=None, params=closed_form / "params.yaml")
    design = Design(image=ImageSpec(map="pe"))
    study = Study.from_settings({"kinetics": {"times_s": TIMES}})
    records = extract_timepoint(row, "baseline", settings, design=design, kinetics=study.kinetics)
    ours = records[0]
    assert ours["region"] == "intratumoral"
    assert "27 voxel(s) of the pe map undefined (a ratio over a zero signal) set to 0" in ours["notes"]
    # the PE map computed here, from the phases the rule chooses (0, 2): 100 (S1 - S0) / S0, undefined (S0 = 0) -> 0
    phases = sitk.GetArrayFromImage(sitk.ReadImage(row["baseline_image"])).astype(np.float64)
    s0, s1 = phases[0], phases[2]
    pe = np.zeros_like(s0)
    np.divide(100 * (s1 - s0), s0, out=pe, where=s0 != 0)
    image = sitk.GetImageFromArray(pe.astype(np.float32))
    mask = sitk.ReadImage(row["baseline_mask"])
    image.CopyInformation(mask)
    theirs = load_extractor(closed_form / "params.yaml").execute(image, mask)
    names = [k for k in theirs if not k.startswith("diagnostics_")]
    assert len(names) > 30
    for name in names:
        assert ours[name] == pytest.approx(float(np.real(theirs[name])), rel=1e-6, abs=1e-9), name


def test_a_map_undefined_in_the_tumour_is_refused(closed_form, tmp_path):
    from deltarad.errors import StageError

    image_path, mask_path = write_exam(tmp_path, "dark", 8.0, 3)
    image = sitk.ReadImage(image_path)
    a = sitk.GetArrayFromImage(image)
    a[0, 10:14, 10:14, 10:14] = 0  # S0 = 0 in 64 of the tumour's 2109 voxels
    dark = sitk.GetImageFromArray(a, isVector=False)
    dark.CopyInformation(image)
    sitk.WriteImage(dark, image_path)
    row = {"patient_id": "P9", "baseline_image": image_path, "baseline_mask": mask_path}
    settings = ImagingSettings(n4=False, resample_mm=None, params=closed_form / "params.yaml")
    with pytest.raises(StageError, match=r"the pe map is undefined in 3\.0% of reader 1's tumour voxels"):
        extract_timepoint(
            row,
            "baseline",
            settings,
            design=Design(image=ImageSpec(map="pe")),
            kinetics=Study.from_settings({"kinetics": {"times_s": TIMES}}).kinetics,
        )


def test_the_kinetics_demo_study_file(tmp_path):
    from deltarad.config import load_study
    from deltarad.synthetic.cohort import add_kinetics

    path = generate_cohort(
        tmp_path / "cohort", n_patients=2, seed=1, shape=(32, 32, 8), workers=1, tissue_kinetics=True
    )
    add_kinetics(path)
    study = load_study(path)
    assert study.kinetics is not None and study.kinetics.times_s is None  # the DICOM headers time the phases
    assert [r.columns[0] for r in study.design.references] == ["ultrasound", "delta_ftv_early", "volume_change_early"]
    assert path.read_text().startswith("# Synthetic cohort")
    assert len(load_cohort(study)) == 2  # the kinetic columns are derived at extraction, not looked for in the file


def test_the_demo_closing_note_gives_validation_aucs():
    from deltarad.commands.demo import validation_aucs

    table3 = pd.DataFrame(
        {
            "set": ["training", "validation", "validation"],
            "model": ["radscore_dir"] + ["radscore_dir", "delta_ftv_early"],
            "auc": [0.9, 0.812, 0.634],
        }
    )
    assert validation_aucs(table3) == "radscore_dir 0.81, delta_ftv_early 0.63"


def test_one_file_per_phase_gives_the_kinetics_of_the_4d_file(closed_form, tmp_path):
    """The closed-form exams again, each split into a folder of case_0000.nii.gz ... (the phase
    order in the names' numbers), timed by kinetics.times_s: the same kinetics.csv."""
    cohort = pd.read_csv(closed_form / "cohort.csv", dtype={"patient_id": str})
    for column in ("baseline_image", "early_image"):
        for i, path in enumerate(cohort[column]):
            four = sitk.ReadImage(path)
            folder = tmp_path / "phases" / Path(path).name.removesuffix(".nii.gz")
            folder.mkdir(parents=True)
            for k in range(four.GetSize()[3]):
                sitk.WriteImage(four[:, :, :, k], str(folder / f"case_{k:04d}.nii.gz"))
            cohort.loc[i, column] = str(folder)
    study = Study.model_validate(
        {
            "cohort": "cohort.csv",
            "imaging": {"n4": False, "params": "params.yaml"},
            "kinetics": {"times_s": TIMES},
            "base_dir": closed_form,
        }
    )
    split = extract_features(study, cohort, tmp_path / "split", progress=False)
    whole_cohort = pd.read_csv(closed_form / "cohort.csv", dtype={"patient_id": str})
    whole = extract_features(study, whole_cohort, tmp_path / "whole", progress=False)
    assert split.failures.empty, split.failures
    assert split.kinetics is not None and whole.kinetics is not None
    pd.testing.assert_frame_equal(split.kinetics, whole.kinetics)
    pd.testing.assert_frame_equal(split.features, whole.features)
    note = split.notes.loc[split.notes["note"].str.contains("kinetics:"), "note"].iloc[0]
    assert "one file per phase: 6 phases case_0000.nii.gz..case_0005.nii.gz" in note
    assert "6 phases timed [0, 90, 180, 270, 360, 450] s, from kinetics.times_s" in note
