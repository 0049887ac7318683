"""deltarad's feature engine gives PyRadiomics' own classes' values, feature by feature.

Tolerances: 1e-9 relative (atol 1e-15) for every feature. The co-occurrence matrix itself is
PyRadiomics' bit for bit. What differs is summation order (sums over the matrix's non-zero entries
and over its marginals and sum/difference distributions, grouped otherwise than PyRadiomics'
broadcasts), MCC's eigensolver (a symmetric one, dense or Lanczos, with PyRadiomics' eps added to
first order, instead of a general one on Q) and IMC2's HXY2 (HX + HY with PyRadiomics' eps
accounted to first order instead of its N_g^2 sum: the arithmetic differs, by rounding; see
deltarad.features.engine.glcm). Measured at 30, 100 and 300 levels (int16 and float): MCC within
9e-16 relative, Cluster Shade within 1.4e-11 (its terms cancel; grouped by i + j first), IMC2
within 1e-14, the others within 5e-15. (Without
the eps term MCC differs from PyRadiomics by up to 2e-9 absolute per angle; 40-digit arithmetic
agrees with the eps-free value, so PyRadiomics' eps, not rounding, makes that difference.)
"""

from __future__ import annotations

import numpy as np
import pytest
import radiomics
import SimpleITK as sitk
from radiomics import imageoperations
from radiomics.glcm import RadiomicsGLCM

from deltarad.config import ImagingSettings
from deltarad.features.engine import FASTER, compute_features, feature_classes
from deltarad.features.engine.glcm import GLCM, maximal_correlation
from deltarad.features.engine.mcc import (
    dense_second_eigenvalue,
    maximal_correlation_of_entries,
    split_second_eigenvalue,
)
from deltarad.features.extract import (
    STUDY_PARAMS,
    filtered_images,
    load_extractor,
    mask_features,
)
from deltarad.features.store import settings_fingerprint

RTOL, ATOL = 1e-9, 1e-15
BREAST1 = dict(binWidth=25, voxelArrayShift=2000, distances=[1], label=1)  # PyRadiomics' breast1 configuration


def class_values(cls, image, mask, **settings) -> dict[str, float]:
    bbox, _ = imageoperations.checkMask(image, mask, **settings)
    cropped_image, cropped_mask = imageoperations.cropToTumorMask(image, mask, bbox)
    instance = cls(cropped_image, cropped_mask, **settings)
    return {name: float(np.real(value)) for name, value in instance.execute().items()}, instance


def assert_same(ours: dict, theirs: dict) -> None:
    assert list(ours) == list(theirs)
    names = list(theirs)
    np.testing.assert_allclose(
        [ours[n] for n in names], [theirs[n] for n in names], rtol=RTOL, atol=ATOL, err_msg=str(names)
    )


@pytest.fixture(scope="module")
def breast1(shared_data):
    folder = shared_data / "pyradiomics"
    return sitk.ReadImage(str(folder / "breast1_image.nrrd")), sitk.ReadImage(str(folder / "breast1_label.nrrd"))


@pytest.mark.parametrize("bin_width", [25, 5, 1])
def test_glcm_equals_pyradiomics_on_breast1(breast1, bin_width):
    """binWidth 25 is PyRadiomics' reference (3 gray levels in the tumour); 1 gives 54."""
    settings = {**BREAST1, "binWidth": bin_width}
    ours, instance = class_values(GLCM, *breast1, **settings)
    theirs, _ = class_values(RadiomicsGLCM, *breast1, **settings)
    assert len(ours) == 24
    assert len(instance.coefficients["grayLevels"]) == {25: 3, 5: 13, 1: 54}[bin_width]
    assert_same(ours, theirs)


def textured_exam(seed: int = 0) -> sitk.Image:
    """A 48 x 44 x 30 exam of smooth random texture, intensities 0-3000, 0.9 x 0.9 x 1.2 mm."""
    rng = np.random.default_rng(seed)
    noise = sitk.GetImageFromArray(rng.normal(size=(30, 44, 48)))
    smooth = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(noise, 1.5))
    values = 3000 * (smooth - smooth.min()) / (smooth.max() - smooth.min())
    image = sitk.GetImageFromArray(values)
    image.SetSpacing((0.9, 0.9, 1.2))
    return image


