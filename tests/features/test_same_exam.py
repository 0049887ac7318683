"""Silent inputs at the image level: one exam given at two timepoints (every delta would be 0),
and non-finite voxels (as registration tools write outside their field)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from deltarad.cohort import read_cohort, same_image_problems
from deltarad.config import ImagingSettings, Study
from deltarad.errors import CaseError
from deltarad.features.extract import extract_cohort, read_exam_images
from deltarad.imaging.phantom import breast_phantom
from deltarad.parallel import ParallelSettings


def test_same_image_path_at_two_timepoints_is_refused_for_that_patient(tmp_path):
    (tmp_path / "exams").mkdir()
    rows = [
        {
            "patient_id": "A",
            "outcome": 1,
            "ultrasound": 0,
            "baseline_image": "exams/a0.nrrd",
            "early_image": "exams/../exams/a0.nrrd",
        },  # the same file spelled twice
        {
            "patient_id": "B",
            "outcome": 0,
            "ultrasound": 1,
            "baseline_image": "exams/dicom",
            "early_image": "exams/dicom",
            "baseline_series": 5,
            "early_series": 9,
        },  # one folder, two series: fine
        {
            "patient_id": "C",
            "outcome": 1,
            "ultrasound": 0,
            "baseline_image": "exams/c0.nrrd",
            "early_image": "exams/c1.nrrd",
        },
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "cohort.csv", index=False)
    cohort = read_cohort(Study(cohort=tmp_path / "cohort.csv", base_dir=tmp_path))
    assert list(cohort.cases["patient_id"]) == ["B", "C"]
    assert cohort.failures.to_dict("records") == [
        {
            "patient_id": "A",
            "stage": "cohort",
            "error": f"the baseline and early exams are the same image {tmp_path / 'exams' / 'a0.nrrd'}: a copy-paste "
            "slip? every delta would be 0; give each timepoint its own exam (a folder holding both: name each "
            "one's series in <timepoint>_series)",
        }
    ]


def test_every_pair_of_timepoints_is_compared():
    df = pd.DataFrame(
        [
            {"patient_id": "D", "baseline_image": "/x/d0", "early_image": "/x/d1", "late_image": "/x/d0"},
            {
                "patient_id": "E",
                "baseline_image": "/x/e",
                "early_image": "/x/e",
                "baseline_series": "7",
                "early_series": "7",
            },
        ]
    )
    problems = same_image_problems(df)
    assert problems["D"].startswith("the baseline and late exams are the same image /x/d0: ")
    assert problems["E"].startswith("the baseline and early exams are the same image /x/e (series 7): ")


@pytest.fixture()
def small_params(tmp_path):
    path = tmp_path / "first.yaml"
    path.write_text(
        yaml.safe_dump(
            {"imageType": {"Original": {}}, "featureClass": {"firstorder": None}, "setting": {"binWidth": 25}}
        )
    )
    return path


def test_same_voxels_under_two_file_names_are_refused_in_extraction(tmp_path, small_params):
    """A copy of the baseline exam (another file name and format) given as the early exam."""
    rows = []
    for pid, seed in (("S1", 0), ("S2", 1)):
        for timepoint, radius in (("baseline", 6.0), ("early", 5.0)):
            image, mask = breast_phantom(
                size=(48, 48, 12), tumour_radius_mm=radius, seed=seed + 10 * (timepoint == "early")
            )
            sitk.WriteImage(image, str(tmp_path / f"{pid}_{timepoint}.nrrd"))
            sitk.WriteImage(mask, str(tmp_path / f"{pid}_{timepoint}_mask.nrrd"))
        rows.append(
            {
                "patient_id": pid,
                **{
                    f"{tp}_{kind}": str(tmp_path / f"{pid}_{tp}{suffix}.nrrd")
                    for tp in ("baseline", "early")
                    for kind, suffix in (("image", ""), ("mask", "_mask"))
                },
            }
        )
    copy = tmp_path / "S1_early_copy.nii.gz"
    sitk.WriteImage(sitk.ReadImage(rows[0]["baseline_image"]), str(copy))
    rows[0]["early_image"] = str(copy)
    study = Study(
        cohort=tmp_path / "cohort.csv", base_dir=tmp_path, imaging=ImagingSettings(n4=False, params=small_params)
    )
    features, failures = extract_cohort(
        study, pd.DataFrame(rows), tmp_path / "out", progress=False, parallel=ParallelSettings(workers=0)
    )
    assert failures.to_dict("records") == [
        {
            "patient_id": "S1",
            "stage": "extract",
            "error": f"the baseline and early images hold the same voxels ({rows[0]['baseline_image']} and {copy}): one "
            "exam given twice? every delta would be 0",
        }
    ]
    assert set(features["patient_id"]) == {"S2"}
    assert "image_sha256" not in features.columns
    # a store written before the fingerprint existed: its entries are extracted again, the slip still caught
    import pyarrow.parquet as pq

    for entry in (tmp_path / "out" / "store").glob("*.parquet"):
        table = pq.read_table(entry)
        pq.write_table(table.drop_columns(["image_sha256"]), entry)
    again, failures_again = extract_cohort(
        study, pd.DataFrame(rows), tmp_path / "out", progress=False, parallel=ParallelSettings(workers=0)
    )
    assert failures_again.to_dict("records") == failures.to_dict("records")
    assert all("image_sha256" in pq.read_table(e).column_names for e in (tmp_path / "out" / "store").glob("*.parquet"))


def _with_nan_slab(image: sitk.Image, x_from: int, x_to: int) -> sitk.Image:
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    array[:, :, x_from:x_to] = np.nan
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    return out


def test_non_finite_voxels_in_a_region_or_its_ring_refuse_the_exam():
    image, mask = breast_phantom(size=(48, 48, 12), spacing_mm=(1.0, 1.0, 2.0), tumour_radius_mm=5.0)
    box = sitk.LabelShapeStatisticsImageFilter()
    box.Execute(mask)
    x0, _, _, width, _, _ = box.GetBoundingBox(1)
    through = _with_nan_slab(image, x0 + width // 2, x0 + width // 2 + 2)  # a slab through the tumour
    with pytest.raises(CaseError) as err:
        read_exam_images(through, {1: mask}, ImagingSettings(), patient="N1")
    slab = 2 * 48 * 12
    inside = int(np.count_nonzero(sitk.GetArrayFromImage(mask)[:, :, x0 + width // 2 : x0 + width // 2 + 2]))
    assert str(err.value).startswith(
        f"patient N1: the image holds {slab} non-finite voxels (NaN/inf, as registration "
        f"tools write outside their field): {inside} inside reader 1's tumour mask and "
    )
    assert "within 3 mm of it (the peritumoral ring's reach); features would be computed on undefined values" in str(
        err.value
    )
    near = _with_nan_slab(image, x0 + width + 1, x0 + width + 2)  # 2 mm beyond the tumour's edge: in the ring's reach
    with pytest.raises(CaseError, match=f"{48 * 12} non-finite voxels .*: 0 inside reader 1's tumour mask and "):
        read_exam_images(near, {1: mask}, ImagingSettings(), patient="N1")


def test_non_finite_voxels_beyond_every_region_are_set_to_the_lowest_value_with_a_note():
    image, mask = breast_phantom(size=(48, 48, 12), spacing_mm=(1.0, 1.0, 2.0), tumour_radius_mm=5.0)
    edge = _with_nan_slab(image, 0, 3)  # the field's edge, far from the tumour
    array = sitk.GetArrayFromImage(edge)
    array[0, 0, 0] = np.inf
    edge = sitk.GetImageFromArray(array)
    edge.CopyInformation(image)
    exam = read_exam_images(edge, {1: mask}, ImagingSettings(), patient="N2")
    values = sitk.GetArrayFromImage(exam.image)
    lowest = float(np.nanmin(np.where(np.isfinite(array), array, np.nan)))
    assert np.isfinite(values).all()
    assert np.all(values[:, :, :3] == lowest)
    assert np.array_equal(values[:, :, 3:], array[:, :, 3:])
    assert (
        f"{3 * 48 * 12} non-finite voxels (NaN/inf) beyond every region's reach set to the image's lowest finite "
        f"value {lowest:.6g}, as background" in exam.notes
    )


def test_check_applies_the_same_rule_to_non_finite_voxels(tmp_path):
    from deltarad.preflight import check_exam

    image, mask = breast_phantom(size=(48, 48, 12), spacing_mm=(1.0, 1.0, 2.0), tumour_radius_mm=5.0)
    sitk.WriteImage(mask, str(tmp_path / "mask.nrrd"))
    sitk.WriteImage(_with_nan_slab(image, 0, 3), str(tmp_path / "edge.nrrd"))
    box = sitk.LabelShapeStatisticsImageFilter()
    box.Execute(mask)
    x0 = box.GetBoundingBox(1)[0]
    sitk.WriteImage(_with_nan_slab(image, x0 + 2, x0 + 4), str(tmp_path / "through.nrrd"))
    row = {"patient_id": "N3", "baseline_mask": str(tmp_path / "mask.nrrd")}
    edge = check_exam({**row, "baseline_image": str(tmp_path / "edge.nrrd")}, "baseline", ImagingSettings())
    assert edge["status"] == "warning" and "non-finite voxels (NaN/inf) beyond every region's reach" in edge["warnings"]
    through = check_exam({**row, "baseline_image": str(tmp_path / "through.nrrd")}, "baseline", ImagingSettings())
    assert through["status"] == "failed" and "inside reader 1's tumour mask" in through["error"]
