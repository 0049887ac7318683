"""The report's figures. Each function draws from tables already computed (the statistics
library's curves, Table 3, predictions) and returns a matplotlib Figure; none recomputes a
statistic. `render` turns a figure into PNG and SVG bytes (deltarad.outputs writes them)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch
from matplotlib.ticker import PercentFormatter

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
MODEL_COLOURS = {"combined": "#D55E00", "radscore_dir": "#0072B2", "radscore_dpr": "#009E73", "us": "#CC79A7"}
OUTCOME_COLOURS = {1: "#0072B2", 0: "#E69F00"}
REFERENCE_GREY = "#7f7f7f"

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "svg.fonttype": "none",
    "svg.hashsalt": "deltarad",
    "figure.dpi": 100,
}


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]  # rcParams keys as strings
        yield


def _figure(**kw) -> Figure:
    """A Figure on its own Agg canvas: no pyplot, so no global backend or figure registry."""
    fig = Figure(**kw)
    FigureCanvasAgg(fig)
    return fig


def _subplots(nrows: int, ncols: int, *, figsize: tuple[float, float], layout: str | None = None, **kw):
    fig = _figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **kw)


def _panels(n: int, width: float = 4.6, height: float = 4.2, **kw) -> tuple[Figure, list]:
    fig, axes = _subplots(1, n, figsize=(width * n, height), squeeze=False, layout="constrained", **kw)
    return fig, list(axes[0])


@dataclass(frozen=True)
class Rendered:
    """A figure as files hold it, and its width in CSS pixels (96 per inch), so the page shows
    it at its drawn size."""

    png: bytes
    svg: bytes
    width_px: int


def render(fig: Figure, dpi: int = 200) -> Rendered:
    """The figure as PNG (at `dpi`) and SVG bytes, without dates or software names, so the same
    figure gives the same bytes."""
    png, svg = io.BytesIO(), io.BytesIO()
    with _style():  # the SVG settings (text as text, fixed ids) are read when saving
        fig.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return Rendered(png.getvalue(), svg.getvalue(), round(fig.get_size_inches()[0] * 96))


def cohort_flow(stages: pd.DataFrame, groups: pd.DataFrame) -> Figure:
    """Flow diagram: the stages of `stages` [stage, n, detail] top-down, then one box per set of
    `groups` [set, n, pcr, non_pcr]."""
    rows = len(stages) + 1
    with _style():
        fig = _figure(figsize=(6.4, 0.85 * rows + 0.1))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, rows)
        ax.axis("off")

        def box(x: float, y: float, w: float, text: str, colour: str = "#f4f6f8") -> None:
            ax.add_patch(
                FancyBboxPatch(
                    (x - w / 2, y - 0.33), w, 0.66, boxstyle="round,pad=0.01", fc=colour, ec="#4a5560", lw=0.8
                )
            )
            ax.text(x, y, text, ha="center", va="center", fontsize=9)

        def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
            ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="-|>", color="#4a5560", lw=0.9))

        y = rows - 0.5
        for i, row in enumerate(stages.itertuples(index=False)):
            detail = "" if pd.isna(row.detail) or str(row.detail) == "" else "\n" + textwrap.fill(str(row.detail), 60)
            box(0.5, y, 0.7, f"{row.stage}: n = {int(row.n)}{detail}")
            if i < len(stages) - 1:
                arrow(0.5, y - 0.35, 0.5, y - 0.65)
            y -= 1
        xs = np.array([0.5]) if len(groups) == 1 else np.linspace(0.26, 0.74, len(groups))
        for x, g in zip(xs, groups.itertuples(index=False)):
            arrow(0.5, y + 0.65, x, y + 0.35)
            box(x, y, 0.44, f"{str(g.set).capitalize()} set: n = {g.n}\npCR {g.pcr} · non-pCR {g.non_pcr}", "#e8f0f8")
    return fig


def selection_funnel(selection: pd.DataFrame, step_labels: Mapping[str, str]) -> Figure:
    """Features left after each selection step, one funnel per region (`selection`: region, step,
    n_features, in step order)."""
    regions = list(dict.fromkeys(selection["region"]))
    with _style():
        fig, axes = _panels(len(regions), width=4.8, height=0.55 * selection.groupby("region").size().max() + 1.0)
        for ax, region in zip(axes, regions):
            part = selection[selection["region"] == region]
            n = part["n_features"].to_numpy(dtype=float)
            top = n.max() if len(n) else 1
            y = np.arange(len(part))[::-1]
            ax.barh(y, n, left=(top - n) / 2, color="#0072B2", alpha=0.85, height=0.7)
            for yi, ni in zip(y, n):
                inside = ni > 0.15 * top
                ax.text(
                    top / 2 if inside else (top + ni) / 2 + 0.02 * top,
                    yi,
                    f"{int(ni)}",
                    ha="center" if inside else "left",
                    va="center",
                    fontsize=8.5,
                    color="white" if inside else "black",
                )
            ax.set_yticks(y, [step_labels.get(s, s) for s in part["step"]])
            ax.set_xticks([])
            ax.spines[["bottom", "left"]].set_visible(False)
            ax.tick_params(axis="y", length=0)
            ax.set_title(f"{region.capitalize()} region")
    return fig


def coefficients(selected: pd.DataFrame) -> Figure:
    """LASSO coefficients of the selected features, one panel per region (`selected`: region,
    feature, coefficient)."""
    regions = list(dict.fromkeys(selected["region"]))
    longest = selected.groupby("region").size().max()
    with _style():
        fig, axes = _subplots(
            len(regions),
            1,
            figsize=(8, 0.32 * len(selected) + 0.9 * len(regions) + 0.4),
            squeeze=False,
            layout="constrained",
            gridspec_kw={"height_ratios": [max(1, (selected["region"] == r).sum()) for r in regions]},
        )
        for ax, region in zip(axes[:, 0], regions):
            part = selected[selected["region"] == region].sort_values("coefficient")
            coef = part["coefficient"].to_numpy(dtype=float)
            ax.barh(np.arange(len(part)), coef, color=np.where(coef >= 0, "#0072B2", "#D55E00"), height=0.65)
            ax.set_yticks(np.arange(len(part)), part["feature"], fontsize=7.5)
            ax.axvline(0, color="black", lw=0.7)
            ax.set_ylim(-0.6, max(len(part), longest if len(regions) == 1 else len(part)) - 0.4)
            ax.set_title(f"{region.capitalize()} region ({len(part)} features)")
            ax.set_xlabel("LASSO coefficient (per SD of the z-scored delta feature)")
    return fig


def roc_curves(curves: Mapping[str, Mapping[str, pd.DataFrame]], labels: Mapping[str, Mapping[str, str]]) -> Figure:
    """ROC curves per set: `curves[set][model]` is a table [fpr, tpr]; `labels[set][model]` the
    legend entry (model name and AUC with CI)."""
    with _style():
        fig, axes = _panels(len(curves))
        for ax, (set_name, by_model) in zip(axes, curves.items()):
            for model, pts in by_model.items():
                ax.plot(pts["fpr"], pts["tpr"], lw=1.6, color=MODEL_COLOURS.get(model), label=labels[set_name][model])
            ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color=REFERENCE_GREY)
            ax.set(
                xlim=(-0.01, 1.01),
                ylim=(-0.01, 1.01),
                aspect="equal",
                xlabel="1 − specificity (false-positive rate)",
                ylabel="Sensitivity (true-positive rate)",
            )
            ax.set_title(f"{set_name.capitalize()} set")
            ax.legend(loc="lower right")
    return fig


def decision_curves(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> Figure:
    """Net benefit against threshold probability per set; `curves[set]` is the statistics
    library's decision-curve table (variables incl. 'all' and 'none')."""
    with _style():
        fig, axes = _panels(len(curves), width=4.8)
        for ax, (set_name, dca) in zip(axes, curves.items()):
            top = 0.0
            for variable, part in dca.groupby("variable", sort=False):
                nb = part["net_benefit"].to_numpy(dtype=float)
                if variable == "all":
                    kw = dict(color=REFERENCE_GREY, lw=1.0, label="Treat all")
                elif variable == "none":
                    kw = dict(color="black", lw=1.0, ls="--", label="Treat none")
                else:
                    kw = dict(color=MODEL_COLOURS.get(variable), lw=1.6, label=labels.get(variable, variable))
                    top = max(top, np.nanmax(nb))
                ax.plot(part["threshold"], nb, **kw)
            ax.set_ylim(-0.05, max(top, 0.05) * 1.1 + 0.02)
            ax.set(xlim=(0, 1), xlabel="Threshold probability", ylabel="Net benefit")
            ax.set_title(f"{set_name.capitalize()} set")
            ax.legend(loc="upper right")
    return fig


