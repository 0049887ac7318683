"""N4 bias-field correction: deltarad's separable N4 gives ITK's field (N4BiasFieldCorrectionImageFilter,
SimpleITK) to within ITK's own thread-count variation; ITK's, pinned, is one result whatever the
machine's thread count."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

import deltarad.imaging.preprocess as preprocess
from deltarad.imaging.n4 import n4_log_bias_field
from deltarad.imaging.phantom import breast_phantom
from deltarad.imaging.preprocess import body_mask, fit_bias_field, itk_threads, otsu_threshold


def log_field(image, body, *, implementation, shrink, iterations=(50, 40, 30)) -> np.ndarray:
    field = fit_bias_field(image, body, shrink=shrink, iterations=list(iterations), implementation=implementation)
    return sitk.GetArrayFromImage(field.log_field)


def itk_fields_on_1_and_2_threads(image, body, shrink) -> tuple[np.ndarray, np.ndarray]:
    fields = []
    for threads in (1, 2):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(preprocess, "N4_THREADS", threads)
            fields.append(log_field(image, body, implementation="itk", shrink=shrink))
    return fields[0], fields[1]


def test_itk_n4_fit_is_the_same_whatever_itk_thread_count():
    """Unpinned, 1 and 4 threads gave log fields differing by 3e-7 on this phantom; pinned,
    every bit is equal, and ITK's global thread count is given back."""
    image, _ = breast_phantom(size=(64, 64, 16))
    body = body_mask(image, otsu_threshold(image))
    fields = []
    for threads in (1, 4):
        with itk_threads(threads):
            fields.append(log_field(image, body, implementation="itk", shrink=2, iterations=[20, 20]))
            assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == threads
    np.testing.assert_array_equal(fields[0], fields[1])


def test_deltarad_n4_gives_itks_field_on_real_breast_mri(shared_data):
    """PyRadiomics' breast1 MRI at full resolution (45 x 120 x 21), 3 levels of 50/40/30 iterations.
    Measured: deltarad vs ITK on 1 thread 7.6e-6, ITK on 2 vs 1 thread 1.5e-5, on a log field
    spanning 0.07 to 0.62."""
    image = sitk.ReadImage(str(shared_data / "pyradiomics" / "breast1_image.nrrd"), sitk.sitkFloat32)
    body = body_mask(image, otsu_threshold(image))
    itk_1, itk_2 = itk_fields_on_1_and_2_threads(image, body, shrink=1)
    ours = log_field(image, body, implementation="deltarad", shrink=1)
    assert np.ptp(itk_1) > 0.3  # a real field to get right
    itk_variation = np.abs(itk_2 - itk_1).max()
    assert np.abs(ours - itk_1).max() <= max(2 * itk_variation, 1e-6)
    assert np.abs(ours - itk_1).max() < 3e-5


@pytest.mark.parametrize(
    "direction, origin",
    [
        (None, None),
        ((0, -1, 0, 1, 0, 0, 0, 0, -1), (-183.7, 221.3, -97.1)),  # rotated axes, scanner-like origin (mm)
    ],
)
def test_deltarad_n4_gives_itks_field_on_a_generated_exam_at_the_study_shrink(direction, origin):
    """The study's setting, shrink 4, on a 128 x 128 x 48 phantom with a planted bias field; ITK
    fits in index space, and stores points as float32 (which a far origin rounds more)."""
    image, _ = breast_phantom(size=(128, 128, 48))
    if direction is not None:
        image.SetDirection(direction)
        image.SetOrigin(origin)
    body = body_mask(image, otsu_threshold(image))
    itk_1, itk_2 = itk_fields_on_1_and_2_threads(image, body, shrink=4)
    ours = log_field(image, body, implementation="deltarad", shrink=4)
    assert np.ptp(itk_1) > 0.05
    assert np.abs(ours - itk_1).max() <= max(2 * np.abs(itk_2 - itk_1).max(), 1e-6)


def test_single_level_fit_matches_itk_to_float32_rounding():
    """One level and one iteration: no accumulated rounding, so the fields agree to 1e-7."""
    image, _ = breast_phantom(size=(64, 64, 24))
    body = body_mask(image, otsu_threshold(image))
    itk = log_field(image, body, implementation="itk", shrink=2, iterations=[1])
    ours = log_field(image, body, implementation="deltarad", shrink=2, iterations=[1])
    assert np.abs(itk).max() > 1e-3
    assert np.abs(ours - itk).max() < 1e-7 + 1e-5 * np.abs(itk).max()


def test_n4_refuses_an_empty_mask_and_a_flat_grid():
    image = np.ones((8, 8, 8), np.float32)
    with pytest.raises(ValueError, match="mask is empty"):
        n4_log_bias_field(image, np.zeros_like(image), (1, 1, 1), (0, 0, 0), iterations=[5])
    with pytest.raises(ValueError, match="at least 2 voxels"):
        n4_log_bias_field(image[:1], np.ones_like(image[:1]), (1, 1, 1), (0, 0, 0), iterations=[5])


def test_unknown_implementation_is_refused():
    image, _ = breast_phantom(size=(32, 32, 8))
    with pytest.raises(ValueError, match="unknown N4 implementation"):
        fit_bias_field(image, body_mask(image, otsu_threshold(image)), shrink=2, iterations=[1], implementation="fast")
