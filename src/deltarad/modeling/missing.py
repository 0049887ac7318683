"""Missing clinical values under the study's declared policy (`missing:` in the study file).

complete_case (default): a patient without a value of a variable a model uses is left out of that
model's fit and evaluation only, and listed in failures.csv (stage "missing value"); the radscore
and reference models, which do not use clinical variables, keep the patient.

The combined model's stepwise search keeps a variable with blanks as a candidate. Its AIC compares
models only when they are fitted on the same patients (R's step() stops when the number of rows
changes), so the search runs on the complete cases of all candidates; the model it ends with is then
refitted on the complete cases of its own variables, which are at least as many.

mice: see deltarad.modeling.mice. Under either policy the outcome and the reference models'
columns (the study's: the ultrasound read) are never imputed: a blank there is a cohort failure (deltarad.cohort).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from deltarad.errors import FAILURE_COLUMNS, DeltaradError
from deltarad.modeling.stepwise import StepResult, columns_of
from deltarad.stats.logit import fit_logit

log = logging.getLogger(__name__)

STAGE = "missing value"
MISSING_COLUMNS = ["variable", "set", "n_patients", "n_missing", "policy", "handling"]


def complete_cases(data: pd.DataFrame, variables: list[str]) -> np.ndarray:
    """Boolean mask of the rows with a value of every one of `variables`."""
    return data[list(variables)].notna().all(axis=1).to_numpy() if variables else np.ones(len(data), bool)


#: The fewest training patients with every candidate's value the combined model's stepwise search
#: runs on (complete-case policy): below it a logistic model choosing among the clinical variables,
#: the ultrasound read and two radscores has too few patients to estimate anything.
MIN_STEPWISE_PATIENTS = 10


def stepwise_rows(data: pd.DataFrame, candidates: list[str]) -> np.ndarray:
    """The rows the stepwise search runs on: the complete cases of all candidates (logged)."""
    rows = complete_cases(data, candidates)
    blanks = {c: int(data[c].isna().sum()) for c in candidates if data[c].isna().any()}
    listed = ", ".join(f"{c} {n}" for c, n in blanks.items())
    if blanks:
        log.info(
            "combined model: stepwise AIC on the %d of %d training patients with every candidate (blanks: %s)",
            int(rows.sum()),
            len(rows),
            listed,
        )
    if rows.sum() < MIN_STEPWISE_PATIENTS:
        need = f"the combined model's stepwise search needs at least {MIN_STEPWISE_PATIENTS}"
        if not blanks:
            raise DeltaradError(
                f"too few patients: the training set has only {len(rows)} patients and {need}; "
                "a larger cohort is needed"
            )
        raise DeltaradError(
            f"only {int(rows.sum())} of {len(rows)} training patients have a value of every "
            f"combined-model candidate (blanks: {listed}) and {need}; use missing: {{policy: mice}} "
            "or fewer clinical variables"
        )
    return rows


def refit_on_own_complete_cases(
    step: StepResult, data: pd.DataFrame, design: pd.DataFrame, y: np.ndarray
) -> tuple[StepResult, dict]:
    """The chosen model refitted on the complete cases of its own variables (the search's own
    patients when none of its variables has more values), tested for separation there, and a
    note of both n."""
    variables = sorted({f for t in step.terms for f in t.factors})
    rows = complete_cases(data, variables)
    n_search = step.fit.n
    step = StepResult(step.terms, fit_logit(design.loc[rows, columns_of(step.terms)], np.asarray(y)[rows]), step.path)
    note = {
        "n_stepwise": n_search,
        "n_fit": int(rows.sum()),
        "missing": (
            f"stepwise AIC on the {n_search} complete cases of all candidates; the chosen model "
            f"refitted on the {int(rows.sum())} complete cases of its own variables"
        ),
    }
    return step, note


def combined_variables(model: dict) -> list[str]:
    """The cohort columns the combined model uses (its radscores are computed, never missing)."""
    return [v for v in model["combined"]["variables"] if v not in model["radscores"]]


def missing_rows(model: dict, data: pd.DataFrame) -> pd.DataFrame:
    """patient_id, variable: each blank of a combined-model variable in `data` (indexed by patient)."""
    variables = [v for v in combined_variables(model) if v in data.columns]
    blank = data[variables].isna()
    rows = [{"patient_id": str(p), "variable": v} for p, row in blank.iterrows() for v in variables if row[v]]
    return pd.DataFrame(rows, columns=["patient_id", "variable"])


def missing_failures(model: dict, cohort: pd.DataFrame) -> pd.DataFrame:
    """failures.csv rows (patient_id, stage, error) for the patients the combined model cannot
    score for a blank, under complete_case; none under mice (those values are imputed)."""
    if "imputation" in model["combined"]:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    blanks = missing_rows(model, cohort.set_index("patient_id"))
    if blanks.empty:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    per_patient = blanks.groupby("patient_id", sort=False)["variable"].agg(lambda v: ", ".join(f"'{x}'" for x in v))
    return pd.DataFrame(
        [
            {"patient_id": p, "stage": STAGE, "error": f"left out of the combined model: no value of {v}"}
            for p, v in per_patient.items()
        ],
        columns=FAILURE_COLUMNS,
    )


def missing_value_table(
    cohort: pd.DataFrame, split: pd.DataFrame, variables: list[str], policy: str, imputations: int = 0
) -> pd.DataFrame:
    """tables/missing_values.csv: per clinical variable and set, patients and blanks, and what
    the policy did with them."""
    handling = (
        f"imputed ({imputations} imputations by chained equations fitted on the training set)"
        if policy == "mice"
        else "patient left out of the models that use the variable"
    )
    data = split.merge(cohort, on="patient_id")
    rows = []
    for v in variables:
        for s, part in data.groupby("set", sort=False):
            n = int(part[v].isna().sum())
            rows.append(
                {
                    "variable": v,
                    "set": s,
                    "n_patients": len(part),
                    "n_missing": n,
                    "policy": policy,
                    "handling": handling if n else "",
                }
            )
    return pd.DataFrame(rows, columns=MISSING_COLUMNS)


def finite(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs with a prediction (a model that could not score a patient gives NaN)."""
    keep = np.isfinite(np.asarray(p, float))
    return np.asarray(y)[keep], np.asarray(p, float)[keep]