def calibration_curves(
    binned: Mapping[str, Mapping[str, pd.DataFrame]],
    smoothed: Mapping[str, Mapping[str, pd.DataFrame]],
    labels: Mapping[str, str],
) -> Figure:
    """Observed against predicted risk per set: binned points (`binned[set][model]`: mean_predicted,
    observed, n) and a smoothed curve (`smoothed[set][model]`: predicted, observed)."""
    with _style():
        fig, axes = _panels(len(binned))
        for ax, set_name in zip(axes, binned):
            for model, pts in binned[set_name].items():
                colour = MODEL_COLOURS.get(model)
                curve = smoothed.get(set_name, {}).get(model)
                ax.plot(
                    pts["mean_predicted"],
                    pts["observed"],
                    "o",
                    ms=4,
                    color=colour,
                    alpha=0.8,
                    label=None if curve is not None else f"{labels.get(model, model)} (points)",
                )
                if curve is not None:
                    ax.plot(curve["predicted"], curve["observed"], lw=1.6, color=colour, label=labels.get(model, model))
            ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color=REFERENCE_GREY, label="Ideal")
            ax.set(
                xlim=(-0.01, 1.01),
                ylim=(-0.01, 1.01),
                aspect="equal",
                xlabel="Predicted probability",
                ylabel="Observed proportion",
            )
            ax.set_title(f"{set_name.capitalize()} set")
            ax.legend(loc="lower right")
    return fig