def ball(image: sitk.Image, centre_voxels, radius_voxels: float) -> sitk.Image:
    z, y, x = np.indices(image.GetSize()[::-1])
    cx, cy, cz = centre_voxels
    inside = (x - cx) ** 2 + (y - cy) ** 2 + ((z - cz) * 1.2 / 0.9) ** 2 <= radius_voxels**2
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    mask.CopyInformation(image)
    return mask


def masks_of(image: sitk.Image) -> dict[str, sitk.Image]:
    array = np.zeros(image.GetSize()[::-1], np.uint8)
    array[14:16, 20:22, 20:23] = 1  # 12 voxels
    tiny = sitk.GetImageFromArray(array)
    tiny.CopyInformation(image)
    return {"ball": ball(image, (24, 22, 15), 11), "tiny": tiny}


@pytest.mark.parametrize("mask_name", ["ball", "tiny"])
@pytest.mark.parametrize("bin_width", [10, 2])
def test_glcm_equals_pyradiomics_with_many_gray_levels(mask_name, bin_width):
    image = textured_exam()
    mask = masks_of(image)[mask_name]
    settings = {"binWidth": bin_width, "label": 1}
    ours, instance = class_values(GLCM, image, mask, **settings)
    theirs, _ = class_values(RadiomicsGLCM, image, mask, **settings)
    if mask_name == "ball":
        assert len(instance.coefficients["grayLevels"]) > {10: 100, 2: 400}[bin_width]
    assert_same(ours, theirs)


def levels_exam(n_levels: int, dtype: str, seed: int = 0) -> tuple[sitk.Image, sitk.Image]:
    """The textured exam with the ball's voxels spread over exactly `n_levels` bins of width 25
    (by rank, so the texture's order is kept): int16 values on the bins' middles, or float32
    values anywhere inside them. The ball holds 4,180 voxels."""
    image = textured_exam(seed)
    mask = masks_of(image)["ball"]
    values = sitk.GetArrayFromImage(image)
    inside = sitk.GetArrayFromImage(mask).astype(bool)
    rank = np.argsort(np.argsort(values[inside], kind="stable"), kind="stable")
    level = np.floor(rank * n_levels / inside.sum())
    if dtype == "int16":
        values[inside] = 1000 + 25 * level + 12
    else:
        values[inside] = 1000 + 25 * level + np.random.default_rng(seed).uniform(0.5, 24.5, inside.sum())
    out = sitk.GetImageFromArray(values.astype(dtype))
    out.CopyInformation(image)
    return out, mask


@pytest.mark.parametrize("n_levels", [30, 100, 300])
def test_glcm_equals_pyradiomics_at_the_gray_levels_of_real_exams(n_levels):
    """binWidth 25 over tumours spanning 30, 100 and 300 bins (int16 and float intensities), all
    13 angles: every feature, MCC by Lanczos above 48 levels per angle."""
    for dtype in ("int16", "float32"):
        image, mask = levels_exam(n_levels, dtype)
        ours, instance = class_values(GLCM, image, mask, **BREAST1)
        theirs, _ = class_values(RadiomicsGLCM, image, mask, **BREAST1)
        assert len(instance.coefficients["grayLevels"]) == n_levels
        assert_same(ours, theirs)


def test_glcm_equals_pyradiomics_at_1000_gray_levels():
    """1,000 levels: PyRadiomics' MCC costs N_g^3 per angle (minutes for 13 angles), so its class
    runs on the 13 angles' matrices summed into one (weightingNorm: no_weighting); the 13-angle
    MCC is checked, on two angles, against the dense eigensolver of deltarad.features.engine.mcc,
    which equals PyRadiomics' in the tests above."""
    image, mask = levels_exam(1000, "float32")
    settings = {**BREAST1, "weightingNorm": "no_weighting"}
    ours, instance = class_values(GLCM, image, mask, **settings)
    theirs, _ = class_values(RadiomicsGLCM, image, mask, **settings)
    assert len(instance.coefficients["grayLevels"]) == 1000
    assert_same(ours, theirs)
    _, instance = class_values(GLCM, image, mask, **BREAST1)
    a, i, j, p, n = instance._entries
    lanczos = maximal_correlation_of_entries(a, i, j, p, n, 1000)
    stack = instance.P_glcm[0].transpose(2, 0, 1)[[0, 12]]  # two angles: the dense solver is N_g^3
    dense = np.sqrt(np.clip(dense_second_eigenvalue(stack), 0, None))
    np.testing.assert_allclose(lanczos[[0, 12]], dense, rtol=RTOL, atol=ATOL)


