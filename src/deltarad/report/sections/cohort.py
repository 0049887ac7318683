"""The cohort flow: patients at each stage of the run, per set and outcome, per model, and those
left out (failures.csv)."""

from __future__ import annotations

import pandas as pd

from deltarad import runfolder
from deltarad.formatting import journal_format
from deltarad.report import figures
from deltarad.report.missing import missing_paragraph
from deltarad.report.page import Builder, Section
from deltarad.report.run import OUTCOME_LABELS, RunFolder, Unavailable

MODEL_STAGE = "model: "  # cohort_flow.csv's stage of the patients a model was fitted and evaluated on


def cohort(b: Builder, sec: Section) -> None:
    run = b.run
    groups = _outcomes_per_set(run)
    try:
        failures = run.csv(runfolder.FAILURES, required=("patient_id", "stage", "error"))
    except Unavailable:
        failures = None
    stages, per_model = _stages(run, groups, failures)
    sets = (
        "the external cohort, scored by the frozen model"
        if run.is_external
        else "the random split into training and validation sets"
    )
    sec.items.append(
        b.figure(
            "cohort_flow",
            figures.cohort_flow(stages, groups),
            "Cohort flow",
            f"Patients at each stage of the run and {sets}, "
            f"with the number of each outcome ({OUTCOME_LABELS[1]} = {run.outcome} 1).",
        )
    )
    shown = groups.rename(
        columns={"set": "Set", "n": "Patients", "pcr": OUTCOME_LABELS[1], "non_pcr": OUTCOME_LABELS[0]}
    )
    shown["Set"] = shown["Set"].str.capitalize()
    total = {
        "Set": "Total",
        "Patients": shown["Patients"].sum(),
        OUTCOME_LABELS[1]: shown[OUTCOME_LABELS[1]].sum(),
        OUTCOME_LABELS[0]: shown[OUTCOME_LABELS[0]].sum(),
    }
    shown = pd.concat([shown, pd.DataFrame([total])], ignore_index=True)
    sec.items.append(
        b.table(
            journal_format(shown),
            "Patients per set and outcome",
            "Outcome counts in each set" + ("." if run.is_external else " after the split."),
        )
    )
    if len(per_model):
        names = [str(st).removeprefix(MODEL_STAGE) for st in per_model["stage"]]
        shown = pd.DataFrame(
            {
                "Model": [run.model_labels.get(m, st) for m, st in zip(names, per_model["stage"])],
                "Patients": per_model["n"],
                "Detail": per_model["detail"],
            }
        )
        sec.items.append(
            b.table(
                journal_format(shown),
                "Patients per model",
                "Patients each model was fitted and evaluated on (from cohort_flow.csv).",
            )
        )
    missing = missing_paragraph(run)
    if missing:
        sec.intro = missing
    if failures is not None:
        excluded = failures[["patient_id", "stage", "error"]].set_axis(["Patient", "Stage", "Problem"], axis=1)
        sec.items.append(
            b.table(
                journal_format(excluded),
                "Excluded patients",
                "Patients a stage of the run could not process (from failures.csv).",
            )
        )


def _outcomes_per_set(run: RunFolder) -> pd.DataFrame:
    pred = run.predictions
    counts = []
    for s in run.sets():
        part = pred[pred["set"] == s]
        counts.append(
            {
                "set": s,
                "n": len(part),
                "pcr": int((part[run.outcome] == 1).sum()),
                "non_pcr": int((part[run.outcome] == 0).sum()),
            }
        )
    return pd.DataFrame(counts)


def _stages(run: RunFolder, groups: pd.DataFrame, failures: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the chain of stages [stage, n, detail], the per-model rows of cohort_flow.csv): from
    cohort_flow.csv, else from the predictions and failures.csv."""
    try:
        stages = run.csv(runfolder.COHORT_FLOW, required=("stage", "n"))
    except Unavailable:
        n_analysed = len(run.predictions)
        n_failed = 0 if failures is None else failures["patient_id"].nunique()
        rows = [("Patients in the cohort", n_analysed + n_failed, "")]
        if failures is not None and n_failed:
            reasons = failures.groupby("stage")["patient_id"].nunique()
            rows.append(("Excluded", n_failed, "; ".join(f"{k}: {v}" for k, v in reasons.items())))
        rows.append(("Analysed", n_analysed, ""))
        return pd.DataFrame(rows, columns=["stage", "n", "detail"]), pd.DataFrame()
    if "detail" not in stages.columns:
        stages["detail"] = ""
    # the sets are drawn from the predictions, below the chain of stages; the models' n in a table
    per_model = stages[stages["stage"].astype(str).str.startswith(MODEL_STAGE)]
    stages = stages[~stages["stage"].astype(str).str.lower().isin(groups["set"]) & ~stages.index.isin(per_model.index)]
    stages = stages.assign(stage=[str(st)[:1].upper() + str(st)[1:] for st in stages["stage"]])
    return stages, per_model