def confusion_matrices(cells: pd.DataFrame, sets: list[str], models: Mapping[str, str]) -> Figure:
    """2 x 2 tables per set (rows) and model (columns); `cells` has set, model, tp, fp, tn, fn
    and threshold, as in Table 3."""
    with _style():
        fig, axes = _subplots(
            len(sets),
            len(models),
            figsize=(2.6 * len(models) + 0.4, 2.5 * len(sets) + 0.3),
            squeeze=False,
            layout="constrained",
        )
        for i, set_name in enumerate(sets):
            for j, (model, label) in enumerate(models.items()):
                ax = axes[i, j]
                row = cells[(cells["set"] == set_name) & (cells["model"] == model)]
                if row.empty:
                    ax.axis("off")
                    ax.text(0.5, 0.5, "not in Table 3", ha="center", va="center", color=REFERENCE_GREY)
                    continue
                r = row.iloc[0]
                m = np.array([[r["tn"], r["fp"]], [r["fn"], r["tp"]]], dtype=float)
                ax.imshow(m / m.sum(axis=1, keepdims=True).clip(min=1), cmap="Blues", vmin=0, vmax=1)
                for (a, b), v in np.ndenumerate(m):
                    share = v / max(m[a].sum(), 1)
                    ax.text(
                        b,
                        a,
                        f"{int(v)}\n({share:.0%})",
                        ha="center",
                        va="center",
                        fontsize=8.5,
                        color="white" if share > 0.6 else "black",
                    )
                ax.set_xticks([0, 1], ["non-pCR", "pCR"])
                ax.set_yticks([0, 1], ["non-pCR", "pCR"])
                ax.spines[:].set_visible(False)
                ax.set_xlabel("Predicted")
                if j == 0:
                    ax.set_ylabel(f"{set_name.capitalize()}\nObserved")
                ax.set_title(f"{label} (cut-off {r['threshold']:.3f})", fontsize=9)
    return fig


