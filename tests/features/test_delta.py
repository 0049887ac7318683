import numpy as np
import pandas as pd
import pytest

from deltarad.errors import DeltaradError
from deltarad.features.delta import compute_delta, dropped_features


def _long(rows):
    return pd.DataFrame(rows, columns=["patient_id", "timepoint", "region", "reader", "a", "b"])


def test_relative_change_and_zero_baseline_feature_dropped_per_region():
    t = _long(
        [
            ("P1", "baseline", "intratumoral", 1, 2.0, 0.0),
            ("P1", "early", "intratumoral", 1, 3.0, 1.0),
            ("P2", "baseline", "intratumoral", 1, 4.0, 5.0),
            ("P2", "early", "intratumoral", 1, 2.0, 5.0),
            ("P1", "baseline", "peritumoral", 1, 1.0, 2.0),
            ("P1", "early", "peritumoral", 1, 1.5, 1.0),
        ]
    )
    delta, info = compute_delta(t)
    it = delta[delta.region == "intratumoral"].set_index("patient_id")
    assert it.loc["P1", "a"] == pytest.approx(0.5)
    assert it.loc["P2", "a"] == pytest.approx(-0.5)
    assert it["b"].isna().all()  # baseline 0 for P1 -> dropped for the whole region
    assert info["regions"]["intratumoral"]["dropped_zero_baseline"] == ["b"]
    assert info["regions"]["intratumoral"]["n_kept"] == 1
    pt = delta[delta.region == "peritumoral"].set_index("patient_id")
    assert pt.loc["P1", "b"] == pytest.approx(-0.5)  # kept in the other region
    assert info["regions"]["peritumoral"]["n_kept"] == 2


def test_patient_without_early_exam_is_listed_not_fatal():
    t = _long(
        [
            ("P1", "baseline", "intratumoral", 1, 2.0, 1.0),
            ("P1", "early", "intratumoral", 1, 3.0, 1.0),
            ("P2", "baseline", "intratumoral", 1, 4.0, 5.0),
        ]
    )
    delta, info = compute_delta(t)
    assert delta["patient_id"].tolist() == ["P1"]
    assert info["incomplete_patients"] == ["P2"]


def test_bad_layout_is_named():
    t = _long([("P1", "week6", "intratumoral", 1, 2.0, 1.0)])
    with pytest.raises(DeltaradError, match="patient P1.*timepoint must be one of"):
        compute_delta(t)
    t = _long([("P1", "baseline", "intratumoral", 1, "abc", 1.0)])
    with pytest.raises(DeltaradError, match="non-numeric value 'abc' in feature a"):
        compute_delta(t)


def _two_readers(a_base, a_early, reader2_base=None, reader2_early=None):
    """Intratumoral rows of one feature `a` (and a steady `b`) for patients P1..Pn, reader 1, and
    reader 2 for P1 when given."""
    rows = []
    for i, (base, early) in enumerate(zip(a_base, a_early)):
        rows += [
            (f"P{i + 1}", "baseline", "intratumoral", 1, base, 10.0 + i),
            (f"P{i + 1}", "early", "intratumoral", 1, early, 11.0 + i),
        ]
    if reader2_base is not None:
        rows += [
            ("P1", "baseline", "intratumoral", 2, reader2_base, 10.0),
            ("P1", "early", "intratumoral", 2, reader2_early, 11.0),
        ]
    return _long(rows)


def test_zero_baseline_of_reader_2_drops_nothing():
    delta, info = compute_delta(_two_readers([2.0, 4.0, 5.0], [3.0, 2.0, 5.0], reader2_base=0.0, reader2_early=1.0))
    region = info["regions"]["intratumoral"]
    assert region["kept"] == ["a", "b"] and region["dropped"] == {}
    assert region["reader2_undefined"] == {"a": 1}
    r1 = delta[delta.reader == 1].set_index("patient_id")["a"]
    assert r1.tolist() == pytest.approx([0.5, -0.5, 0.0])
    r2 = delta[delta.reader == 2].set_index("patient_id")
    assert np.isnan(r2.loc["P1", "a"]) and r2.loc["P1", "b"] == pytest.approx(0.1)


def test_zero_baseline_of_reader_1_still_drops_the_feature():
    _, info = compute_delta(_two_readers([0.0, 4.0, 5.0], [3.0, 2.0, 5.0], reader2_base=2.0, reader2_early=1.0))
    assert info["regions"]["intratumoral"]["dropped"] == {"a": "zero baseline (1 of 3 patients)"}


def test_near_zero_baseline_is_dropped_below_the_stated_fraction_of_its_sd():
    base = [1e-4, 10.0, 20.0, 30.0]  # SD 12.9099: the floor is 0.0129 at 1e-3, 1.29e-5 at 1e-6
    early = [2e-4, 11.0, 18.0, 30.0]
    _, info = compute_delta(_two_readers(base, early))
    reason = info["regions"]["intratumoral"]["dropped"]["a"]
    assert reason.startswith("near-zero baseline (|baseline| < 0.001 x its SD 12.9 for 1 of 4 patients")
    assert info["regions"]["intratumoral"]["dropped_zero_baseline"] == []
    delta, info = compute_delta(_two_readers(base, early), near_zero=1e-6)
    assert info["regions"]["intratumoral"]["dropped"] == {}
    assert delta.set_index("patient_id")["a"].tolist() == pytest.approx([1.0, 0.1, -0.1, 0.0])


def test_baselines_of_both_signs_are_dropped_for_ratios_kept_for_differences():
    base, early = [-2.0, 1.0, 4.0], [-1.0, 3.0, 2.0]
    _, info = compute_delta(_two_readers(base, early))
    assert info["regions"]["intratumoral"]["dropped"] == {"a": "baseline of both signs (1 negative, 2 positive)"}
    delta, info = compute_delta(_two_readers(base, early), kind="difference")
    assert info["regions"]["intratumoral"]["dropped"] == {} and info["formula"] == "early - baseline"
    assert delta.set_index("patient_id")["a"].tolist() == [1.0, 2.0, -2.0]


def test_log_ratio_closed_form_and_early_of_the_other_sign():
    delta, info = compute_delta(_two_readers([2.0, 4.0, 5.0], [2.0 * np.e, 1.0, 5.0]), kind="log_ratio")
    assert delta.set_index("patient_id")["a"].tolist() == pytest.approx([1.0, np.log(0.25), 0.0])
    _, info = compute_delta(_two_readers([2.0, 4.0, 5.0], [-1.0, 1.0, 0.0]), kind="log_ratio")
    assert info["regions"]["intratumoral"]["dropped"] == {"a": "early of the other sign or 0 (2 of 3 patients)"}
    table = dropped_features(info)
    assert table.to_dict("records") == [
        {
            "delta": "early_vs_baseline",
            "region": "intratumoral",
            "feature": "a",
            "reason": "early of the other sign or 0 (2 of 3 patients)",
        }
    ]


def test_unknown_delta_kind_is_refused():
    with pytest.raises(DeltaradError, match="delta must be one of"):
        compute_delta(_two_readers([2.0, 4.0], [3.0, 2.0]), kind="ratio")