def test_matrices_of_levels_that_never_co_occur_are_solved_per_group():
    """At binWidth 1 (789 levels in the ball) a pair of rare levels neighbours only each other
    along one angle: eigenvalue 1 twice, split by PyRadiomics' eps. The per-group solution equals
    the dense eigensolver's there (which equals PyRadiomics' in the tests above)."""
    image = textured_exam(0)
    _, instance = class_values(GLCM, image, masks_of(image)["ball"], binWidth=1, label=1)
    a, i, j, p, n = instance._entries
    G = len(instance.coefficients["grayLevels"])
    split, second = split_second_eigenvalue((a, i, j, p), n, G)
    assert G > 700 and split.any()
    dense = dense_second_eigenvalue(instance.P_glcm[0].transpose(2, 0, 1)[split])
    np.testing.assert_allclose(second[split], dense, rtol=RTOL, atol=ATOL)
    assert np.all(second[split] < 1) and np.all(second[split] > 1 - 1e-6)


def test_the_matrix_counted_as_entries_is_pyradiomics_matrix():
    """The co-occurrence matrix from deltarad's counting equals the one of PyRadiomics' C code,
    bit for bit (counts, and the same integer sums to normalise), not symmetrical too, and with a
    distance (40 voxels) longer than the region's box along some axes."""
    image, mask = levels_exam(100, "int16")
    for extra in ({}, {"symmetricalGLCM": False}, {"distances": [1, 3, 40]}, {"force2D": True}):
        settings = {**BREAST1, **extra}
        _, ours = class_values(GLCM, image, mask, **settings)
        _, theirs = class_values(RadiomicsGLCM, image, mask, **settings)
        np.testing.assert_array_equal(ours.P_glcm, theirs.P_glcm)


@pytest.mark.parametrize(
    "extra", [{"symmetricalGLCM": False}, {"weightingNorm": "euclidean"}, {"distances": [1, 2]}, {"force2D": True}]
)
def test_glcm_equals_pyradiomics_with_other_glcm_settings(extra):
    image = textured_exam(5)
    mask = masks_of(image)["ball"]
    settings = {"binWidth": 20, "label": 1, **extra}
    ours, _ = class_values(GLCM, image, mask, **settings)
    theirs, _ = class_values(RadiomicsGLCM, image, mask, **settings)
    assert_same(ours, theirs)


def test_glcm_equals_pyradiomics_with_empty_gray_levels_and_two_disconnected_blocks():
    """Intensities on multiples of 40 with binWidth 10: 3 of every 4 levels are empty and removed;
    two balls of disjoint intensity ranges make each GLCM two blocks (eigenvalue 1 twice, MCC 1)."""
    image = textured_exam(1)
    values = sitk.GetArrayFromImage(image)
    one, two = masks_of(image)["ball"], ball(image, (8, 8, 22), 5)
    a, b = sitk.GetArrayFromImage(one).astype(bool), sitk.GetArrayFromImage(two).astype(bool)
    stepped = 40 * np.round(values / 40)
    stepped[b] = 5000 + stepped[b] / 4  # out of reach of the first ball's range
    stepped_image = sitk.GetImageFromArray(stepped)
    stepped_image.CopyInformation(image)
    both = sitk.GetImageFromArray((a | b).astype(np.uint8))
    both.CopyInformation(image)
    settings = {"binWidth": 10, "label": 1}
    for mask in (one, both):
        ours, instance = class_values(GLCM, stepped_image, mask, **settings)
        theirs, _ = class_values(RadiomicsGLCM, stepped_image, mask, **settings)
        levels = instance.coefficients["grayLevels"]
        assert instance.coefficients["Ng"] > 2 * len(levels)  # most levels empty
        assert_same(ours, theirs)
    assert ours["MCC"] == pytest.approx(1.0, abs=1e-9)


