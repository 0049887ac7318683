"""Multiple imputation by chained equations (policy `mice`), fitted on the training set only.

Training (van Buuren, Flexible Imputation of Missing Data, 2nd ed., ch. 4 and 6): m imputations,
each with its own seed. Each starts from random draws of the observed values, then cycles
`iterations` times through the clinical variables with blanks; each variable is drawn from a model
on all the others (the other clinical variables, the ultrasound read, both radscores and the
outcome: the outcome belongs in the imputation model of a data set that will be analysed for it,
Moons et al., J Clin Epidemiol 2006;59:1092), its parameters fitted on a bootstrap sample of the
patients where it is observed (so each draw carries their uncertainty, mice's *.boot methods):
- numeric: linear regression and predictive mean matching (a random one of the 5 observed patients
  whose predicted mean, by the full-data fit, is closest to the blank's, by the bootstrap fit);
- categorical: multinomial logistic regression (baseline-category logits by Newton's method, the
  slopes mildly ridge-penalised, 1/10 on z-scored predictors, so that a sparse level cannot run off
  to infinity), a level drawn from its probabilities.

Scoring (validation and new patients): the outcome is unknown, so it is never a predictor. For
each imputation the model file stores, for every clinical variable, a regression on the others
without the outcome, fitted on a bootstrap sample of that completed training set (plain numbers:
z-scoring, coefficients, a residual SD or the levels). A patient's blanks start at the training
mean or mode and are drawn `iterations` times from these models (numeric: normal draw, mean +
SD x z, as donors would need training patients' values in the model file; categorical: a level
from its probabilities), each patient with its own seed (seed, imputation, CRC-32 of the patient
id), so a patient's scores do not depend on who else is in the table. The combined model's
prediction is the mean probability over the m imputations.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import softmax
from scipy.stats import norm

from deltarad.config import MissingSettings
from deltarad.encoding import Encoding, encodings_for, level_of, levels_in
from deltarad.errors import DeltaradError
from deltarad.modeling.models import CombinedModel
from deltarad.modeling.stepwise import StepResult, columns_of, main_effects, step_aic
from deltarad.stats.logit import LogitFit, fit_logit

log = logging.getLogger(__name__)

PMM_DONORS = 5
RIDGE_C = 10.0
OUTCOME = "__outcome__"  # the outcome's name among the imputation predictors (training only)


@dataclass
class Imputation:
    completed: list[pd.DataFrame]  # the training frame with its blanks filled, one per imputation
    scoring: dict  # the JSON part the model file keeps to impute new patients
    counts: dict[str, int]  # blanks imputed per variable in the training set


def _levels_of(values: pd.Series) -> np.ndarray:
    """Each value's level (deltarad.encoding.level_of: 1, 1.0 and "1" are one)."""
    return np.array([level_of(v) for v in values], dtype=object)


def _spec(train: pd.DataFrame, columns: list[str], categorical: set[str]) -> dict:
    spec = {}
    for c in columns:
        values = train[c].dropna()
        if c in categorical or not pd.api.types.is_numeric_dtype(train[c]):
            levels, codes = levels_in(values), list(_levels_of(values))
            spec[c] = {"type": "categorical", "levels": levels, "mode": max(levels, key=codes.count)}
        else:
            sd = float(values.astype(float).std(ddof=1)) if len(values) > 1 else 0.0
            spec[c] = {"type": "numeric", "mean": float(values.astype(float).mean()), "sd": sd if sd > 0 else 1.0}
    return spec


def _design(frame: pd.DataFrame, predictors: list[str], spec: dict) -> np.ndarray:
    """Predictor columns (no intercept): numeric z-scored with training values, categorical as
    dummies against the first level (deltarad.encoding: levels matched by value)."""
    cols = []
    for p in predictors:
        s = spec[p]
        if s["type"] == "numeric":
            cols.append((frame[p].to_numpy(float) - s["mean"]) / s["sd"])
        else:
            cols += list(Encoding(p, tuple(s["levels"])).encode(frame[p]).to_numpy(float).T)
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def _ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    A = np.column_stack([np.ones(len(X)), X])
    beta = np.linalg.lstsq(A, y, rcond=None)[0]
    dof = max(len(y) - np.linalg.matrix_rank(A), 1)
    return beta, float(np.sqrt(np.sum((y - A @ beta) ** 2) / dof))


