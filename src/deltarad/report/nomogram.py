"""A nomogram of the combined model: one points scale per term, total points -> probability.

Points follow the usual construction (as R's rms::nomogram): the term whose contribution to the
linear predictor spans the widest range gets 0-100 points; every term's points are its
contribution above its own minimum, on the same scale. The sum of a patient's points maps back
to the linear predictor, lp = intercept + sum of term minima + total * (span of the widest term) / 100,
and so to the predicted probability.

Numeric terms span their training range (stored in model.json), a categorical term its levels
(the reference level contributes 0); radscores are probabilities, so their range is [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from scipy.special import expit, logit

from deltarad.design import Design
from deltarad.errors import DeltaradError


def radscore_terms(model: dict) -> list[str]:
    """The model file's radscores (probabilities: their axis is [0, 1]); without the entry, the study's."""
    return list(model["radscores"]) if "radscores" in model else [rs.name for rs in Design().radscores]


def term_labels(model: dict) -> dict[str, str]:
    """Axis names of the model file's radscore terms (Radscore DIR, ...), from its model labels
    (a file before them: the study's)."""
    labels = model.get("models") or Design().model_labels
    return {name: f"Radscore {labels.get(name, name)}" for name in radscore_terms(model)}


PROBABILITY_TICKS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass
class TermScale:
    """One term's axis: values (numbers or level names) and the points each earns."""

    name: str
    values: list
    contributions: np.ndarray  # beta * value, on the linear-predictor scale
    points: np.ndarray


@dataclass
class Nomogram:
    terms: list[TermScale]
    lp_per_point: float
    lp_at_zero: float  # linear predictor at 0 total points

    @property
    def max_total(self) -> float:
        return float(sum(t.points.max() for t in self.terms))

    def probability(self, total_points) -> np.ndarray:
        return expit(self.lp_at_zero + np.asarray(total_points, float) * self.lp_per_point)

    def total_points_at(self, probability) -> np.ndarray:
        return (logit(np.asarray(probability, float)) - self.lp_at_zero) / self.lp_per_point


def _numeric_ticks(low: float, high: float) -> np.ndarray:
    ticks = np.unique(np.round(np.linspace(low, high, 6), 2 if high - low <= 5 else 0))
    return ticks[(ticks >= low - 1e-9) & (ticks <= high + 1e-9)] if len(ticks) > 1 else np.array([low, high])


def nomogram_scales(model: dict) -> Nomogram:
    """The points scales of the model file's combined model."""
    combined = model["combined"]
    beta = combined["coefficients"]
    scales = []
    for var in combined["terms"]:
        enc = combined["variables"][var]
        if enc["type"] == "categorical":
            values = list(enc["levels"])
            contrib = np.array([0.0] + [beta[f"{var}[{lvl}]"] for lvl in values[1:]])
        else:
            if var in radscore_terms(model):
                low, high = 0.0, 1.0
            elif "range" in enc:
                low, high = enc["range"]
            else:
                raise DeltaradError(f"the model file stores no training range of '{var}' for the nomogram")
            values = [float(v) for v in _numeric_ticks(low, high)]
            contrib = beta[var] * np.array(values)
        scales.append(TermScale(var, values, contrib, np.zeros(len(values))))
    spans = [t.contributions.max() - t.contributions.min() for t in scales]
    widest = max(spans, default=0.0)
    if widest == 0:
        raise DeltaradError("the combined model has no term with an effect: no nomogram to draw")
    for t in scales:
        t.points = (t.contributions - t.contributions.min()) / widest * 100
    lp_at_zero = combined["intercept"] + sum(t.contributions.min() for t in scales)
    return Nomogram(scales, widest / 100, float(lp_at_zero))


def _axis(ax, y: float, positions, labels, title: str) -> None:
    positions = np.asarray(positions, float)
    ax.plot([positions.min(), positions.max()], [y, y], color="black", lw=0.9)
    for x, label in zip(positions, labels):
        ax.plot([x, x], [y, y + 0.12], color="black", lw=0.8)
        ax.text(x, y + 0.18, label, ha="center", va="bottom", fontsize=7.5)
    ax.text(-4, y, title, ha="right", va="center", fontsize=9, fontweight="bold")


def nomogram_figure(model: dict, outcome_label: str = "pCR") -> Figure:
    """The combined model as a nomogram (matplotlib Figure)."""
    nomo = nomogram_scales(model)
    rows = len(nomo.terms) + 3
    fig = Figure(figsize=(8.0, 0.62 * rows + 0.6))
    ax = fig.add_axes((0.2, 0.04, 0.76, 0.92))
    y = rows - 1
    names = term_labels(model)
    _axis(ax, y, np.arange(0, 101, 10), [str(v) for v in range(0, 101, 10)], "Points")
    for term in nomo.terms:
        y -= 1
        labels = [v if isinstance(v, str) else f"{v:g}" for v in term.values]
        _axis(ax, y, term.points, labels, names.get(term.name, term.name))
    y -= 1
    total_ticks = np.arange(0, np.ceil(nomo.max_total / 20) * 20 + 1, 20)
    total_x = total_ticks / max(total_ticks.max(), 1) * 100  # the total-points axis is drawn on 0-100
    _axis(ax, y, total_x, [f"{v:g}" for v in total_ticks], "Total points")
    y -= 1
    p_points = nomo.total_points_at(PROBABILITY_TICKS)
    inside = (p_points >= 0) & (p_points <= total_ticks.max())
    if inside.any():
        _axis(
            ax,
            y,
            p_points[inside] / max(total_ticks.max(), 1) * 100,
            [f"{p:g}" for p in np.array(PROBABILITY_TICKS)[inside]],
            f"Probability of {outcome_label}",
        )
    ax.set_xlim(-2, 104)
    ax.set_ylim(y - 0.6, rows - 0.4)
    ax.axis("off")
    return fig
