"""The report's paragraph on missing clinical values: which policy ran and what it did."""

from __future__ import annotations

from deltarad import runfolder
from deltarad.report.run import RunFolder, Unavailable


def missing_paragraph(run: RunFolder) -> str:
    """One paragraph from tables/missing_values.csv (empty when the run wrote none)."""
    try:
        table = run.csv(runfolder.MISSING_VALUES, required=("variable", "set", "n_missing", "policy"))
    except Unavailable:
        return ""
    blanks = table.groupby("variable", sort=False)["n_missing"].sum()
    blanks = blanks[blanks > 0]
    if blanks.empty:
        return "No clinical value was missing."
    counts = ", ".join(f"{v} {int(n)}" for v, n in blanks.items())
    if str(table["policy"].iloc[0]) == "mice":
        m = (
            run.model.get("settings", {}).get("missing", {}).get("imputations", "several")
            if _has_model(run)
            else "several"
        )
        return (
            f"Missing clinical values were imputed (policy mice): {counts} values imputed, by chained equations "
            f"fitted on the training set only ({m} imputations; the outcome a predictor for training patients, "
            "never for scoring). Table 2 pools the estimates by Rubin's rules; each prediction is the mean "
            "probability over the imputations (tables/missing_values.csv)."
        )
    return (
        f"Missing clinical values (policy complete_case): {counts} blanks. A patient without a value of a "
        "variable a model uses is left out of that model's fit and evaluation only (listed in failures.csv); "
        "the combined model's stepwise search ran on the complete cases of all candidates and its final model "
        "was refitted on the complete cases of its own variables. Table 3 gives each model's n; the figures "
        "show the patients every model scored (tables/missing_values.csv)."
    )


def _has_model(run: RunFolder) -> bool:
    try:
        return isinstance(run.model, dict)
    except Unavailable:
        return False
