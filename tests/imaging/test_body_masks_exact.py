"""The fast Otsu threshold, air and N4 body masks equal, voxel for voxel, the straightforward SimpleITK pipelines
they replace (kept here as the reference), on generated exams and on the real two-visit case."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from deltarad.imaging.air import ISLAND_SHARE, air_mask, estimate_air_threshold, in_plane_edge
from deltarad.imaging.preprocess import body_mask, fill_holes, otsu_threshold


def reference_air_mask(image: sitk.Image, threshold: float) -> np.ndarray:
    array = sitk.GetArrayViewFromImage(image)
    below = sitk.GetImageFromArray((array < threshold).astype(np.uint8))
    labels = sitk.GetArrayFromImage(sitk.ConnectedComponent(below, False))
    reached = np.unique(in_plane_edge(labels)).astype(np.int64)
    air = np.isin(labels, reached[reached > 0])
    rest = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray((~air).astype(np.uint8)), False))
    sizes = np.bincount(rest.ravel())
    sizes[0] = 0
    if sizes.any():
        air |= np.isin(rest, np.flatnonzero((sizes > 0) & (sizes < ISLAND_SHARE * sizes.max())))
    return air.astype(np.uint8)


def reference_otsu_threshold(image: sitk.Image) -> float:
    f = sitk.OtsuThresholdImageFilter()
    f.SetInsideValue(0)
    f.SetOutsideValue(1)
    f.SetNumberOfHistogramBins(200)
    f.Execute(image)
    return float(f.GetThreshold())


def reference_body_mask(image: sitk.Image, threshold: float) -> sitk.Image:
    foreground = sitk.Cast(image > threshold, sitk.sitkUInt8)
    labels = sitk.RelabelComponent(sitk.ConnectedComponent(foreground), sortByObjectSize=True)
    return sitk.BinaryFillhole(sitk.Cast(labels == 1, sitk.sitkUInt8))


def generated_exam(seed: int, shape=(40, 64, 72)) -> sitk.Image:
    """A noisy body (an ellipsoid reaching the border on some seeds) in Rayleigh air, with dark
    cysts (holes), bright specks in the air and a detached bright blob."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape, dtype=float)
    cz, cy, cx = (np.array(shape) - 1) / 2
    reach = 1.1 if seed % 2 else 0.8
    body = ((z - cz) / (shape[0] * reach / 2)) ** 2 + ((y - cy) / (shape[1] * 0.4)) ** 2 + (
        (x - cx) / (shape[2] * reach / 2)
    ) ** 2 < 1
    image = np.hypot(rng.normal(0, 8, shape), rng.normal(0, 8, shape))
    image[body] = rng.normal(400, 60, body.sum())
    for _ in range(4):
        c = rng.integers([8, 20, 20], [shape[0] - 8, shape[1] - 20, shape[2] - 20])
        r = rng.uniform(2, 5)
        image[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 < r * r] = rng.uniform(0, 30)
    specks = rng.random(shape) < 0.002
    image[specks & ~body] = 500
    image[2:5, 1:4, 1:4] = 450  # a detached bright blob on the edge
    out = sitk.GetImageFromArray(np.clip(image, 0, 4000).astype(np.uint16))
    out.SetSpacing((0.9, 0.9, 1.2))
    return out


def assert_same_masks(image: sitk.Image) -> None:
    assert otsu_threshold(image) == reference_otsu_threshold(image)
    threshold = estimate_air_threshold(image).value
    if threshold is not None:
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(air_mask(image, threshold)), reference_air_mask(image, threshold)
        )
    for n4_threshold in (otsu_threshold(image), threshold if threshold is not None else 50.0):
        fast, reference = body_mask(image, n4_threshold), reference_body_mask(image, n4_threshold)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(fast), sitk.GetArrayFromImage(reference))
        assert fast.GetPixelID() == reference.GetPixelID() and fast.GetOrigin() == reference.GetOrigin()
        assert fast.GetSpacing() == reference.GetSpacing()


@pytest.mark.parametrize("seed", range(6))
def test_generated_exams(seed):
    image = generated_exam(seed)
    assert_same_masks(image)
    filled = sitk.GetArrayFromImage(body_mask(image, otsu_threshold(image)))
    assert filled.any() and not filled.all()


@pytest.mark.parametrize("visit", ["v1", "v2"])
def test_two_visit_case(shared_data, visit):
    assert_same_masks(sitk.ReadImage(str(shared_data / "two-visit-case" / f"ntc_{visit}.nrrd")))


def test_fill_holes_of_shapes_touching_the_border_and_nested():
    mask = np.zeros((12, 14, 16), bool)
    mask[0:8, 2:12, 3:15] = True  # reaches the border at z = 0
    mask[2:5, 5:8, 6:10] = False  # a hole
    mask[3, 6, 7] = True  # an island in the hole
    mask[0, 6, 6] = False  # a pit open to the border: not a hole
    reference = sitk.GetArrayFromImage(sitk.BinaryFillhole(sitk.GetImageFromArray(mask.astype(np.uint8))))
    np.testing.assert_array_equal(fill_holes(mask).astype(np.uint8), reference)
    assert fill_holes(mask)[3, 6, 8] and not fill_holes(mask)[0, 6, 6]
    assert not fill_holes(np.zeros((3, 3, 3), bool)).any()


@pytest.mark.parametrize("pixels", ["float32", "float64", "int16", "uint8", "constant"])
def test_otsu_threshold_of_other_pixel_types(pixels):
    rng = np.random.default_rng(7)
    values = {
        "float32": rng.gamma(2, 100, (20, 30, 40)).astype(np.float32),
        "float64": np.concatenate([rng.normal(0, 1, 9000), rng.normal(6, 2, 15000)]).reshape(20, 30, 40),
        "int16": rng.normal(0, 300, (20, 30, 40)).astype(np.int16),
        "uint8": rng.integers(0, 256, (20, 30, 40)).astype(np.uint8),
        "constant": np.full((4, 5, 6), 17, np.uint16),
    }[pixels]
    image = sitk.GetImageFromArray(values)
    assert otsu_threshold(image) == reference_otsu_threshold(image)