def _multinomial(X: np.ndarray, labels: np.ndarray, levels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Baseline-category multinomial logistic regression by Newton's method with a ridge penalty
    (1 / RIDGE_C) on the slopes, never on the intercepts. Returns intercepts (K) and coefficients
    (K x p) over all `levels`, the first present level the reference (0); a level absent from
    `labels` gets intercept -50 (probability about 0; -inf is not JSON)."""
    present = [lvl for lvl in levels if lvl in set(labels)]
    K, n, p = len(levels), X.shape[0], X.shape[1]
    intercepts, coefs = np.full(K, -50.0), np.zeros((K, p))
    intercepts[levels.index(present[0])] = 0.0
    if len(present) == 1:
        return intercepts, coefs
    A = np.column_stack([np.ones(n), X])
    Y = np.column_stack([labels == lvl for lvl in present[1:]]).astype(float)  # n x (K'-1)
    k, q = Y.shape[1], A.shape[1]
    pen = np.tile(np.r_[0.0, np.full(p, 1.0 / RIDGE_C)], k)
    theta = np.zeros(k * q)

    def objective(t: np.ndarray) -> tuple[float, np.ndarray]:
        eta = np.column_stack([np.zeros(n), A @ t.reshape(k, q).T])
        logp = eta - np.logaddexp.reduce(eta, axis=1, keepdims=True)
        return float(np.sum(Y * logp[:, 1:]) + np.sum((1 - Y.sum(axis=1)) * logp[:, 0]) - 0.5 * pen @ t**2), logp

    value, logp = objective(theta)
    for _ in range(100):
        P = np.exp(logp[:, 1:])
        grad = ((Y - P).T @ A).ravel() - pen * theta
        H = np.zeros((k * q, k * q))
        for a in range(k):
            for b in range(k):
                w = P[:, a] * ((a == b) - P[:, b])
                H[a * q : (a + 1) * q, b * q : (b + 1) * q] = (A * w[:, None]).T @ A
        step = np.linalg.solve(H + np.diag(pen) + 1e-10 * np.eye(k * q), grad)
        for _ in range(30):  # step halving: the penalised log-likelihood never decreases
            new_value, new_logp = objective(theta + step)
            if new_value >= value - 1e-12:
                break
            step /= 2
        theta, value, logp = theta + step, new_value, new_logp
        if np.max(np.abs(step)) < 1e-9:
            break
    fitted = theta.reshape(k, q)
    rows = [levels.index(lvl) for lvl in present[1:]]
    intercepts[rows], coefs[rows] = fitted[:, 0], fitted[:, 1:]
    return intercepts, coefs


def _pmm(rng, yhat_obs: np.ndarray, yhat_mis: np.ndarray, observed: np.ndarray) -> np.ndarray:
    k = min(PMM_DONORS, len(observed))
    nearest = np.argsort(np.abs(yhat_mis[:, None] - yhat_obs[None, :]), axis=1, kind="stable")[:, :k]
    return observed[nearest[np.arange(len(yhat_mis)), rng.integers(0, k, len(yhat_mis))]]


def _draw_levels(u: np.ndarray, probabilities: np.ndarray, levels: list[str]) -> np.ndarray:
    """Inverse-CDF draw of one level per row from uniform numbers `u`."""
    index = (u[:, None] > np.cumsum(probabilities, axis=1)[:, :-1]).sum(axis=1)
    return np.asarray(levels, dtype=object)[index]


def _chain(
    frame: pd.DataFrame, targets: list[str], spec: dict, predictors: dict[str, list[str]], iterations: int, rng
) -> pd.DataFrame:
    """One imputation of the training frame by chained equations (PMM / multinomial draws)."""
    blank = {v: frame[v].isna().to_numpy() for v in targets}
    frame = frame.copy()
    for v in targets:
        if blank[v].any():
            observed = frame.loc[~blank[v], v].to_numpy()
            if spec[v]["type"] == "categorical":
                frame[v] = frame[v].astype(object).where(~blank[v], None)
                observed = _levels_of(frame.loc[~blank[v], v])
            frame.loc[blank[v], v] = rng.choice(observed, blank[v].sum())
    for _ in range(iterations):
        for v in targets:
            mis = blank[v]
            if not mis.any():
                continue
            X = _design(frame, predictors[v], spec)
            obs = np.flatnonzero(~mis)
            boot = rng.choice(obs, len(obs))
            if spec[v]["type"] == "numeric":
                y = frame[v].to_numpy(float)
                beta_hat, _ = _ols(X[obs], y[obs])
                beta_boot, _ = _ols(X[boot], y[boot])
                A = np.column_stack([np.ones(len(X)), X])
                frame.loc[mis, v] = _pmm(rng, A[obs] @ beta_hat, A[mis] @ beta_boot, y[obs])
            else:
                labels = _levels_of(frame[v])
                b0, B = _multinomial(X[boot], labels[boot], spec[v]["levels"])
                probs = softmax(b0 + X[mis] @ B.T, axis=1)
                frame.loc[mis, v] = _draw_levels(rng.random(mis.sum()), probs, spec[v]["levels"])
    return frame


def _scoring_models(frame: pd.DataFrame, targets: list[str], spec: dict, predictors: dict[str, list[str]], rng) -> dict:
    """Per clinical variable, its regression on the others without the outcome, fitted on a
    bootstrap sample of one completed training set."""
    boot = rng.integers(0, len(frame), len(frame))
    models = {}
    for v in targets:
        preds = [p for p in predictors[v] if p != OUTCOME]
        X = _design(frame, preds, spec)[boot]
        if spec[v]["type"] == "numeric":
            beta, sd = _ols(X, frame[v].to_numpy(float)[boot])
            models[v] = {"intercept": float(beta[0]), "coefficients": beta[1:].tolist(), "sd": sd}
        else:
            b0, B = _multinomial(X, _levels_of(frame[v])[boot], spec[v]["levels"])
            models[v] = {"intercepts": b0.tolist(), "coefficients": B.tolist()}
    return models


def fit_imputation(
    train: pd.DataFrame,
    targets: list[str],
    complete: list[str],
    outcome: str,
    categorical: list[str],
    settings: MissingSettings,
) -> Imputation:
    """m completed copies of `train` (indexed by patient; `targets` may have blanks, `complete`
    columns and the outcome may not) and the scoring models for new patients."""
    frame = train[[*targets, *complete]].copy()
    frame[OUTCOME] = train[outcome].to_numpy(float)
    if frame[[*complete, OUTCOME]].isna().any().any():
        raise DeltaradError(f"imputation: {', '.join(complete)} and the outcome must have no blanks")
    spec = _spec(frame, [*targets, *complete, OUTCOME], set(categorical))
    empty = [v for v in targets if frame[v].notna().sum() < 2]
    if empty:
        raise DeltaradError(f"imputation: '{empty[0]}' has fewer than 2 observed values in the training set")
    predictors = {v: [p for p in [*targets, *complete, OUTCOME] if p != v] for v in targets}
    counts = {v: int(frame[v].isna().sum()) for v in targets}
    completed, scoring = [], []
    for j in range(settings.imputations):
        rng = np.random.default_rng([settings.seed, j])
        filled = _chain(frame, targets, spec, predictors, settings.iterations, rng)
        scoring.append(_scoring_models(filled, targets, spec, predictors, rng))
        out = train.copy()
        for v in targets:
            out[v] = filled[v].to_numpy() if spec[v]["type"] == "numeric" else filled[v].astype(object).to_numpy()
        completed.append(out)
    log.info(
        "imputation: %d imputations by chained equations of %s (training blanks: %s)",
        settings.imputations,
        ", ".join(targets),
        ", ".join(f"{v} {n}" for v, n in counts.items() if n) or "none",
    )
    json_spec = {k: v for k, v in spec.items() if k != OUTCOME}
    return Imputation(
        completed,
        {
            "method": "chained equations: training PMM / multinomial draws with the outcome; scoring normal / "
            "multinomial draws without it",
            "seed": settings.seed,
            "iterations": settings.iterations,
            "targets": targets,
            "predictors": {v: [p for p in ps if p != OUTCOME] for v, ps in predictors.items()},
            "variables": json_spec,
            "models": scoring,
            "training_blanks": counts,
        },
        counts,
    )


def impute_new(imputation: dict, data: pd.DataFrame, j: int) -> pd.DataFrame:
    """`data` (indexed by patient id, with the clinical, ultrasound and radscore columns) with its
    clinical blanks drawn from imputation `j`'s scoring models."""
    targets, spec, models = imputation["targets"], imputation["variables"], imputation["models"][j]
    frame = data.copy()
    blank = pd.DataFrame({v: frame[v].isna() for v in targets}, index=frame.index)
    rows = np.flatnonzero(blank.any(axis=1).to_numpy())
    if not len(rows):
        return frame
    iterations = imputation["iterations"]
    u = np.empty((len(rows), iterations, len(targets)))
    for i, r in enumerate(rows):  # each patient its own stream: independent of the rest of the table
        rng = np.random.default_rng([imputation["seed"], j, zlib.crc32(str(frame.index[r]).encode())])
        u[i] = rng.random((iterations, len(targets)))
    for v in targets:
        s = spec[v]
        if s["type"] == "categorical":
            frame[v] = frame[v].astype(object)
            frame.loc[blank[v], v] = s["mode"]
        else:
            frame.loc[blank[v], v] = s["mean"]
    sub = frame.iloc[rows].copy()
    sub_blank = blank.iloc[rows].to_numpy()
    for t in range(iterations):
        for k, v in enumerate(targets):
            mis = sub_blank[:, k]
            if not mis.any():
                continue
            X = _design(sub.loc[mis], imputation["predictors"][v], spec)
            m = models[v]
            if spec[v]["type"] == "numeric":
                mean = m["intercept"] + X @ np.asarray(m["coefficients"], float)
                z = _normal(u[mis, t, k])
                sub.loc[mis, v] = mean + m["sd"] * z
            else:
                probs = softmax(np.asarray(m["intercepts"]) + X @ np.asarray(m["coefficients"]).T, axis=1)
                sub.loc[mis, v] = _draw_levels(u[mis, t, k], probs, spec[v]["levels"])
    frame.iloc[rows] = sub
    return frame


def _normal(u: np.ndarray) -> np.ndarray:
    return norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))


