"""Air, skin and the peritumoral ring on generated exams read through `prepare_timepoint`: the
air threshold from the field-of-view edge, air reached from the edge only, the shares of the
geometric shell each exclusion removed, and a nearly empty ring refused in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from deltarad.config import ImagingSettings
from deltarad.errors import CaseError
from deltarad.features.extract import CompleteEarlyResponse, extract_timepoint, prepare_timepoint
from deltarad.imaging.air import air_mask, estimate_air_threshold
from deltarad.imaging.preprocess import otsu_threshold
from deltarad.imaging.regions import ring

SHAPE = (12, 48, 48)  # z, y, x voxels
ISO = ImagingSettings(n4=False, resample_mm=None)  # regions on the exam's own 1 mm grid


def grid(shape=SHAPE):
    return np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")


def ball(centre, radius, shape=SHAPE):
    z, y, x = grid(shape)
    return np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) <= radius


def write_exam(folder: Path, image: np.ndarray, tumour: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (("image", image.astype(np.float32)), ("mask", tumour.astype(np.uint8))):
        im = sitk.GetImageFromArray(array)
        im.SetSpacing(spacing)
        sitk.WriteImage(im, str(folder / f"{name}.nrrd"))
    return {
        "patient_id": "P1",
        "baseline_image": str(folder / "image.nrrd"),
        "baseline_mask": str(folder / "mask.nrrd"),
    }


def noise(shape, sigma, seed=0):
    return np.random.default_rng(seed).normal(0, sigma, shape)


def test_little_air_keeps_the_tissue_and_the_exam_extracts(tmp_path):
    """Tissue 300, tumour 800, a 1-voxel air margin: Otsu on the whole image lands between tissue
    and tumour (the old rule took the tissue as air); the edge rule takes the margin only."""
    shape = (18, 40, 40)
    margin = np.ones(shape, bool)
    margin[:, 1:-1, 1:-1] = False
    tumour = ball((9, 20, 20), 7, shape)
    image = np.where(margin, np.abs(noise(shape, 4)), np.where(tumour, 800, 300) + noise(shape, 10, 1))
    old_threshold = otsu_threshold(sitk.GetImageFromArray(image.astype(np.float32)))
    assert old_threshold > 300 and np.mean(image < old_threshold) > 0.9
    row = write_exam(tmp_path, image, tumour)
    exam = prepare_timepoint(row, "baseline", ISO)
    stats = exam.ring_stats[1]
    assert stats["air_threshold"] < 40  # |N(0, 4)| air: median 2.7, 5 robust sigma above it
    air = sitk.GetArrayFromImage(air_mask(sitk.ReadImage(row["baseline_image"]), stats["air_threshold"])).astype(bool)
    assert not (air & ~margin).any() and air.sum() >= 0.99 * margin.sum()  # noise above the threshold may join the body
    assert stats["kept_share"] == 1.0 and stats["air_share"] == stats["skin_share"] == 0.0
    assert (
        stats["ring_voxels_geometric"]
        == sitk.GetArrayFromImage(ring(sitk.GetImageFromArray(tumour.astype(np.uint8)), 3.0)).sum()
    )
    assert any(n.startswith("air threshold") and "field-of-view edge" in n for n in exam.notes)
    records = extract_timepoint(row, "baseline", ISO)
    peri = next(r for r in records if r["region"] == "peritumoral")
    assert peri["original_shape_VoxelVolume"] == pytest.approx(stats["ring_ml"] * 1000)


def test_dark_fat_around_the_tumour_is_kept_in_the_ring(tmp_path):
    """Fat-suppressed: fat at 40 around the tumour, body at 400, air at ~5 outside: the fat is
    inside the body, so it stays in the ring (the old Otsu threshold took it as air)."""
    z, y, x = grid()
    body = ((y - 24) / 20) ** 2 + ((x - 24) / 20) ** 2 <= 1
    tumour = ball((6, 24, 24), 4)
    fat = ball((6, 24, 24), 9) & ~tumour
    image = np.where(body, np.where(tumour, 800, np.where(fat, 40, 400)) + noise(SHAPE, 4, 1), np.abs(noise(SHAPE, 4)))
    assert np.any(image[fat] < otsu_threshold(sitk.GetImageFromArray(image.astype(np.float32))))
    threshold = estimate_air_threshold(sitk.GetImageFromArray(image.astype(np.float32)))
    assert threshold.value is not None and threshold.value < 40
    exam = prepare_timepoint(write_exam(tmp_path, image, tumour), "baseline", ISO)
    stats = exam.ring_stats[1]
    assert stats["kept_share"] == 1.0 and stats["air_share"] == 0.0
    region = sitk.GetArrayFromImage(exam.regions["peritumoral", 1]).astype(bool)
    assert region.any() and np.all(fat[region])  # the 3 mm ring lies in the fat, all of it kept
    assert abs(image[region].mean() - 40) < 1
    # a user threshold above the fat: still not air, as no path of dark voxels joins it to the edge
    user = prepare_timepoint(
        write_exam(tmp_path, image, tumour), "baseline", ISO.model_copy(update={"air_threshold": 100.0})
    )
    assert user.ring_stats[1]["air_threshold"] == 100.0 and user.ring_stats[1]["kept_share"] == 1.0
    assert "air threshold 100 (imaging.air_threshold)" in user.notes


def test_tumour_under_the_skin_records_the_air_and_skin_shares(tmp_path):
    """Body from row 10 (skin at the top), tumour reaching the skin layer: the shares of the shell
    removed as air (rows < 10) and skin (rows 10-11, 2 mm) are the exact voxel counts."""
    z, y, x = grid()
    body = y >= 10
    tumour = ball((6, 15, 24), 4)  # top at row 11, in the skin layer
    image = np.where(body, np.where(tumour, 800, 300) + noise(SHAPE, 10, 1), np.abs(noise(SHAPE, 4)))
    exam = prepare_timepoint(write_exam(tmp_path, image, tumour), "baseline", ISO)
    stats = exam.ring_stats[1]
    shell = sitk.GetArrayFromImage(ring(sitk.GetImageFromArray(tumour.astype(np.uint8)), 3.0)).astype(bool)
    n = shell.sum()
    assert stats["ring_voxels_geometric"] == n
    assert stats["air_share"] == pytest.approx((shell & ~body).sum() / n) and stats["air_share"] > 0
    assert stats["skin_share"] == pytest.approx((shell & body & (y < 12)).sum() / n) and stats["skin_share"] > 0
    assert stats["kept_share"] == pytest.approx((shell & (y >= 12)).sum() / n)
    assert stats["air_share"] + stats["skin_share"] + stats["chest_wall_share"] + stats["kept_share"] == pytest.approx(
        1
    )
    note = next(n for n in exam.notes if n.startswith("reader 1: 3 mm ring"))
    assert f"air {stats['air_share']:.1%}" in note and f"skin {stats['skin_share']:.1%}" in note


def test_ring_pushed_into_the_air_is_refused_in_words(tmp_path):
    """An exophytic tumour standing on the skin (rows 4-10 of a body from row 10): nearly all of
    its shell is air or skin."""
    z, y, x = grid()
    body = y >= 10
    tumour = ball((6, 7, 24), 3)
    image = np.where(body | tumour, np.where(tumour, 800, 300) + noise(SHAPE, 10, 1), np.abs(noise(SHAPE, 4)))
    with pytest.raises(
        CaseError, match=r"reader 1: the peritumoral ring is nearly empty: 3 mm ring: .* removed air [\d.]+%"
    ) as err:
        prepare_timepoint(write_exam(tmp_path, image, tumour), "baseline", ISO)
    assert "patient P1" in str(err.value) and "Label (1)" not in str(err.value)


def test_edge_of_tissue_is_not_taken_as_air():
    """An exam cropped inside the breast (PyRadiomics' breast1, no air in its field of view):
    no voxel is air, and the note says why."""
    image = sitk.ReadImage(
        str(Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pyradiomics" / "breast1_image.nrrd")
    )
    threshold = estimate_air_threshold(image)
    assert threshold.value is None and "not background" in threshold.note
    assert not sitk.GetArrayFromImage(air_mask(image, threshold.value)).any()


def test_empty_early_mask_is_a_complete_early_response(tmp_path):
    z, y, x = grid()
    image = np.where((y >= 4) & (y < 44), 300.0, 5.0)
    row = write_exam(tmp_path, image, np.zeros(SHAPE, bool))
    row = {"patient_id": "P1", "early_image": row["baseline_image"], "early_mask": row["baseline_mask"]}
    with pytest.raises(CompleteEarlyResponse, match="complete early response") as err:
        prepare_timepoint(row, "early", ISO)
    assert err.value.stage == "early response"
    with pytest.raises(CaseError, match="mask is empty"):  # at baseline it is a bad mask
        prepare_timepoint(
            {"patient_id": "P1", "baseline_image": row["early_image"], "baseline_mask": row["early_mask"]},
            "baseline",
            ISO,
        )


def test_two_visit_case_ring_stats(shared_data, tmp_path):
    """The real patient's two visits (1.3 x 1.3 x 5 mm), intensities from its tissue maps (air 0,
    adipose 100, fibroglandular 300, tumour 800): the air found is the outside of the breast mask,
    and both exams keep a ring at 1 mm (measured: the tumour lies deep, nothing removed; 13.6 mL
    at visit 1, 9.1 mL at visit 2)."""
    folder = shared_data / "two-visit-case"
    breast = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "breast_mask.nrrd"))).astype(bool)
    for visit in (1, 2):
        tissues = sitk.ReadImage(str(folder / f"tissues_v{visit}.nrrd"))
        t = sitk.GetArrayFromImage(tissues)
        tumour = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / f"tumor_mask_v{visit}.nrrd"))).astype(bool)
        image = np.select([tumour, t == 2, t == 1], [800.0, 300.0, 100.0], 0.0)
        row = write_exam(tmp_path / f"v{visit}", image, tumour, spacing=tissues.GetSpacing())
        im = sitk.ReadImage(row["baseline_image"])
        air = sitk.GetArrayFromImage(air_mask(im, estimate_air_threshold(im).value)).astype(bool)
        assert np.all(air[~breast]) and not air[image > 0].any()
        # the breast mask's unlabelled (dark) voxels are air only where a dark path joins them to the
        # outside (measured: 19 of 103 at visit 1, 17 of 207 at visit 2; the mask is visit 1's)
        dark = breast & (image == 0)
        assert (air & dark).sum() < 0.25 * dark.sum()
        exam = prepare_timepoint(row, "baseline", ImagingSettings(n4=False))
        stats = exam.ring_stats[1]
        assert stats["air_threshold"] < 100
        assert 0.1 <= stats["kept_share"] <= 1 and stats["ring_ml"] > 1
        assert stats["air_share"] + stats["skin_share"] + stats["kept_share"] == pytest.approx(1)
