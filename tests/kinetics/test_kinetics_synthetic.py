"""Synthetic contrast curves by tissue, and a generated kinetic DICOM exam read end to end:
header phase times -> I-SPY's phases -> FTV and curve types."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from deltarad.imaging.dicom.exam import read_dicom_phases
from deltarad.kinetics import KineticsSettings, exam_kinetics
from deltarad.synthetic import generate_cohort
from deltarad.synthetic.kinetics import (
    TISSUE_CURVES,
    kinetic_phase_times,
    tissue_intensities,
)


def test_phase_times_put_injection_at_the_start_of_phase_1_and_count_each_phase_at_its_middle():
    starts, after = kinetic_phase_times(4, 80.0)
    assert starts.tolist() == [0, 80, 160, 240]
    assert after.tolist() == [-40, 40, 120, 200]


def test_each_tissue_has_its_kinetics_at_ispy_early_and_late_times():
    s = tissue_intensities([0.0, 150.0, 450.0])
    pe = {k: 100 * (v[1] - v[0]) / v[0] for k, v in s.items()}
    delayed = {k: 100 * (v[2] - v[1]) / v[1] for k, v in s.items()}
    assert s["fat"][0] == TISSUE_CURVES["fat"].s0
    assert pe["fat"] < 10 and pe["fibroglandular"] < 70  # neither counts in the FTV
    assert pe["tumour_core"] >= 70 and delayed["tumour_core"] < -10  # washout
    assert pe["tumour_rim"] >= 70 and delayed["tumour_rim"] > 10  # persistent


@pytest.fixture(scope="module")
def kinetic_cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kinetic") / "cohort"
    generate_cohort(
        out, n_patients=1, seed=5, shape=(48, 48, 16), spacing_mm=(1.2, 1.2, 2.0), workers=1, tissue_kinetics=True
    )
    return out


def test_a_generated_kinetic_exam_read_from_dicom(kinetic_cohort):
    row = pd.read_csv(kinetic_cohort / "cohort.csv").iloc[0]
    images, times, n, _ = read_dicom_phases(kinetic_cohort / row["baseline_image"], list(range(7)))
    assert n == 7
    assert times.times_s == pytest.approx([0, 80, 160, 240, 320, 400, 480])
    mask = sitk.ReadImage(str(kinetic_cohort / row["baseline_mask"]))
    phases = [images[k] for k in range(n)]
    result = exam_kinetics(
        phases,
        mask,
        KineticsSettings(),
        times_s=times.times_s,
        patient_id=row["patient_id"],
        timepoint="baseline",
        reader=1,
    )
    r = result.row
    assert (r["pre_phase"], r["early_phase"], r["late_phase"]) == (0, 2, 6)
    assert r["ttp_s"] in (40.0, 120.0, 200.0, 280.0, 360.0, 440.0)
    tumour_ml = (sitk.GetArrayViewFromImage(mask) != 0).sum() * np.prod(mask.GetSpacing()) / 1000
    assert 0 < r["ftv_ml"] <= tumour_ml
    assert r["share_washout"] > 0 and r["share_persistent"] > 0
    assert r["share_persistent"] + r["share_plateau"] + r["share_washout"] == pytest.approx(1.0)
