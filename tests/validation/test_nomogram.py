"""The nomogram: a patient's points, summed and read off the probability scale, give the
combined model's own prediction."""

import pytest
from matplotlib.figure import Figure
from scipy.special import expit

from deltarad.errors import DeltaradError
from deltarad.report.nomogram import nomogram_figure, nomogram_scales

MODEL = {
    "combined": {
        "terms": ["subtype", "ultrasound", "radscore_dir", "age"],
        "variables": {
            "subtype": {"type": "categorical", "levels": ["HER2", "luminal", "TN"]},
            "ultrasound": {"type": "numeric", "range": [0.0, 1.0]},
            "radscore_dir": {"type": "numeric"},
            "age": {"type": "numeric", "range": [30.0, 70.0]},
        },
        "intercept": -1.2,
        "coefficients": {
            "subtype[luminal]": -1.5,
            "subtype[TN]": 0.4,
            "ultrasound": 0.9,
            "radscore_dir": 3.0,
            "age": -0.02,
        },
    }
}


def test_points_map_back_to_the_model_probability():
    nomo = nomogram_scales(MODEL)
    by_name = {t.name: t for t in nomo.terms}
    # radscore_dir spans 3.0 on the linear predictor, the widest term: it gets 0-100 points
    assert by_name["radscore_dir"].points.max() == pytest.approx(100)
    # subtype spans 0.4 - (-1.5) = 1.9: luminal (lowest) 0 points, TN 1.9 / 3 * 100
    assert dict(zip(by_name["subtype"].values, by_name["subtype"].points))["TN"] == pytest.approx(190 / 3)
    patient = {"subtype": "TN", "ultrasound": 1.0, "radscore_dir": 1.0, "age": 70.0}
    total = sum(dict(zip(t.values, t.points))[patient[t.name]] for t in nomo.terms)
    lp = -1.2 + 0.4 + 0.9 + 3.0 - 0.02 * 70
    assert nomo.probability(total) == pytest.approx(expit(lp))
    assert nomo.total_points_at(expit(lp)) == pytest.approx(total)


def test_figure_and_errors():
    assert isinstance(nomogram_figure(MODEL), Figure)
    no_range = {
        "combined": {**MODEL["combined"], "variables": {**MODEL["combined"]["variables"], "age": {"type": "numeric"}}}
    }
    with pytest.raises(DeltaradError, match="no training range of 'age'"):
        nomogram_scales(no_range)
    flat = {"combined": {"terms": [], "variables": {}, "intercept": 0.1, "coefficients": {}}}
    with pytest.raises(DeltaradError, match="no term with an effect"):
        nomogram_scales(flat)
