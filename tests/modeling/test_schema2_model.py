"""A schema-2 model file (deltarad before designs: written by `deltarad demo --features-only` of
that version, committed as it was) still loads, implies the study's design and scores, with every
probability recomputed here by hand from the file's coefficients."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from deltarad.design import Design
from deltarad.modeling.modelfile import DeltaradModel

FIXTURE = Path(__file__).parent / "data" / "model_schema2.json"


def _by_hand(stored: dict, X: pd.DataFrame) -> np.ndarray:
    """A radscore's probability: its LASSO coefficients on the features z-scored with its training mean and SD."""
    z = sum(stored["coefficients"][f] * (X[f] - stored["mean"][f]) / stored["sd"][f] for f in stored["features"])
    return expit(stored["intercept"] + z)


def test_schema2_file_loads_with_the_study_design_and_scores() -> None:
    raw = json.loads(FIXTURE.read_text())
    assert raw["schema_version"] == 2 and "design" not in raw
    model = DeltaradModel.from_json(FIXTURE)
    assert model.design == Design()  # the study's: ultrasound read in column 'ultrasound'
    assert model.design.model_columns == ("radscore_dir", "radscore_dpr", "us", "combined")

    rng = np.random.default_rng(3)
    ids = ["A", "B", "C", "D"]
    features = sorted({f for part in raw["radscores"].values() for f in part["features"]})
    rows = [
        {"patient_id": p, "region": region, "reader": 1, **dict(zip(features, rng.normal(0, 0.2, len(features))))}
        for p in ids
        for region in ("intratumoral", "peritumoral")
    ]
    delta = pd.DataFrame(rows)  # a delta table of its time: no `delta` column
    clinical = pd.DataFrame(
        {
            "patient_id": ids,
            "ultrasound": [1, 0, 1, 0],
            "ki67": ["high", "low", "low", "high"],
            "age": 50,
            "ca153": 10.0,
            "subtype": "luminal A",
        }
    )
    scores = model.predict_proba(delta, clinical)

    assert list(scores.columns) == ["patient_id", "radscore_dir", "radscore_dpr", "us", "combined"]
    for name, region in (("radscore_dir", "intratumoral"), ("radscore_dpr", "peritumoral")):
        X = delta[delta["region"] == region].set_index("patient_id")
        np.testing.assert_allclose(scores[name], _by_hand(raw["radscores"][name], X).loc[ids], rtol=1e-12)
    us = raw["ultrasound_model"]
    np.testing.assert_allclose(
        scores["us"], expit(us["intercept"] + us["coefficients"]["ultrasound"] * clinical["ultrasound"]), rtol=1e-12
    )
    beta = raw["combined"]["coefficients"]
    lp = (
        raw["combined"]["intercept"]
        + beta["ki67[low]"] * (clinical["ki67"] == "low")
        + beta["ultrasound"] * clinical["ultrasound"]
        + beta["radscore_dir"] * scores["radscore_dir"]
        + beta["radscore_dpr"] * scores["radscore_dpr"]
    )
    np.testing.assert_allclose(scores["combined"], expit(lp), rtol=1e-9, atol=1e-12)
