"""Calibration: Hosmer-Lemeshow against ResourceSelection::hoslem.test (mtcars), rms::val.prob and
R's lowess on real data (tests/references, made by discrimination_calibration.R), closed forms."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from deltarad.stats.calibration import (
    brier,
    calibration_curve,
    calibration_errors,
    calibration_slope_intercept,
    hosmer_lemeshow,
    smoothed_calibration,
)

REFERENCES = Path(__file__).resolve().parents[1] / "references"


@pytest.fixture(scope="module")
def val_prob():
    """A glm(cancer ~ age + famhistory + marker) fitted on df_cancer_dx's odd ids, its predictions
    for the 375 even ids (R's, 15 digits) and rms::val.prob's statistics of them."""
    expected = json.loads((REFERENCES / "discrimination_calibration.json").read_text())["calibration"]
    data = pd.read_csv(REFERENCES / "calibration_cancer.csv")
    return data.y.to_numpy(), data.p.to_numpy(), expected


@pytest.fixture(scope="module")
def mtcars_fit(stats_data):
    cars = pd.read_csv(stats_data / "mtcars.csv")
    fit = sm.GLM(cars.am, sm.add_constant(cars[["wt", "hp"]]), family=sm.families.Binomial()).fit()
    return cars.am.to_numpy(), fit.fittedvalues.to_numpy()


def test_hosmer_lemeshow_matches_resourceselection(mtcars_fit):
    y, p = mtcars_fit
    hl = hosmer_lemeshow(y, p, g=6)  # R: X-squared = 2.3502, df = 4, p-value = 0.6717
    assert round(hl["statistic"], 4) == 2.3502
    assert hl["df"] == 4
    assert round(hl["p_value"], 4) == 0.6717


def test_in_sample_logistic_fit_is_perfectly_calibrated(mtcars_fit):
    # The logistic score equations force slope 1 and calibration-in-the-large 0 on the fit data.
    y, p = mtcars_fit
    cal = calibration_slope_intercept(y, p)
    assert cal["slope"] == pytest.approx(1.0, abs=1e-6)
    assert cal["intercept"] == pytest.approx(0.0, abs=1e-6)


def test_recalibration_recovers_a_known_distortion():
    rng = np.random.default_rng(3)
    lp = rng.normal(0, 1.5, 20000)
    y = (rng.random(lp.size) < 1 / (1 + np.exp(-lp))).astype(int)
    overconfident = 1 / (1 + np.exp(-2 * lp))  # true slope on this scale is 1/2
    assert calibration_slope_intercept(y, overconfident)["slope"] == pytest.approx(0.5, abs=0.03)


def test_saturated_predictions_have_no_slope_but_a_calibration_in_the_large():
    """A separating model predicts 1 - 1e-15 for every held-out patient: after clipping to
    1 - 1e-12 one value is left, so the slope is NaN; the intercept is logit(mean y) - logit(1 - 1e-12)."""
    y = np.array([0, 1, 1, 1])
    cal = calibration_slope_intercept(y, np.full(4, 1 - 1e-15))
    assert np.isnan(cal["slope"])
    assert cal["intercept"] == pytest.approx(np.log(3) - np.log((1 - 1e-12) / 1e-12), rel=1e-6)


def test_binned_curve_accounts_for_every_patient(mtcars_fit):
    y, p = mtcars_fit
    curve = calibration_curve(y, p, n_bins=4)
    assert curve.n.sum() == y.size and list(curve.bin) == [1, 2, 3, 4]
    assert np.sum(curve.observed * curve.n) == pytest.approx(y.sum())
    assert (np.diff(curve.mean_predicted) > 0).all()


def test_val_prob_brier_slope_and_calibration_in_the_large(val_prob):
    y, p, expected = val_prob
    assert brier(y, p) == pytest.approx(expected["brier"], rel=1e-12)
    cal = calibration_slope_intercept(y, p)
    # val.prob's Slope is lrm.fit(logit p, y)'s; its Intercept (-0.200) is that joint fit's, not the
    # calibration-in-the-large deltarad reports, which R gives as glm(y ~ 1, offset = qlogis(p)).
    assert cal["slope"] == pytest.approx(expected["slope"], rel=1e-7)
    assert cal["intercept"] == pytest.approx(expected["calibration_in_the_large"], rel=1e-7)


def test_val_prob_emax_e90_eavg(val_prob):
    y, p, expected = val_prob
    got = calibration_errors(y, p)
    for key in ("emax", "e90", "eavg"):
        assert got[key] == pytest.approx(expected[key], rel=1e-8), key


def test_smoothed_curve_is_r_lowess(val_prob):
    """The curve val.prob draws: R's lowess(p, y, iter = 0), with its default delta (1 % of the
    range); deltarad clips the smoothed rate to [0, 1] (R's reaches 1.0099 at the top)."""
    y, p, expected = val_prob
    smooth = smoothed_calibration(y, p)
    np.testing.assert_allclose(smooth.predicted, expected["smooth_x"], rtol=1e-14)
    np.testing.assert_allclose(smooth.observed, np.clip(expected["smooth_y"], 0, 1), rtol=1e-8, atol=1e-12)
    at = np.interp(expected["smooth_points"], smooth.predicted, smooth.observed)
    np.testing.assert_allclose(at, expected["smooth_at_points"], rtol=1e-8)


def test_brier_closed_form():
    assert brier([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.5]) == pytest.approx((0.01 + 0.04 + 0.16 + 0.25) / 4)


@pytest.mark.parametrize("seed", range(4))
def test_calibration_slope_alone_equals_the_slope_of_the_pair(seed):
    from deltarad.stats.calibration import calibration_slope

    rng = np.random.default_rng(seed)
    lp = rng.normal(scale=1.5, size=130)
    y = (rng.uniform(size=130) < 1 / (1 + np.exp(-0.7 * lp))).astype(int)
    p = 1 / (1 + np.exp(-lp))
    assert calibration_slope(y, p) == pytest.approx(calibration_slope_intercept(y, p)["slope"], abs=1e-10)
    assert np.isnan(calibration_slope(y, np.full(130, 0.3)))
