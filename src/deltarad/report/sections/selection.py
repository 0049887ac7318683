"""Feature selection: the funnel of each region's selection steps, the selected features with their
coefficients (with the volume check), and how often each feature is selected in resamples."""

from __future__ import annotations

import pandas as pd

from deltarad import runfolder
from deltarad.formatting import journal_format
from deltarad.report import figures
from deltarad.report.page import Builder, Section
from deltarad.report.run import Unavailable
from deltarad.report.sections.volume import volume_check

STEP_LABELS = {
    "features": "Extracted features",
    "delta": "Delta features (non-zero baseline)",
    "icc": "Inter-reader ICC ≥ {icc_min}",
    "ttest": "t-test p < {ttest_p}",
    "correlation": "|r| ≤ {corr_max} (one of each correlated pair)",
    "lasso": "LASSO (non-zero coefficient)",
}
SELECTION_DEFAULTS = {"icc_min": 0.8, "ttest_p": 0.05, "corr_max": 0.9}
TOP_SELECTED = 15  # features per region in the selection-frequency figure


def selection(b: Builder, sec: Section) -> None:
    sel = b.run.csv(runfolder.SELECTION, required=("region", "step", "n_features"))
    settings = {**SELECTION_DEFAULTS}
    try:
        settings.update(
            {k: v for k, v in b.run.model.get("settings", {}).get("selection", {}).items() if k in settings}
        )
    except (Unavailable, AttributeError):
        pass
    labels = {k: v.format(**settings) for k, v in STEP_LABELS.items()}
    funnel = " → ".join
    summary = "; ".join(
        f"{region}: {funnel(str(int(n)) for n in part['n_features'])}"
        for region, part in sel.groupby("region", sort=False)
    )
    sec.intro = f"Features remaining after each step, fitted on the training set only ({summary})."
    sec.items.append(
        b.figure(
            "selection_funnel",
            figures.selection_funnel(sel, labels),
            "Feature selection funnel",
            "Number of delta features left after each selection step, per region.",
        )
    )
    shown = sel.assign(step=[labels.get(s, s) for s in sel["step"]])
    keep = [c for c in ("region", "step", "n_features", "note") if c in shown.columns]
    shown = shown[keep].rename(columns={"region": "Region", "step": "Step", "n_features": "Features", "note": "Note"})
    sec.items.append(
        b.table(
            journal_format(shown),
            "Selection steps",
            "Feature counts per step and region.",
            source=sel,
            name="selection",
        )
    )


def selected_features(b: Builder, sec: Section) -> None:
    sel = b.run.coefficients()
    if b.run.is_external:
        sec.intro = "The frozen model's features and coefficients (model.json), applied unchanged to this cohort."
    sec.items.append(
        b.figure(
            "coefficients",
            figures.coefficients(sel),
            "Selected features and coefficients",
            "Coefficients of the features the LASSO kept, by region; blue positive "
            "(higher delta, higher predicted probability of pCR), red negative.",
        )
    )
    shown = sel.rename(columns={"region": "Region", "feature": "Feature", "coefficient": "Coefficient"})
    sec.items.append(
        b.table(
            journal_format(shown),
            "Selected features",
            "The final features of each radscore.",
            source=sel,
            name="selected_features",
        )
    )
    volume_check(b, sec)
    try:
        frequency = b.run.csv(
            runfolder.SELECTION_FREQUENCY,
            required=("region", "feature", "bootstrap_frequency", "cv_frequency", "in_final_model"),
        )
    except Unavailable:
        return
    _selection_frequency(b, sec, frequency)


def _selection_frequency(b: Builder, sec: Section, frequency: pd.DataFrame) -> None:
    frequency = frequency.assign(
        bootstrap_frequency=pd.to_numeric(frequency["bootstrap_frequency"], errors="coerce"),
        cv_frequency=pd.to_numeric(frequency["cv_frequency"], errors="coerce"),
        in_final_model=frequency["in_final_model"].astype(str).str.lower().isin(["true", "1", "yes"]),
    )
    n_boot, n_cv = b.run.resamples()
    if frequency["bootstrap_frequency"].notna().any():
        column, resampling = "bootstrap_frequency", f"{n_boot or 'the'} bootstrap resamples"
    elif frequency["cv_frequency"].notna().any():
        column, resampling = "cv_frequency", f"{n_cv or 'the'} cross-validation folds"
    else:
        raise Unavailable(f"{runfolder.SELECTION_FREQUENCY} has no frequencies")
    ranked = frequency.sort_values([column, "in_final_model"], ascending=False, kind="stable")
    top = pd.concat([ranked[ranked["region"] == r].head(TOP_SELECTED) for r in dict.fromkeys(frequency["region"])])
    sec.items.append(
        b.figure(
            "selection_frequency",
            figures.selection_frequency(top, column, resampling),
            "Selection frequency",
            f"How often each feature was selected when the whole procedure (ICC, t-test, correlation pruning, LASSO) "
            f"was refitted on {resampling} of the training set: the {TOP_SELECTED} most frequent features per region; "
            "blue bars (bold names) are the features of the final model. A feature chosen in few resamples is an "
            "unstable choice, however large its coefficient."
            + (
                " Black ticks: share of the cross-validation folds that selected it."
                if column != "cv_frequency" and frequency["cv_frequency"].notna().any()
                else ""
            ),
        )
    )
    shown = pd.DataFrame(
        {
            "Region": top["region"],
            "Feature": top["feature"],
            "Bootstrap": [f"{v:.0%}" if pd.notna(v) else "" for v in top["bootstrap_frequency"]],
            "Cross-validation": [f"{v:.0%}" if pd.notna(v) else "" for v in top["cv_frequency"]],
            "In final model": ["yes" if v else "" for v in top["in_final_model"]],
        }
    )
    sec.items.append(
        b.table(
            shown,
            "Selection frequency",
            f"Share of resamples that selected each feature ({TOP_SELECTED} most frequent per "
            "region); the CSV and XLSX list every feature selected at least once.",
            source=frequency,
            name="selection_frequency",
        )
    )
