"""ComBat: the same numbers as neuroCombat 0.2.12 (Johnson 2007 parametric EB), fitted on
training patients only, stored as JSON, applied to new patients of known centres."""

import json

import numpy as np
import pandas as pd
import pytest

from deltarad.config import HarmonizeSettings
from deltarad.errors import DeltaradError
from deltarad.features.delta import DeltaMatrices
from deltarad.harmonize import ComBat, apply_harmonization, fit_harmonization

neuroCombat = pytest.importorskip("neuroCombat").neuroCombat


@pytest.fixture(scope="module")
def batches():
    rng = np.random.default_rng(1)
    centre = np.array(["a"] * 20 + ["b"] * 25 + ["c"] * 15)
    X = rng.normal(0, 1, (60, 12))
    X[centre == "b"] += rng.normal(1, 1, 12)  # location effect
    X[centre == "c"] *= 2.5  # scale effect
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(12)]), pd.Series(centre)


def test_matches_neurocombat(batches, capsys):
    X, centre = batches
    reference = neuroCombat(X.to_numpy().T.copy(), pd.DataFrame({"batch": centre}), "batch")
    ours = ComBat().fit(X, centre)
    np.testing.assert_allclose(ours.transform(X, centre).to_numpy(), reference["data"].T, rtol=0, atol=1e-10)
    est = reference["estimates"]
    np.testing.assert_allclose(ours.var_pooled_, est["var.pooled"].ravel(), rtol=1e-12)
    np.testing.assert_allclose(np.stack(list(ours.gamma_star_.values())), est["gamma.star"], rtol=1e-12)


def test_new_patients_get_the_training_transform_through_json(batches, capsys):
    """A patient scored alone after a JSON round trip gets exactly its value from the fit."""
    X, centre = batches
    reference = neuroCombat(X.to_numpy().T.copy(), pd.DataFrame({"batch": centre}), "batch")["data"].T
    stored = ComBat.from_dict(json.loads(json.dumps(ComBat().fit(X, centre).to_dict())))
    for i in (0, 30, 59):
        one = stored.transform(X.iloc[[i]], centre.iloc[[i]])
        np.testing.assert_allclose(one.to_numpy()[0], reference[i], atol=1e-10)


def test_removes_a_centre_shift(batches):
    X, centre = batches
    out = ComBat().fit(X, centre).transform(X, centre)

    def gap(df):  # mean over features of the largest between-centre difference of means
        means = df.groupby(centre.to_numpy()).mean()
        return float((means.max() - means.min()).mean())

    assert gap(X) > 1.0
    assert gap(out) < 0.3 * gap(X)  # empirical Bayes shrinks, so not exactly 0


def _delta_table(rng, ids, centres, shift):
    rows = []
    for pid, c in zip(ids, centres):
        for reader in (1, 2):
            rows.append(
                {
                    "patient_id": pid,
                    "delta": "early_vs_baseline",
                    "region": "intratumoral",
                    "reader": reader,
                    "f0": rng.normal() + (shift if c == "B" else 0),
                    "f1": rng.normal(),
                }
            )
    return pd.DataFrame(rows)


def test_fitted_on_training_patients_only_and_unseen_centre():
    rng = np.random.default_rng(0)
    ids = [f"P{i}" for i in range(40)]
    centres = ["A", "B"] * 20
    cohort = pd.DataFrame({"patient_id": ids, "centre": centres})
    delta = _delta_table(rng, ids, centres, shift=3.0)
    kept = {("early_vs_baseline", "intratumoral"): ["f0", "f1"]}
    train = ids[:30]
    params = fit_harmonization(HarmonizeSettings(), cohort, DeltaMatrices.from_table(delta, kept), train)
    changed = delta.copy()
    changed.loc[changed["patient_id"].isin(ids[30:]), ["f0", "f1"]] = 1e6  # validation patients
    assert fit_harmonization(HarmonizeSettings(), cohort, DeltaMatrices.from_table(changed, kept), train) == params
    json.dumps(params, allow_nan=False)

    harmonised = apply_harmonization(params, cohort, DeltaMatrices.from_table(delta, kept))
    r1 = harmonised["early_vs_baseline", "intratumoral", 1]
    gap = r1.loc[ids[30:]].groupby(cohort.set_index("patient_id").loc[ids[30:], "centre"])["f0"].mean()
    assert abs(gap["B"] - gap["A"]) < 1.0  # the unharmonised gap is 3

    new = pd.DataFrame({"patient_id": ["N1"], "centre": ["C"]})
    new_delta = DeltaMatrices.from_table(_delta_table(rng, ["N1"], ["C"], 0.0), kept)
    with pytest.raises(DeltaradError, match="centre 'C' was not among the training centres") as err:
        apply_harmonization(params, new, new_delta)
    assert err.value.patient == "N1"
    lenient = {**params, "unseen_centre": "none"}
    unharmonised = apply_harmonization(lenient, new, new_delta)
    for key in new_delta:
        pd.testing.assert_frame_equal(unharmonised[key], new_delta[key])


def test_one_centre_or_switched_off_means_no_harmonisation():
    rng = np.random.default_rng(0)
    ids = [f"P{i}" for i in range(10)]
    cohort = pd.DataFrame({"patient_id": ids, "centre": ["A"] * 10})
    delta = _delta_table(rng, ids, ["A"] * 10, 0.0)
    kept = {("early_vs_baseline", "intratumoral"): ["f0", "f1"]}
    matrices = DeltaMatrices.from_table(delta, kept)
    assert fit_harmonization(HarmonizeSettings(), cohort, matrices, ids) is None
    two = cohort.assign(centre=["A", "B"] * 5)
    assert fit_harmonization(HarmonizeSettings(method="none"), two, matrices, ids) is None
    with pytest.raises(DeltaradError, match="at least 2 training patients per centre"):
        fit_harmonization(HarmonizeSettings(), two.assign(centre=["A"] * 9 + ["B"]), matrices, ids)


def test_several_deltas_are_harmonised_each_on_its_own():
    rng = np.random.default_rng(1)
    ids = [f"P{i}" for i in range(40)]
    centres = ["A", "B"] * 20
    cohort = pd.DataFrame({"patient_id": ids, "centre": centres})
    early = _delta_table(rng, ids, centres, shift=3.0)
    post = _delta_table(rng, ids, centres, shift=-2.0).assign(delta="post_vs_baseline")
    delta = pd.concat([early, post], ignore_index=True)
    kept = {("early_vs_baseline", "intratumoral"): ["f0", "f1"], ("post_vs_baseline", "intratumoral"): ["f0", "f1"]}
    params = fit_harmonization(HarmonizeSettings(), cohort, DeltaMatrices.from_table(delta, kept), ids)
    assert "regions" not in params and set(params["deltas"]) == {"early_vs_baseline", "post_vs_baseline"}
    harmonised = apply_harmonization(params, cohort, DeltaMatrices.from_table(delta, kept))
    by_centre = cohort.set_index("patient_id")["centre"]
    for pair in ("early_vs_baseline", "post_vs_baseline"):
        gap = harmonised[pair, "intratumoral", 1].groupby(by_centre)["f0"].mean()
        assert abs(gap["B"] - gap["A"]) < 0.5  # the unharmonised gaps are 3 and -2