def radscore_boxplots(pred: pd.DataFrame, outcome: str, scores: Mapping[str, str], sets: list[str]) -> Figure:
    """Box plots (with the patients as points) of each score by outcome; rows are sets."""
    rng = np.random.default_rng(0)  # jitter only
    with _style():
        fig, axes = _subplots(
            len(sets),
            len(scores),
            figsize=(2.9 * len(scores) + 0.3, 2.9 * len(sets)),
            squeeze=False,
            layout="constrained",
            sharey=True,
        )
        for i, set_name in enumerate(sets):
            part = pred[pred["set"] == set_name]
            for j, (score, label) in enumerate(scores.items()):
                ax = axes[i, j]
                groups = [part.loc[part[outcome] == k, score].dropna().to_numpy() for k in (0, 1)]
                bp = ax.boxplot(
                    groups,
                    positions=[0, 1],
                    widths=0.55,
                    patch_artist=True,
                    showfliers=False,
                    medianprops=dict(color="black", lw=1.2),
                )
                for patch, k in zip(bp["boxes"], (0, 1)):
                    patch.set(facecolor=OUTCOME_COLOURS[k], alpha=0.35, edgecolor="#333333")
                for k, values in zip((0, 1), groups):
                    ax.scatter(
                        k + rng.uniform(-0.15, 0.15, len(values)),
                        values,
                        s=7,
                        color=OUTCOME_COLOURS[k],
                        alpha=0.8,
                        lw=0,
                    )
                ax.set_xticks([0, 1], [f"non-pCR\n(n={len(groups[0])})", f"pCR\n(n={len(groups[1])})"])
                ax.set_title(f"{label} · {set_name}", fontsize=9)
                if j == 0:
                    ax.set_ylabel("Predicted probability")
    return fig


def input_heatmap(pred: pd.DataFrame, outcome: str, inputs: Mapping[str, str], sets: list[str]) -> Figure:
    """The combined model's inputs (rows, z-scored over all patients) by patient (columns, sorted by
    outcome, then by the combined model's probability); an outcome strip on top; one panel per set."""
    cols = list(inputs)
    values = pred[cols].astype(float)
    z = (values - values.mean()) / values.std(ddof=1).replace(0, 1)
    with _style():
        fig, axes = _subplots(
            2 * len(sets),
            1,
            figsize=(9, (0.42 * len(cols) + 1.3) * len(sets)),
            layout="constrained",
            gridspec_kw={"height_ratios": [0.35, max(len(cols), 1)] * len(sets)},
        )
        image = None
        for i, set_name in enumerate(sets):
            part = pred[pred["set"] == set_name]
            keys = [part[outcome].to_numpy()]
            if "combined" in part.columns:
                keys.insert(0, part["combined"].to_numpy())
            order = part.index[np.lexsort(keys)]
            strip, ax = axes[2 * i], axes[2 * i + 1]
            strip.imshow(
                pred.loc[order, outcome].to_numpy()[None, :],
                aspect="auto",
                cmap=matplotlib.colors.ListedColormap([OUTCOME_COLOURS[0], OUTCOME_COLOURS[1]]),
                vmin=0,
                vmax=1,
            )
            strip.set_xticks([])
            strip.set_yticks([0], ["Outcome"])
            strip.spines[:].set_visible(False)
            strip.set_title(f"{set_name.capitalize()} set (n = {len(part)}; orange non-pCR, blue pCR)", fontsize=9)
            image = ax.imshow(
                z.loc[order, cols].to_numpy().T,
                aspect="auto",
                cmap="RdBu_r",
                vmin=-2.5,
                vmax=2.5,
                interpolation="nearest",
            )
            ax.set_yticks(np.arange(len(cols)), [inputs[c] for c in cols])
            ax.set_xticks([])
            ax.set_xlabel("Patients")
            ax.spines[:].set_visible(False)
        fig.colorbar(image, ax=axes[1::2], shrink=0.8, label="z-score")
    return fig


