"""The written cohort reads back with the project's own loaders, pydicom and SimpleITK."""

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.errors import DeltaradError
from deltarad.synthetic import generate_cohort


def _phases(folder: str) -> dict[int, list[pydicom.Dataset]]:
    by_phase = defaultdict(list)
    for f in sorted(Path(folder).glob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.filename = str(f)
        by_phase[int(ds.TemporalPositionIdentifier)].append(ds)
    return by_phase


def _read_phase(datasets: list[pydicom.Dataset]) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    ordered = sorted(datasets, key=lambda d: float(d.ImagePositionPatient[2]))
    reader.SetFileNames([d.filename for d in ordered])
    return reader.Execute()


def test_study_file_validates_and_cohort_loads(tiny_cohort):
    study = load_study(tiny_cohort)
    cohort = load_cohort(study)
    assert list(cohort["patient_id"]) == ["DR0001", "DR0002", "DR0003", "DR0004"]
    assert set(study.categorical) <= set(study.clinical) <= set(cohort.columns)
    assert study.imaging.phase == 3
    for column in ("baseline_image", "early_image", "baseline_mask", "early_mask"):
        assert all(Path(p).exists() for p in cohort[column])
    raw = pd.read_csv(study.cohort_path, dtype=str, keep_default_na=False)
    assert not any(Path(p).is_absolute() for p in raw["baseline_image"])  # relative to cohort.csv
    assert (raw["baseline_mask_reader2"] != "").sum() == 2  # round(0.4 * 4)
    assert ((raw["baseline_mask_reader2"] != "") == (raw["early_mask_reader2"] != "")).all()


def test_dicom_phases_and_geometry_match_the_masks(tiny_cohort, tiny):
    cohort = load_cohort(load_study(tiny_cohort))
    for _, row in cohort.iterrows():
        for exam in ("baseline", "early"):
            by_phase = _phases(row[f"{exam}_image"])
            assert sorted(by_phase) == [1, 2, 3, 4]
            assert all(len(v) == tiny["shape"][2] for v in by_phase.values())
            trigger = [float(by_phase[p][0].TriggerTime) for p in sorted(by_phase)]
            assert trigger == sorted(trigger) and trigger[0] == 0
            assert len({d.SeriesInstanceUID for v in by_phase.values() for d in v}) == 1
            assert len({d.SOPInstanceUID for v in by_phase.values() for d in v}) == 4 * tiny["shape"][2]

            pre, post = _read_phase(by_phase[1]), _read_phase(by_phase[4])
            mask = sitk.ReadImage(row[f"{exam}_mask"])
            for image in (pre, post):
                assert image.GetSize() == mask.GetSize() == tiny["shape"]
                np.testing.assert_allclose(image.GetSpacing(), mask.GetSpacing(), atol=1e-4)
                np.testing.assert_allclose(image.GetOrigin(), mask.GetOrigin(), atol=1e-3)
                np.testing.assert_allclose(image.GetDirection(), mask.GetDirection(), atol=1e-6)
            np.testing.assert_allclose(mask.GetSpacing(), tiny["spacing_mm"], atol=1e-4)

            m = sitk.GetArrayFromImage(mask).astype(bool)
            pre_a, post_a = sitk.GetArrayFromImage(pre), sitk.GetArrayFromImage(post)
            assert m.sum() >= 5, row["patient_id"]
            assert set(np.unique(sitk.GetArrayFromImage(mask))) == {0, 1}
            # the tumour enhances, and lies in tissue (air is only Rician noise, ~10-30)
            assert post_a[m].mean() > 1.5 * pre_a[m].mean()
            assert pre_a[m].min() > 80
            assert pre_a[:, 0, :5].mean() < 40  # anterior corner: air


def test_headers_carry_no_identifiers(tiny_cohort):
    cohort = load_cohort(load_study(tiny_cohort))
    row = cohort.iloc[0]
    for f in sorted(Path(row["early_image"]).glob("*.dcm"))[::7]:
        ds = pydicom.dcmread(f)
        assert ds.PatientName == ds.PatientID == row["patient_id"]
        assert ds.PatientIdentityRemoved == "YES" and ds.PatientBirthDate == ""
        for elem in ds.iterall():
            if elem.VR == "PN":
                assert str(elem.value) in ("", row["patient_id"]), elem
            if elem.VR == "DA" and elem.value:
                assert str(elem.value).startswith("2000"), elem  # the fake calendar


def test_reader_two_differs_like_a_second_radiologist(tiny_cohort):
    cohort = load_cohort(load_study(tiny_cohort))
    dice = []
    for _, row in cohort.dropna(subset=["baseline_mask_reader2"]).iterrows():
        for exam in ("baseline", "early"):
            a = sitk.GetArrayFromImage(sitk.ReadImage(row[f"{exam}_mask"])).astype(bool)
            b = sitk.GetArrayFromImage(sitk.ReadImage(row[f"{exam}_mask_reader2"])).astype(bool)
            dice.append(2 * (a & b).sum() / (a.sum() + b.sum()))
    assert len(dice) == 4
    assert all(0.5 < d < 0.99 for d in dice), dice


def test_same_seed_same_bytes_whatever_the_workers_other_seed_other_pixels(tmp_path, tiny):
    args = dict(n_patients=2, reader2_fraction=0.0, **tiny)
    a = generate_cohort(tmp_path / "a", seed=5, workers=1, **args).parent
    b = generate_cohort(tmp_path / "b", seed=5, workers=2, **args).parent
    c = generate_cohort(tmp_path / "c", seed=6, workers=1, **args).parent
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 2 + 2 * 2 * (4 * tiny["shape"][2] + 1)  # study, cohort; per exam DICOMs + reader 1 mask
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    first = Path("patients/DR0001/baseline/DCE/IM00030.dcm")
    assert pydicom.dcmread(a / first).PixelData != pydicom.dcmread(c / first).PixelData


def test_centres_get_a_column_and_their_own_scanner(tmp_path, tiny):
    study = generate_cohort(tmp_path, n_patients=3, seed=1, centres=2, centre_effect=1.0, **tiny)
    cohort = pd.read_csv(load_study(study).cohort_path)
    assert set(cohort["centre"]) <= {"C1", "C2"}
    manufacturers = {
        row.centre: pydicom.dcmread(next((tmp_path / row.baseline_image).glob("*.dcm"))).Manufacturer
        for row in cohort.itertuples()
    }
    assert len(set(manufacturers.values())) == len(manufacturers)


@pytest.mark.parametrize(
    "bad",
    [{"reader2_fraction": 1.5}, {"n_phases": 1}, {"shape": (8, 8, 2)}, {"n_patients": 0}, {"effect": -1}],
)
def test_bad_arguments_are_named(tmp_path, tiny, bad):
    args = dict(n_patients=1, **tiny) | bad
    with pytest.raises(DeltaradError, match=next(iter(bad)).split("_")[0]):
        generate_cohort(tmp_path, **args)
