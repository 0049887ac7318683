"""The design's models: a LASSO radscore per (regions, delta), the reference models (logistic
regression on cohort columns; the study's: the ultrasound read) and the stepwise combined model."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from deltarad.encoding import Encoding, encodings_for
from deltarad.errors import DeltaradError
from deltarad.modeling.missing import refit_on_own_complete_cases, stepwise_rows
from deltarad.modeling.stepwise import StepResult, main_effects, step_aic
from deltarad.stats.logit import LogitFit

if TYPE_CHECKING:  # scoring a model file needs no selection code
    from deltarad.modeling.selection import RegionSelection

log = logging.getLogger(__name__)


@dataclass
class Radscore:
    """The region's LASSO logistic model on its selected delta features (z-scored with training
    values); Radscore = its predicted probability.

    The LASSO coefficients are kept rather than refitting an unpenalised logistic regression on the
    selected features: a refit on ~10 features of ~130 patients separates the training set (seen on
    planted-signal data: AIC 8 for the combined model) and its radscores then dominate the combined
    model. With no selected feature it is the intercept-only model: every patient gets the training
    prevalence.
    """

    region: str  # its selection's name (Design.selection_name): the region, for the study's radscores
    features: list[str]
    mean: dict[str, float]
    sd: dict[str, float]
    fit: LogitFit
    notes: list[str] = field(default_factory=list)
    regions: list[str] | None = None  # the regions whose delta features it scores (None: [region])
    delta: str | None = None  # the delta pair (DeltaPair.name); None: the model's single one

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Radscore of each row of X (patients x delta features of the regions, unscaled; pooled
        regions' features region-prefixed, design.pooled_feature)."""
        return self.fit.predict(self.standardise(X))

    def standardise(self, X: pd.DataFrame) -> pd.DataFrame:
        """The selected features z-scored with the training mean and SD."""
        return (X[self.features] - pd.Series(self.mean)) / pd.Series(self.sd) if self.features else X.iloc[:, :0]

    def to_dict(self) -> dict:
        """The model file's part for this radscore."""
        return {
            "region": self.region,
            "regions": list(self.regions or [self.region]),
            "delta": self.delta,
            "features": self.features,
            "mean": self.mean,
            "sd": self.sd,
            **self.fit.to_dict(),
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, stored: dict) -> Radscore:
        return cls(
            stored["region"],
            list(stored["features"]),
            dict(stored["mean"]),
            dict(stored["sd"]),
            LogitFit.from_dict(stored),
            list(stored.get("notes", [])),
            list(stored.get("regions") or [stored["region"]]),
            stored.get("delta"),
        )


def fit_radscore(
    selection: RegionSelection,
    X: pd.DataFrame,
    y: np.ndarray,
    regions: list[str] | None = None,
    delta: str | None = None,
) -> Radscore:
    feats = selection.features
    fit = LogitFit(float(selection.intercept), {f: float(selection.coefficients[f]) for f in feats}, n=len(y))
    radscore = Radscore(
        selection.region,
        feats,
        selection.mean.to_dict(),
        selection.sd.to_dict(),
        fit,
        list(selection.notes),
        regions,
        delta,
    )
    p = np.clip(radscore.predict(X), 1e-15, 1 - 1e-15)
    fit.deviance = float(-2 * np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return radscore


@dataclass
class CombinedModel:
    """Stepwise-AIC logistic model over clinical variables, the references' columns and the radscores."""

    encodings: list[Encoding]
    step: StepResult
    missing: dict = field(default_factory=dict)  # n of the stepwise search and of the final fit

    @property
    def terms(self) -> list[str]:
        return [t.name for t in self.step.terms]


def fit_combined(
    data: pd.DataFrame,
    y: np.ndarray,
    candidates: list[str],
    categorical: list[str],
    reference_levels: dict | None = None,
) -> CombinedModel:
    """Both-direction stepwise AIC starting from the full model over `candidates`.

    A candidate with blanks stays a candidate: the search runs on the complete cases of all
    candidates (stepAIC needs the same patients in every model), and the chosen model is refitted
    on the complete cases of its own variables (deltarad.modeling.missing), where its design is
    tested for separation.
    """
    usable = list(candidates)
    if not usable:
        raise DeltaradError("no candidate variable for the combined model")
    encodings = encodings_for(data, usable, categorical, reference_levels)
    design, terms = main_effects(data, encodings)
    rows = stepwise_rows(data, usable)
    step = step_aic(design[rows], np.asarray(y)[rows], terms, scope=terms, direction="both")
    step, note = refit_on_own_complete_cases(step, data, design, y)
    log.info("combined model: %s (AIC %.1f)", " + ".join(t.name for t in step.terms) or "intercept", step.fit.aic)
    if step.fit.separation:
        log.warning(
            "combined model: its terms separate the training patients (quasi-)completely; the "
            "coefficients are unstable and the training AUC is optimistic (see internal validation)"
        )
    return CombinedModel(encodings, step, note)