def rose_plots(
    pred: pd.DataFrame, outcome: str, models: Mapping[str, str], sets: list[str], thresholds: Mapping[str, float]
) -> Figure:
    """Polar bar charts: one bar per patient (length = predicted probability, colour = outcome),
    patients ordered by outcome then probability; the dashed circle is the training cut-off."""
    with _style():
        fig, axes = _subplots(
            len(sets),
            len(models),
            figsize=(3.1 * len(models), 3.3 * len(sets)),
            squeeze=False,
            subplot_kw={"projection": "polar"},
            layout="constrained",
        )
        for i, set_name in enumerate(sets):
            part = pred[pred["set"] == set_name]
            for j, (model, label) in enumerate(models.items()):
                ax = axes[i, j]
                ax.set_theta_zero_location("N")
                ax.set_theta_direction(-1)
                ordered = part.sort_values([outcome, model])
                n = len(ordered)
                theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
                ax.bar(
                    theta,
                    ordered[model].to_numpy(dtype=float),
                    width=2 * np.pi / max(n, 1) * 0.9,
                    color=[OUTCOME_COLOURS[k] for k in ordered[outcome]],
                    alpha=0.9,
                    lw=0,
                )
                if model in thresholds:
                    ring = np.linspace(0, 2 * np.pi, 200)
                    ax.plot(ring, np.full_like(ring, thresholds[model]), ls="--", lw=0.9, color="black")
                ax.set_ylim(0, 1)
                ax.set_yticks([0.25, 0.5, 0.75, 1.0], ["", "0.5", "", "1"], fontsize=6.5)
                ax.set_xticks([])
                ax.grid(lw=0.4, alpha=0.6)
                ax.set_title(f"{label} · {set_name}", fontsize=9)
    return fig


def selection_frequency(frequency: pd.DataFrame, column: str, resampling: str) -> Figure:
    """How often each feature was selected across resamples, one panel per region: bars of
    `frequency[column]` (a share, 0-1), features of the final model in blue, others grey, the
    cross-validation share (when present and not the bars) as a black tick. `frequency` is one
    region's rows per feature (region, feature, in_final_model, column), most frequent first."""
    regions = list(dict.fromkeys(frequency["region"]))
    counts = [int((frequency["region"] == r).sum()) for r in regions]
    has_cv = column != "cv_frequency" and "cv_frequency" in frequency and frequency["cv_frequency"].notna().any()
    tick = "cv_frequency" if has_cv else None
    with _style():
        fig, axes = _subplots(
            len(regions),
            1,
            figsize=(8, 0.27 * sum(counts) + 0.95 * len(regions) + 0.5),
            squeeze=False,
            layout="constrained",
            gridspec_kw={"height_ratios": counts},
        )
        for ax, region in zip(axes[:, 0], regions):
            part = frequency[frequency["region"] == region]
            y = np.arange(len(part))[::-1]
            final = part["in_final_model"].to_numpy(bool)
            ax.barh(
                y,
                part[column].to_numpy(float),
                height=0.65,
                color=np.where(final, "#0072B2", "#BBBBBB"),
                edgecolor=np.where(final, "#003F63", "#999999"),
                lw=0.5,
            )
            if tick:
                ax.plot(part[tick].to_numpy(float), y, "|", color="black", ms=9, mew=1.4)
            ax.set_yticks(y, part["feature"], fontsize=7.5)
            for label in ax.get_yticklabels():
                label.set_fontweight("bold" if label.get_text() in set(part["feature"][final]) else "normal")
            ax.set(xlim=(0, 1.02), ylim=(-0.6, len(part) - 0.4))
            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_title(f"{region.capitalize()} region ({int(final.sum())} features in the final model)")
            ax.set_xlabel(f"Selected in share of {resampling}")
        handles: list[Artist] = [
            Patch(color="#0072B2", label="In the final model"),
            Patch(color="#BBBBBB", label="Not in the final model"),
        ]
        if tick:
            handles.append(
                Line2D([], [], ls="", marker="|", ms=9, mew=1.4, color="black", label="Share of cross-validation folds")
            )
        axes[0, 0].legend(handles=handles, loc="lower right", frameon=True, framealpha=0.9)
    return fig
