import pandas as pd
import pytest

from deltarad.errors import DeltaradError
from deltarad.features.delta import compute_delta


def _long(rows):
    return pd.DataFrame(rows, columns=["patient_id", "timepoint", "region", "reader", "a", "b"])


def test_relative_change_and_zero_baseline_feature_dropped_per_region():
    t = _long([
        ("P1", "baseline", "intratumoral", 1, 2.0, 0.0),
        ("P1", "early", "intratumoral", 1, 3.0, 1.0),
        ("P2", "baseline", "intratumoral", 1, 4.0, 5.0),
        ("P2", "early", "intratumoral", 1, 2.0, 5.0),
        ("P1", "baseline", "peritumoral", 1, 1.0, 2.0),
        ("P1", "early", "peritumoral", 1, 1.5, 1.0),
    ])
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
    t = _long([
        ("P1", "baseline", "intratumoral", 1, 2.0, 1.0),
        ("P1", "early", "intratumoral", 1, 3.0, 1.0),
        ("P2", "baseline", "intratumoral", 1, 4.0, 5.0),
    ])
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
