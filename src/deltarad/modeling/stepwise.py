"""Stepwise logistic regression by AIC in both directions, as MASS::stepAIC does it.

A term is a variable (one design column, or one dummy column per non-reference level of a
categorical variable) or an interaction of variables. Terms enter and leave whole. Like stepAIC
the search respects marginality: a term cannot be dropped while a higher-order term containing it
is in the model, and an interaction can only be added when all its lower-order terms are in.
Each step takes the single add or drop with the lowest AIC = deviance + 2k, and the search stops
when no step lowers the AIC of the current model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from deltarad.encoding import Encoding, design_columns
from deltarad.stats.logit import LogitFit, fit_logit

AIC_TOLERANCE = 1e-7  # stepAIC's: a step must lower the AIC by more than this


@dataclass(frozen=True)
class Term:
    name: str
    factors: frozenset[str]
    columns: tuple[str, ...]


def main_effects(df: pd.DataFrame, encodings: list[Encoding]) -> tuple[pd.DataFrame, list[Term]]:
    """The design columns of `encodings` (deltarad.encoding.design_columns) and one term per variable."""
    return design_columns(df, encodings), [Term(e.name, frozenset([e.name]), tuple(e.columns)) for e in encodings]


def interaction(design: pd.DataFrame, a: Term, b: Term) -> tuple[pd.DataFrame, Term]:
    """The a:b interaction columns (products of their design columns), added to `design`."""
    name = f"{a.name}:{b.name}"
    cols = {f"{ca}:{cb}": design[ca] * design[cb] for ca in a.columns for cb in b.columns}
    design = pd.concat([design, pd.DataFrame(cols, index=design.index)], axis=1)
    return design, Term(name, a.factors | b.factors, tuple(cols))


def all_pairwise(design: pd.DataFrame, terms: list[Term]) -> tuple[pd.DataFrame, list[Term]]:
    out = []
    for a, b in combinations(terms, 2):
        design, t = interaction(design, a, b)
        out.append(t)
    return design, out


@dataclass
class StepResult:
    terms: list[Term]
    fit: LogitFit
    path: list[dict] = field(default_factory=list)


def columns_of(terms: list[Term]) -> list[str]:
    """The design columns of `terms`, in order."""
    return [c for t in terms for c in t.columns]


def _fit(design: pd.DataFrame, y: np.ndarray, terms: list[Term]) -> LogitFit:
    return fit_logit(
        design[columns_of(terms)], y, separation=False
    )  # a trial fit: separation is asked of the chosen model


def step_aic(
    design: pd.DataFrame,
    y: np.ndarray,
    start: list[Term],
    scope: list[Term] | None = None,
    direction: str = "both",
    max_steps: int = 1000,
) -> StepResult:
    """Stepwise search from `start` within `scope` (default: only terms of `start`, so only drops).
    The fits are not tested for separation (`separation` None): the caller asks it of the model it keeps."""
    if direction not in ("both", "backward", "forward"):
        raise ValueError("direction must be both, backward or forward")
    scope = list(scope) if scope is not None else list(start)
    current = list(start)
    fit = _fit(design, y, current)
    path = [{"step": "start", "term": "", "deviance": fit.deviance, "aic": fit.aic, "df_resid": fit.n - fit.k}]
    for _ in range(max_steps):
        candidates: list[tuple[float, str, Term, LogitFit]] = []
        if direction in ("both", "backward"):
            for t in current:
                if any(t.factors < o.factors for o in current):
                    continue  # marginality: a contained term stays while its interaction is in
                trial = [o for o in current if o != t]
                f = _fit(design, y, trial)
                candidates.append((f.aic, "-", t, f))
        if direction in ("both", "forward"):
            for t in scope:
                if t in current:
                    continue
                lower = [s for s in scope if s.factors < t.factors]
                if not all(s in current for s in lower):
                    continue
                f = _fit(design, y, current + [t])
                candidates.append((f.aic, "+", t, f))
        if not candidates:
            break
        aic, sign, term, best = min(candidates, key=lambda c: (c[0], c[1], c[2].name))
        if aic >= fit.aic - AIC_TOLERANCE:
            break
        current = [o for o in current if o != term] if sign == "-" else current + [term]
        fit = best
        path.append(
            {"step": sign, "term": term.name, "deviance": fit.deviance, "aic": fit.aic, "df_resid": fit.n - fit.k}
        )
    return StepResult(current, fit, path)
