"""A model file's probabilities computed by hand from its numbers, with plain numpy and pandas:
the expected values of tests that score with deltarad (run, predict, validate), so they check
deltarad against what the model file says rather than against another deltarad output.

Reader 1's delta by the file's formula, ComBat's location-scale adjustment (Johnson, Li & Rabinovic,
Biostatistics 2007;8:118: x* = ((x - mean) / sd - gamma*) / sqrt(delta*) x sd + mean), z-scores
with the stored training mean and SD, and each logistic model's expit(intercept + sum beta x).
Under mice the combined model's probability is the mean over the stored imputations' fits; a
patient with a blank to impute (a random draw) gets NaN here."""

from __future__ import annotations

import numpy as np
import pandas as pd

DELTA = {
    "relative": lambda base, early: (early - base) / base,
    "log_ratio": lambda base, early: np.log(early / base),
    "difference": lambda base, early: early - base,
}


def _expit(z):
    with np.errstate(over="ignore"):  # exp(745+) is inf: probability 0
        return 1 / (1 + np.exp(-np.asarray(z, float)))


def _delta(model: dict, features: pd.DataFrame, region: str, names: list[str], patients: pd.Index) -> np.ndarray:
    rows = features[(features["reader"] == 1) & (features["region"] == region)]
    at = {
        t: rows[rows["timepoint"] == t].set_index("patient_id")[names].reindex(patients).to_numpy(float)
        for t in ("baseline", "early")
    }
    return DELTA[model["delta"]["kind"]](at["baseline"], at["early"])


def _combat(params: dict, region: str, names: list[str], delta: np.ndarray, cohort: pd.DataFrame) -> np.ndarray:
    if not params or region not in params["regions"]:
        return delta
    stored = params["regions"][region]
    j = [stored["features"].index(name) for name in names]
    mean, sd = np.asarray(stored["grand_mean"])[j], np.sqrt(np.asarray(stored["var_pooled"])[j])
    centre = cohort[params["column"]].astype(str)
    gamma = np.array([np.asarray(stored["gamma_star"][c])[j] for c in centre])
    scale = np.array([np.asarray(stored["delta_star"][c])[j] for c in centre])
    return ((delta - mean) / sd - gamma) / np.sqrt(scale) * sd + mean


def _column(name: str, cohort: pd.DataFrame, scores: pd.DataFrame) -> np.ndarray:
    if name in scores:
        return scores[name].to_numpy(float)
    if name in cohort:
        return pd.to_numeric(cohort[name]).to_numpy(float)
    variable, level = name[:-1].split("[", 1)  # a dummy: name[level]
    values = cohort[variable]
    return np.where(values.isna(), np.nan, (values.astype(str) == level).astype(float))


def score_by_hand(model: dict, features: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    """Each radscore, each reference model (the study's: us) and combined for each row of `cohort` (indexed by patient_id),
    from the model file `model` (parsed JSON) and the long feature table `features`."""
    cohort = cohort.set_index("patient_id")
    scores = pd.DataFrame(index=cohort.index)
    for name, part in model["radscores"].items():
        names = list(part["features"])
        delta = _combat(
            model.get("harmonization"),
            part["region"],
            names,
            _delta(model, features, part["region"], names, cohort.index),
            cohort,
        )
        z = (delta - np.array([part["mean"][f] for f in names])) / np.array([part["sd"][f] for f in names])
        scores[name] = _expit(part["intercept"] + z @ np.array([part["coefficients"][f] for f in names]))
    for name, ref in model["references"].items():  # the study's: the ultrasound read, named us
        scores[name] = _expit(
            ref["intercept"] + sum(beta * _column(v, cohort, scores) for v, beta in ref["coefficients"].items())
        )
    combined = model["combined"]
    fits = combined["imputations"] if "imputation" in combined else [combined]
    scores["combined"] = np.mean(
        [
            _expit(fit["intercept"] + sum(beta * _column(c, cohort, scores) for c, beta in fit["coefficients"].items()))
            for fit in fits
        ],
        axis=0,
    )
    return scores