def pooled_probability(model: dict, data: pd.DataFrame, encode) -> np.ndarray:
    """The combined model's mean probability over the imputations (data indexed by patient)."""
    part = model["combined"]
    probabilities = [
        LogitFit.from_dict(fit).predict(encode(impute_new(part["imputation"], data, j)))
        for j, fit in enumerate(part["imputations"])
    ]
    return np.mean(probabilities, axis=0)


def fit_combined_mice(
    completed: list[pd.DataFrame],
    observed: pd.DataFrame,
    y: np.ndarray,
    candidates: list[str],
    categorical: list[str],
    reference_levels: dict | None = None,
) -> CombinedModel:
    """The combined model over m completed training sets: both-direction stepwise AIC on each; the
    terms chosen in at least half of them (the majority method, Wood, White & Royston, Stat Med
    2008;27:3227) refitted on each; coefficients pooled as their mean (Rubin's rules' point
    estimate), each imputation's kept for scoring."""
    if not candidates:
        raise DeltaradError("no candidate variable for the combined model")
    encodings = encodings_for(observed, list(candidates), categorical, reference_levels)
    chosen: dict[str, int] = {}
    for frame in completed:
        design, terms = main_effects(frame, encodings)
        for t in step_aic(design, y, terms, scope=terms, direction="both").terms:
            chosen[t.name] = chosen.get(t.name, 0) + 1
    m = len(completed)
    keep = [t for t in terms if 2 * chosen.get(t.name, 0) >= m]
    fits = [fit_logit(main_effects(frame, encodings)[0][columns_of(keep)], y) for frame in completed]
    names = list(fits[0].coefficients)
    pooled = LogitFit(
        float(np.mean([f.intercept for f in fits])),
        {c: float(np.mean([f.coefficients[c] for f in fits])) for c in names},
        float(np.mean([f.deviance for f in fits])),
        len(y),
        any(f.separation for f in fits),
    )
    path = [
        {"step": "+" if 2 * n >= m else "-", "term": t, "imputations_chosen": n}
        for t, n in sorted(chosen.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    log.info(
        "combined model (%d imputations, majority of stepwise AIC): %s",
        m,
        " + ".join(t.name for t in keep) or "intercept",
    )
    note = {
        "missing": (
            f"stepwise AIC on each of {m} imputed training sets; terms chosen in at least half kept "
            "(majority method); coefficients = mean over imputations, predictions = mean probability"
        ),
        "selection_frequency": {t.name: chosen.get(t.name, 0) / m for t in terms},
        "imputations": [f.to_dict() for f in fits],
    }
    return CombinedModel(encodings, StepResult(keep, pooled, path), note)
