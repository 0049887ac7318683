"""ComBat harmonisation of the delta features across centres (Johnson, Li & Rabinovic,
Biostatistics 2007; the parametric empirical-Bayes location/scale model as neuroCombat 0.2.12
computes it).

Fitted on the training patients only, per delta and region, on reader 1's delta features, with the centre
as the only batch variable: the outcome is not protected as a covariate because a new patient's
outcome is unknown when the stored transform is applied. The fitted parameters are plain numbers
(`ComBat.to_dict`), stored in model.json and applied to new patients of the same centres.

neuroHarmonize 2.5.2 (fit-on-train, apply-to-new) pins numpy < 2 and cannot be used here;
neuroCombat returns numpy estimates and converts a DataFrame to float32, so this module
reimplements the same estimator and is tested against neuroCombat's output.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from deltarad.encoding import label, level_of
from deltarad.errors import DeltaradError
from deltarad.features.delta import DeltaMatrices

log = logging.getLogger(__name__)

CONVERGENCE = 1e-4  # relative change of the EB estimates, as neuroCombat's it_sol


def _inverse_gamma_prior(delta_hat: np.ndarray) -> tuple[float, float]:
    """Method-of-moments inverse-gamma hyperparameters (a, b) of the per-feature batch variances."""
    m, s2 = delta_hat.mean(), delta_hat.var(ddof=1)
    return (2 * s2 + m**2) / s2, (m * s2 + m**3) / s2


def _empirical_bayes(s: np.ndarray, gamma_hat, delta_hat, gamma_bar, t2, a, b) -> tuple[np.ndarray, np.ndarray]:
    """Posterior location (gamma*) and scale (delta*) of one batch, iterated to convergence."""
    n = s.shape[0]
    g_old, d_old = gamma_hat.copy(), delta_hat.copy()
    while True:
        g_new = (t2 * n * gamma_hat + d_old * gamma_bar) / (t2 * n + d_old)
        sum2 = ((s - g_new) ** 2).sum(axis=0)
        d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
        change = max(np.max(np.abs(g_new - g_old) / g_old), np.max(np.abs(d_new - d_old) / d_old))
        g_old, d_old = g_new, d_new
        if change <= CONVERGENCE:
            return g_new, d_new


class ComBat:
    """Parametric empirical-Bayes ComBat on a patients x features matrix, batch = centre."""

    def fit(self, X: pd.DataFrame, centre: pd.Series) -> ComBat:
        x = X.to_numpy(float)
        centre = np.asarray(centre).astype(str)
        levels, counts = np.unique(centre, return_counts=True)
        if (counts < 2).any():
            raise DeltaradError(
                f"ComBat needs at least 2 training patients per centre; centre "
                f"{levels[counts < 2][0]!r} has {counts[counts < 2][0]}"
            )
        if not np.isfinite(x).all():
            raise DeltaradError("ComBat: the training delta features contain missing or infinite values")
        self.features_ = list(X.columns)
        batch_means = np.stack([x[centre == c].mean(axis=0) for c in levels])
        self.grand_mean_ = (counts / len(x)) @ batch_means
        residual = x - batch_means[np.searchsorted(levels, centre)]
        var_pooled = (residual**2).mean(axis=0)
        constant = var_pooled == 0
        var_pooled[constant] = 1.0  # no spread within any centre: nothing to rescale
        self.var_pooled_ = var_pooled
        s = (x - self.grand_mean_) / np.sqrt(var_pooled)

        gamma_hat = np.stack([s[centre == c].mean(axis=0) for c in levels])
        delta_hat = np.stack([s[centre == c].var(axis=0, ddof=1) for c in levels])
        delta_hat[delta_hat == 0] = 1.0
        self.gamma_star_, self.delta_star_ = {}, {}
        for k, c in enumerate(levels):
            if x.shape[1] < 2:  # the priors need >= 2 features: plain location/scale estimates
                g, d = gamma_hat[k], delta_hat[k]
            else:
                a, b = _inverse_gamma_prior(delta_hat[k])
                g, d = _empirical_bayes(
                    s[centre == c], gamma_hat[k], delta_hat[k], gamma_hat[k].mean(), gamma_hat[k].var(ddof=1), a, b
                )
            g, d = np.where(constant, 0.0, g), np.where(constant, 1.0, d)
            self.gamma_star_[str(c)], self.delta_star_[str(c)] = g, d
        return self

    @property
    def centres(self) -> list[str]:
        return list(self.gamma_star_)

    def transform(self, X: pd.DataFrame, centre: pd.Series) -> pd.DataFrame:
        """Harmonised copy of X (rows of centres seen in fit; columns: any of the fitted features,
        each transformed on its own); raises for an unseen centre."""
        centre = np.asarray(centre).astype(str)
        unseen = sorted(set(centre) - set(self.centres))
        if unseen:
            raise DeltaradError(
                f"centre {unseen[0]!r} was not in the training data (ComBat knows {', '.join(self.centres)})"
            )
        position = {f: j for j, f in enumerate(self.features_)}
        j = np.array([position[f] for f in X.columns], dtype=int)
        x = X.to_numpy(float)
        gamma = np.stack([self.gamma_star_[c][j] for c in centre]) if len(centre) else np.zeros((0, len(j)))
        delta = np.stack([self.delta_star_[c][j] for c in centre]) if len(centre) else np.ones((0, len(j)))
        mean, sd = self.grand_mean_[j], np.sqrt(self.var_pooled_[j])
        s = (x - mean) / sd
        out = (s - gamma) / np.sqrt(delta) * sd + mean
        return pd.DataFrame(out, index=X.index, columns=X.columns)

    def to_dict(self) -> dict:
        return {
            "features": self.features_,
            "grand_mean": self.grand_mean_.tolist(),
            "var_pooled": self.var_pooled_.tolist(),
            "gamma_star": {c: g.tolist() for c, g in self.gamma_star_.items()},
            "delta_star": {c: d.tolist() for c, d in self.delta_star_.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> ComBat:
        self = cls()
        self.features_ = list(d["features"])
        self.grand_mean_ = np.asarray(d["grand_mean"], float)
        self.var_pooled_ = np.asarray(d["var_pooled"], float)
        self.gamma_star_ = {c: np.asarray(v, float) for c, v in d["gamma_star"].items()}
        self.delta_star_ = {c: np.asarray(v, float) for c, v in d["delta_star"].items()}
        return self


def _centres(cohort: pd.DataFrame, column: str, patients: pd.Index) -> pd.Series:
    """Each patient's centre (as text, by value: centre 1 and 1.0 are one), indexed like `patients`."""
    by_patient = cohort.set_index("patient_id")[column]
    missing = by_patient.isna()
    if missing.any():
        raise DeltaradError(f"no '{column}' value", patient=str(by_patient.index[missing][0]))
    return pd.Series(patients, index=patients).map(by_patient.map(lambda v: label(level_of(v))))


