"""One exam's kinetics row from SimpleITK phases, ΔFTV over rows, and the study file's settings."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import SimpleITK as sitk

from deltarad.design import DeltaPair
from deltarad.errors import StageError
from deltarad.kinetics import (
    KINETICS_COLUMNS,
    KineticsSettings,
    delta_ftv,
    exam_kinetics,
    exam_times,
    kinetic_map_image,
)

SHAPE = (25, 25, 25)
TIMES = [0, 90, 180, 270, 360, 450]  # early phase 2, late phase 5 (tests/kinetics/test_kinetics_timing.py)
SPHERE_CURVE = [100, 150, 200, 195, 190, 180]  # S0 100, S1 200 (phase 2), S2 180 (phase 5)
BACKGROUND_CURVE = [100, 130, 150, 150, 150, 150]  # PE 50


def ball(radius: float) -> np.ndarray:
    z, y, x = np.indices(SHAPE)
    return (z - 12) ** 2 + (y - 12) ** 2 + (x - 12) ** 2 <= radius**2


def image(array: np.ndarray) -> sitk.Image:
    img = sitk.GetImageFromArray(array)
    img.SetSpacing((1.0, 1.0, 1.0))
    img.SetOrigin((-12.0, 4.0, 30.0))
    return img


def exam():
    sphere = ball(8)
    phases = []
    for inside, outside in zip(SPHERE_CURVE, BACKGROUND_CURVE):
        a = np.full(SHAPE, float(outside), np.float32)
        a[sphere] = inside
        phases.append(image(a))
    return phases, image(sphere.astype(np.uint8)), sphere


def test_the_row_of_a_sphere_exam():
    phases, mask, sphere = exam()
    result = exam_kinetics(
        phases, mask, KineticsSettings(), times_s=TIMES, patient_id="P1", timepoint="baseline", reader=1
    )
    row = result.row
    assert tuple(row) == KINETICS_COLUMNS
    assert (row["pre_phase"], row["early_phase"], row["late_phase"]) == (0, 2, 5)
    assert row["ftv_ml"] == pytest.approx(2109 / 1000)
    assert row["pe_peak"] == pytest.approx(100.0)
    assert row["ttp_s"] == pytest.approx(135.0)  # phase 2: 90 s after injection + 45 s
    # delayed change (180 - 200) / 200 = -10 % exactly: plateau
    assert (row["share_persistent"], row["share_plateau"], row["share_washout"]) == (0.0, 1.0, 0.0)
    assert np.array_equal(sitk.GetArrayFromImage(result.ftv_mask).astype(bool), sphere)
    assert result.ftv_mask.GetOrigin() == phases[0].GetOrigin()
    assert any("FTV 2109 voxels" in n for n in result.notes)


def test_named_phases_without_times_leave_the_time_to_peak_undefined():
    phases, mask, _ = exam()
    settings = KineticsSettings(early=2, late=5)
    result = exam_kinetics(phases, mask, settings, times_s=None, patient_id="P1", timepoint="baseline", reader=1)
    assert result.row["ftv_ml"] == pytest.approx(2.109) and np.isnan(result.row["ttp_s"])
    with pytest.raises(StageError, match="patient P1.*phase times are unknown"):
        exam_kinetics(phases, mask, KineticsSettings(), times_s=None, patient_id="P1", timepoint="baseline", reader=1)


def test_a_mask_off_the_exam_grid_is_refused():
    phases, mask, _ = exam()
    mask.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(StageError, match="not on the exam's grid"):
        exam_kinetics(phases, mask, KineticsSettings(), times_s=TIMES, patient_id="P1", timepoint="baseline", reader=1)


def test_kinetic_map_images():
    phases, mask, sphere = exam()
    choice = exam_kinetics(
        phases, mask, KineticsSettings(), times_s=TIMES, patient_id="P1", timepoint="baseline", reader=1
    ).choice
    pe = sitk.GetArrayFromImage(kinetic_map_image("pe", phases, choice))
    assert pe[sphere] == pytest.approx(100.0) and pe[~sphere] == pytest.approx(50.0)
    ser = sitk.GetArrayFromImage(kinetic_map_image("ser", phases, choice))
    assert ser[sphere] == pytest.approx(1.25) and ser[~sphere] == pytest.approx(1.0)  # background S2 = S1: SER 1
    wash_in = sitk.GetArrayFromImage(kinetic_map_image("wash_in", phases, choice))
    assert wash_in[sphere] == pytest.approx(100.0 / (135 / 60))


def test_delta_ftv_is_the_relative_change():
    rows = [
        {"patient_id": "P1", "timepoint": "baseline", "reader": 1, "ftv_ml": 4.0},
        {"patient_id": "P1", "timepoint": "early", "reader": 1, "ftv_ml": 1.0},
        {"patient_id": "P1", "timepoint": "early", "reader": 2, "ftv_ml": 9.0},
        {"patient_id": "P2", "timepoint": "baseline", "reader": 1, "ftv_ml": 0.0},
        {"patient_id": "P2", "timepoint": "early", "reader": 1, "ftv_ml": 1.0},
        {"patient_id": "P3", "timepoint": "baseline", "reader": 1, "ftv_ml": 2.0},
    ]
    out = delta_ftv(rows, DeltaPair("baseline", "early"))
    assert [r["patient_id"] for r in out] == ["P1", "P2"]
    assert out[0]["delta_ftv"] == pytest.approx(-0.75) and out[0]["delta"] == "early_vs_baseline"
    assert np.isnan(out[1]["delta_ftv"])
    with pytest.raises(ValueError, match="two rows"):
        delta_ftv(rows + rows[:1], DeltaPair("baseline", "early"))


def test_header_and_study_file_times():
    settings = KineticsSettings(times_s=[0, 90, 180, 270])
    assert exam_times(None, settings) == ((0.0, 90.0, 180.0, 270.0), "kinetics.times_s")
    assert exam_times([0, 90.4, 180, 270], settings)[1] == "the DICOM headers (kinetics.times_s agrees)"
    with pytest.raises(StageError, match=r"headers time the phases at \[0, 60, 120, 180\]"):
        exam_times([0, 60, 120, 180], settings, patient="P1")
    assert exam_times(None, KineticsSettings()) == (None, None)


def test_settings_defaults_and_refusals():
    s = KineticsSettings.model_validate({})
    assert (s.pre, s.early, s.late, s.margin_mm, s.pe_min, s.s0_fraction, s.neighbours_min) == (
        0,
        None,
        None,
        0,
        70,
        0.6,
        4,
    )
    with pytest.raises(pydantic.ValidationError, match="time order"):
        KineticsSettings(early=5, late=2)
    with pytest.raises(pydantic.ValidationError, match="increasing"):
        KineticsSettings(times_s=[0, 90, 90])
    with pytest.raises(pydantic.ValidationError, match="extra"):
        KineticsSettings.model_validate({"ftv": 1})
