"""deltarad's check_mask returns what PyRadiomics' checkMask returns: the same bounding box on a mask
on the image's grid, and checkMask's own corrections and refusals otherwise; the features through
it are PyRadiomics' path's, all 851, on both engines."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics import imageoperations
from tests.features.test_engine import masks_of, textured_exam

from deltarad.features import extract
from deltarad.features.engine.mask_box import _box_on_grid, check_mask
from deltarad.features.extract import filtered_images, load_extractor, mask_features


def _mask(image: sitk.Image, array: np.ndarray) -> sitk.Image:
    mask = sitk.GetImageFromArray(array)
    mask.CopyInformation(image)
    return mask


def _generated_masks(image: sitk.Image) -> list[tuple[sitk.Image, dict]]:
    rng = np.random.default_rng(5)
    shape = image.GetSize()[::-1]
    blobs = (rng.random(shape) < 0.002).astype(np.int16) * rng.integers(1, 4, shape).astype(np.int16)
    edge = np.zeros(shape, np.uint8)
    edge[0:3, 40:, 0:5] = 1  # touching three faces
    slab = np.zeros(shape, np.uint32)
    slab[7, 3:30, 10:12] = 1  # one slice thick: 2-D
    line = np.zeros(shape, np.uint8)
    line[4:9, 6, 6] = 1
    cases = [(m, {"label": 1}) for m in masks_of(image).values()]
    cases += [(_mask(image, blobs), {"label": label}) for label in (1, 2, 3)]
    cases += [
        (_mask(image, edge), {"label": 1, "minimumROISize": 10}),
        (_mask(image, slab), {"label": 1}),
        (_mask(image, line), {"label": 1, "minimumROIDimensions": 1}),
    ]
    return cases


def test_bounding_box_equals_check_mask_on_the_grid():
    image = textured_exam(1)
    for mask, settings in _generated_masks(image):
        assert _box_on_grid(image, mask, **settings) is not None  # numpy's box, not checkMask's
        box, corrected = check_mask(image, mask, **settings)
        theirs, their_corrected = imageoperations.checkMask(image, mask, **settings)
        assert corrected is None and their_corrected is None
        assert box.dtype == theirs.dtype and np.array_equal(box, theirs), settings


@pytest.mark.parametrize(
    "change, settings",
    [
        ("absent", {"label": 4}),
        ("single voxel", {"label": 1}),
        ("slab", {"label": 1, "minimumROIDimensions": 3}),
        ("small", {"label": 1, "minimumROISize": 12}),
    ],
)
def test_refusals_are_check_masks_own(change, settings):
    image = textured_exam(1)
    array = np.zeros(image.GetSize()[::-1], np.uint8)
    array[
        {
            "absent": np.s_[3:6, 3:6, 3:6],
            "single voxel": np.s_[4, 4, 4],
            "slab": np.s_[4, 3:9, 3:9],
            "small": np.s_[4:6, 4:6, 4:7],
        }[change]
    ] = 1
    mask = _mask(image, array)
    with pytest.raises(ValueError) as theirs:
        imageoperations.checkMask(image, mask, **settings)
    with pytest.raises(ValueError) as ours:
        check_mask(image, mask, **settings)
    assert str(ours.value) == str(theirs.value)


def test_a_mask_off_the_grid_is_corrected_by_check_mask():
    image = textured_exam(1)
    mask = masks_of(image)["ball"]
    mask.SetOrigin((0.45, 0.0, 0.0))
    box, corrected = check_mask(image, mask, label=1, correctMask=True)
    theirs, their_corrected = imageoperations.checkMask(image, mask, label=1, correctMask=True)
    assert np.array_equal(box, theirs)
    assert np.array_equal(sitk.GetArrayFromImage(corrected), sitk.GetArrayFromImage(their_corrected))


@pytest.mark.parametrize("engine", ["deltarad", "pyradiomics"])
def test_all_851_features_equal_those_through_check_mask(engine, monkeypatch):
    extractor = load_extractor(None)
    image = textured_exam(2)
    mask = masks_of(image)["ball"]
    filtered = filtered_images(extractor, image, mask)
    ours = mask_features(extractor, image, mask, filtered, engine)
    monkeypatch.setattr(extract, "check_mask", imageoperations.checkMask)  # PyRadiomics' own, untouched
    theirs = mask_features(extractor, image, mask, filtered, engine)
    assert len(theirs) == 851 and ours.keys() == theirs.keys()
    assert all(ours[k] == theirs[k] or (np.isnan(ours[k]) and np.isnan(theirs[k])) for k in theirs)
