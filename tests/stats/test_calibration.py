"""Calibration: Hosmer-Lemeshow against ResourceSelection::hoslem.test (mtcars) and closed forms."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from deltarad.stats.calibration import (
    brier,
    calibration_curve,
    calibration_slope_intercept,
    hosmer_lemeshow,
    smoothed_calibration,
)


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


def test_smoothed_curve_is_sorted_and_bounded(mtcars_fit):
    y, p = mtcars_fit
    smooth = smoothed_calibration(y, p)
    assert len(smooth) == y.size and (np.diff(smooth.predicted) >= 0).all()
    assert smooth.observed.between(0, 1).all()


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