def fit_harmonization(settings, cohort: pd.DataFrame, delta: DeltaMatrices, train_ids: list[str]) -> dict | None:
    """The stored harmonisation of one fitted model, or None when it does not apply.

    `settings` is the study's HarmonizeSettings; `delta` holds each region's delta features.
    ComBat is fitted per region on reader 1's values when the method is combat, the cohort has
    the centre column and the training patients come from at least 2 centres.
    """
    if settings.method == "none" or settings.column not in cohort.columns:
        return None
    train = cohort[cohort["patient_id"].isin(train_ids)]
    centres = _centres(train, settings.column, pd.Index(train_ids))
    if centres.nunique() < 2:
        log.info("harmonisation skipped: all training patients come from centre %s", centres.iloc[0])
        return None
    fitted: dict[str, dict] = {}
    for (pair, region, reader), X in delta.items():
        if reader == 1:
            fitted.setdefault(pair, {})[region] = ComBat().fit(X.reindex(train_ids), centres).to_dict()
    log.info("ComBat fitted on %d training patients from %d centres", len(train_ids), centres.nunique())
    # one delta: per region, as model files always stored it; several: per delta, then region
    parts = {"regions": next(iter(fitted.values()), {})} if len(fitted) <= 1 else {"deltas": fitted}
    return {"method": "combat", "column": settings.column, "unseen_centre": settings.unseen_centre, **parts}


def _stored_combat(params: dict, pair: str, region: str) -> dict | None:
    """The stored ComBat parameters of one delta and region (None: not harmonised)."""
    if "deltas" in params:
        return params["deltas"].get(pair, {}).get(region)
    return params["regions"].get(region)


def apply_harmonization(params: dict | None, cohort: pd.DataFrame, delta: DeltaMatrices) -> DeltaMatrices:
    """The delta matrices (every reader) with the stored ComBat transform applied per region.

    Patients of a centre the model has not seen raise a DeltaradError unless the stored
    `unseen_centre` is "none", which leaves their features unharmonised (with a warning).
    """
    if not params:
        return delta
    column = params["column"]
    if column not in cohort.columns:
        raise DeltaradError(f"the model harmonises by '{column}' (ComBat), but the cohort has no such column")
    out: dict = {}
    unseen_rows: dict = {}
    for (pair, region, reader), X in delta.items():
        stored = _stored_combat(params, pair, region)
        if stored is None:
            out[pair, region, reader] = X
            continue
        combat = ComBat.from_dict(stored)
        centres = _centres(cohort, column, X.index)
        known = centres.notna().to_numpy()
        unseen = known & ~centres.isin(combat.centres).to_numpy()
        if unseen.any():
            if params["unseen_centre"] == "error":
                raise DeltaradError(
                    f"centre {centres[unseen].iloc[0]!r} was not among the training centres "
                    f"({', '.join(combat.centres)}), so ComBat cannot harmonise it; set "
                    "harmonize: {unseen_centre: none} in the study file to score it unharmonised",
                    patient=str(X.index[unseen][0]),
                )
            unseen_rows.setdefault(region, []).append(centres[unseen])
        rows = known & ~unseen
        X = X.copy()
        if rows.any():
            X.loc[rows] = combat.transform(X.loc[rows], centres[rows]).to_numpy()
        out[pair, region, reader] = X
    for centres in unseen_rows.values():
        centres = pd.concat(centres)
        log.warning(
            "%d delta row(s) of unseen centre(s) %s left unharmonised", len(centres), ", ".join(sorted(set(centres)))
        )
    return DeltaMatrices(out)