def test_glcm_flat_region_gives_pyradiomics_value():
    image = sitk.GetImageFromArray(np.full((8, 8, 8), 100.0))
    mask = sitk.GetImageFromArray(np.pad(np.ones((4, 4, 4), np.uint8), 2))
    ours, _ = class_values(GLCM, image, mask, binWidth=25, label=1)
    theirs, _ = class_values(RadiomicsGLCM, image, mask, binWidth=25, label=1)
    assert ours["MCC"] == theirs["MCC"] == 1
    assert_same(ours, theirs)


def test_voxel_based_extraction_keeps_pyradiomics_code():
    image = textured_exam(4)
    mask = masks_of(image)["tiny"]
    settings = {"binWidth": 10, "label": 1, "voxelBased": True, "kernelRadius": 1}
    ours = GLCM(image, mask, **settings).execute()
    theirs = RadiomicsGLCM(image, mask, **settings).execute()
    assert list(ours) == list(theirs)
    for name in theirs:
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(ours[name]), sitk.GetArrayFromImage(theirs[name]), err_msg=name
        )


def test_maximal_correlation_of_a_closed_form_case():
    """P = [[a, b], [b, a]] / (2a + 2b): Q has eigenvalues 1 and ((a - b) / (a + b))^2, so
    MCC = |a - b| / (a + b) (up to PyRadiomics' eps, ~1e-15 here)."""
    a, b = 3.0, 1.0
    P = np.array([[a, b], [b, a]]) / (2 * a + 2 * b)
    assert maximal_correlation(P[None])[0] == pytest.approx(0.5, abs=1e-14)


def test_all_851_study_features_through_both_engines():
    """The study's parameter file (Original + 8 wavelet sub-bands, every class) on a textured exam,
    a ball and a tiny mask: deltarad's engine gives PyRadiomics' classes' values."""
    extractor = load_extractor(None)
    image = textured_exam(2)
    for mask in masks_of(image).values():
        filtered = filtered_images(extractor, image, mask)
        ours = mask_features(extractor, image, mask, filtered, "deltarad")
        theirs = mask_features(extractor, image, mask, filtered, "pyradiomics")
        assert len(theirs) == 851
        assert_same(ours, theirs)


def test_timings_are_added_per_feature_class():
    extractor = load_extractor(None)
    image = textured_exam(3)
    mask = masks_of(image)["ball"]
    timings: dict[str, float] = {}
    values = compute_features(
        extractor, feature_classes("deltarad"), image, mask, "original", timings, **extractor.settings
    )
    assert set(timings) == {"firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}
    assert all(t > 0 for t in timings.values())
    assert len(values) == 93


def test_engines_are_chosen_explicitly_and_pyradiomics_is_left_untouched():
    assert ImagingSettings().feature_engine == "deltarad"
    assert feature_classes("deltarad")["glcm"] is GLCM
    assert feature_classes("pyradiomics")["glcm"] is RadiomicsGLCM
    assert radiomics.getFeatureClasses()["glcm"] is RadiomicsGLCM  # importing deltarad patches nothing
    assert set(FASTER) <= set(radiomics.getFeatureClasses())
    with pytest.raises(ValueError, match="unknown feature engine"):
        feature_classes("fast")  # type: ignore[arg-type]


def test_a_wrong_engine_in_the_study_file_is_named(tmp_path):
    from deltarad.config import load_study
    from deltarad.errors import StudyFileError

    (tmp_path / "study.yaml").write_text("cohort: cohort.csv\nimaging:\n  feature_engine: fast\n")
    with pytest.raises(StudyFileError, match="imaging.feature_engine"):
        load_study(tmp_path / "study.yaml")
    (tmp_path / "study.yaml").write_text("cohort: cohort.csv\nimaging:\n  feature_engine: pyradiomics\n")
    assert load_study(tmp_path / "study.yaml").imaging.feature_engine == "pyradiomics"


def test_the_engine_is_part_of_the_feature_store_key():
    ours = settings_fingerprint(ImagingSettings(), STUDY_PARAMS)
    theirs = settings_fingerprint(ImagingSettings(feature_engine="pyradiomics"), STUDY_PARAMS)
    assert ours != theirs
