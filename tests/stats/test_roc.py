"""ROC statistics against pROC's own test-suite values (aSAH data) and closed forms."""

import numpy as np
import pytest

from deltarad.errors import DeltaradError
from deltarad.stats.metrics import confusion_metrics
from deltarad.stats.roc import auc, delong_ci, delong_test, roc_points, youden_threshold


def test_auc_and_delong_ci_match_proc(asah):
    # pROC tests/testthat/test-ci.auc.R: ndka, all 15 printed digits
    a, low, high = delong_ci(asah.poor, asah.ndka)
    assert a == pytest.approx(0.611957994579946, abs=5e-16)
    assert low == pytest.approx(0.501244999271703, abs=5e-15)
    assert high == pytest.approx(0.722670989888189, abs=5e-15)
    assert auc(asah.poor, asah.ndka) == pytest.approx(a, abs=1e-15)


@pytest.mark.parametrize(
    "first, second, z, p",
    [  # pROC tests/testthat/test-roc.test.R, paired DeLong, two-sided
        ("wfns", "s100b", 2.20898359144091, 0.0271757822291882),
        ("wfns", "ndka", 2.79777591868904, 0.00514557970691098),
        ("ndka", "s100b", -1.39077002573558, 0.164295175223054),
    ],
)
def test_paired_delong_matches_proc(asah, first, second, z, p):
    got_z, got_p = delong_test(asah.poor, asah[first], asah[second])
    assert got_z == pytest.approx(z, rel=1e-13)
    assert got_p == pytest.approx(p, rel=1e-12)


def test_identical_curves_give_z0_p1(asah):
    assert delong_test(asah.poor, asah.ndka, asah.ndka) == (0.0, 1.0)


def test_youden_matches_proc_best_threshold(asah):
    # pROC's coords(roc(aSAH$outcome, aSAH$s100b), "best"): threshold 0.205,
    # specificity 0.8055556, 1 - npv 0.2054795
    t = youden_threshold(asah.poor, asah.s100b)
    assert t == pytest.approx(0.205, abs=1e-12)
    m = confusion_metrics(asah.poor, asah.s100b, t)
    assert m["specificity"] == pytest.approx(0.8055556, abs=5e-8)
    assert 1 - m["npv"] == pytest.approx(0.2054795, abs=5e-8)


def test_binary_score_auc_is_mean_of_sensitivity_and_specificity():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    test = np.where(rng.random(300) < 0.75, y, 1 - y)  # a 0/1 test right 75% of the time
    m = confusion_metrics(y, test, youden_threshold(y, test))
    assert youden_threshold(y, test) == 0.5
    assert auc(y, test) == pytest.approx((m["sensitivity"] + m["specificity"]) / 2, abs=1e-14)


def test_auc_equals_pairwise_definition_with_ties():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    score = rng.integers(0, 8, 200).astype(float) + y  # many ties
    cases, controls = score[y == 1], score[y == 0]
    diff = cases[:, None] - controls[None, :]
    expected = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size
    assert auc(y, score) == pytest.approx(expected, abs=1e-14)


def test_roc_points_run_from_origin_to_corner(asah):
    pts = roc_points(asah.poor, asah.s100b)
    assert (pts.iloc[0][["fpr", "tpr"]] == [0, 0]).all() and (pts.iloc[-1][["fpr", "tpr"]] == [1, 1]).all()
    assert (np.diff(pts.fpr) >= 0).all() and (np.diff(pts.tpr) >= 0).all()
    # trapezoidal area under the empirical curve is the AUC
    assert np.trapezoid(pts.tpr, pts.fpr) == pytest.approx(auc(asah.poor, asah.s100b), abs=1e-12)


def test_bad_input_is_a_clear_error():
    with pytest.raises(DeltaradError, match="both 0 and 1"):
        auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DeltaradError, match="missing"):
        auc([0, 1, 1], [0.1, np.nan, 0.3])


def test_constant_score_cut_off_calls_everyone_positive():
    # an intercept-only radscore: J = 0 everywhere; the cut-off is the constant itself
    assert youden_threshold([0, 1, 1], [0.5, 0.5, 0.5]) == 0.5
    m = confusion_metrics([0, 1, 1], [0.5, 0.5, 0.5], threshold=0.5)
    assert (m["sensitivity"], m["specificity"]) == (1.0, 0.0)


def test_confusion_metrics_zero_denominator_is_nan():
    m = confusion_metrics([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], threshold=0.9)  # nobody positive
    assert np.isnan(m["ppv"]) and m["sensitivity"] == 0 and m["specificity"] == 1
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (0, 0, 2, 2)
