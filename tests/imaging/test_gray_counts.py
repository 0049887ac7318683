"""Order statistics from per-gray-value counts equal numpy's sorts to the bit, and so the air
threshold of an integer exam is the one the sorting path gives."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from deltarad.imaging.air import estimate_air_threshold
from deltarad.imaging.gray_counts import GrayCounts


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.int64])
@pytest.mark.parametrize("size", [1, 2, 7, 1000, 4097])
def test_percentiles_and_medians_equal_numpy(dtype, size):
    rng = np.random.default_rng(size)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -3000), min(info.max, 3000)
    array = rng.integers(lo, hi, size, endpoint=True).astype(dtype)
    counts = GrayCounts.of(array)
    for q in (0, 1, 2.5, 50, 99, 100):
        assert counts.percentile(q) == float(np.percentile(array, q))
    for threshold in (lo - 1.0, np.median(array) - 0.5, float(np.median(array)), hi - 0.1, float(hi)):
        above = array[array > threshold]
        n, median = counts.above(threshold)
        assert n == above.size
        assert (median == float(np.median(above))) if above.size else np.isnan(median)


def test_floating_and_very_wide_images_are_not_counted():
    assert GrayCounts.of(np.zeros(5, np.float32)) is None
    assert GrayCounts.of(np.array([0, 1 << 30], np.int64)) is None


def _exam(dtype, shift: float) -> sitk.Image:
    """Air of Rayleigh noise around a bright ellipsoid body with a brighter lesion."""
    rng = np.random.default_rng(3)
    z, y, x = np.mgrid[:24, :48, :40]
    body = ((y - 30) / 20) ** 2 + ((x - 20) / 17) ** 2 < 1
    values = np.hypot(rng.normal(0, 15, body.shape), rng.normal(0, 15, body.shape))
    values = np.where(body, 400 + rng.normal(0, 40, body.shape), values)
    values[(z - 12) ** 2 + (y - 30) ** 2 + (x - 20) ** 2 < 16] = 900
    return sitk.GetImageFromArray(np.round(values + shift).astype(dtype))


def _sorted_path(image: sitk.Image):
    """The threshold numpy's sorts give: the same voxels as float64 are never counted."""
    return estimate_air_threshold(sitk.Cast(image, sitk.sitkFloat64))


@pytest.mark.parametrize("dtype, shift", [(np.uint8, 0), (np.int16, -1024), (np.uint16, 0), (np.int32, 5)])
def test_air_threshold_of_integer_exams_equals_the_sorting_path(dtype, shift):
    image = _exam(dtype, shift)
    counted = estimate_air_threshold(image)
    assert counted.value is not None
    assert counted == _sorted_path(image)


def test_air_threshold_of_the_two_visit_case_equals_the_sorting_path(shared_data):
    """The real case is stored as float32 (never counted); rounded to int32 (1.6 million gray
    values) it is counted, and must give the threshold of the sorts."""
    for visit in ("ntc_v1", "ntc_v2"):
        stored = sitk.ReadImage(str(shared_data / "two-visit-case" / f"{visit}.nrrd"))
        image = sitk.GetImageFromArray(np.round(sitk.GetArrayViewFromImage(stored)).astype(np.int32))
        image.CopyInformation(stored)
        assert GrayCounts.of(sitk.GetArrayViewFromImage(image)) is not None
        assert estimate_air_threshold(image) == _sorted_path(image)


def test_tissue_edge_is_still_refused_when_counted(shared_data):
    image = sitk.ReadImage(str(shared_data / "pyradiomics" / "breast1_image.nrrd"))
    assert GrayCounts.of(sitk.GetArrayViewFromImage(image)) is not None
    counted = estimate_air_threshold(image)
    assert counted.value is None and counted == _sorted_path(image)
