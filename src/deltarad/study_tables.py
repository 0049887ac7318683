"""Tables 1-3 of a fitted study, as the study reports them (deltarad.outputs writes them).

Table 1: clinical variables, the ultrasound read and the radscores by outcome within each set.
Table 2: univariate then multivariate logistic regression on the training set over the combined
model's candidates (pooled by Rubin's rules over the imputed training sets under `mice`).
Table 3: every model in both sets, Youden cut-offs from training, DeLong, IDI and NRI against the
ultrasound model (the study's reference). With internal validation, the training rows of Table 3
also carry the apparent, optimism and optimism-corrected AUC, calibration slope and Brier score
and the cross-validated mean of each.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from deltarad.config import Study
from deltarad.modeling.names import COMBINED, MODEL_LABELS, RADSCORES, REFERENCE_MODEL
from deltarad.modeling.pipeline import FitResult
from deltarad.modeling.validation import ValidationResult
from deltarad.outputs import JournalTable
from deltarad.stats.pooling import POOLED_NOTE, table2_pooled
from deltarad.stats.tables import NESTED_NOTE, table1, table2, table3

#: the models Table 3 evaluates, in display order; the reference model gets its rows too
TABLE3_MODELS = [m for m in MODEL_LABELS if m != REFERENCE_MODEL]


@dataclass
class StudyTables:
    table1: JournalTable
    table2: JournalTable
    table3: JournalTable


def study_tables(study: Study, cohort: pd.DataFrame, result: FitResult,
                 internal: ValidationResult | None = None) -> StudyTables:
    """Tables 1-3 of the fit `result` on `cohort` (with `internal`'s columns in Table 3)."""
    radscores = list(RADSCORES)
    p = result.predictions
    data = p[["patient_id", "set"]].merge(cohort, on="patient_id")
    variables = [*study.clinical, study.ultrasound]
    categorical = [*study.categorical, study.ultrasound]
    with_radscores = data.merge(p[["patient_id", *radscores]], on="patient_id")  # the study's Table 1 has them
    t1 = table1(with_radscores, study.outcome, by="set", variables=[*variables, *radscores], categorical=categorical)

    training = data[data["set"] == "training"].merge(p[["patient_id", *radscores]], on="patient_id")
    if result.imputed:  # mice: every imputed training set, pooled by Rubin's rules
        t2 = table2_pooled(result.imputed, study.outcome, [*variables, *radscores], categorical,
                           reference_levels=study.reference_levels)
    else:
        t2 = table2(training, study.outcome, variables=[*variables, *radscores], categorical=categorical,
                    reference_levels=study.reference_levels)

    nested = [COMBINED] if study.ultrasound in result.model[COMBINED]["terms"] else []
    t3 = table3(p, study.outcome, TABLE3_MODELS, by="set", fit_set="training", reference=REFERENCE_MODEL,
                nested=nested)
    t3.insert(2, "n", t3[["tp", "fp", "tn", "fn"]].sum(axis=1))  # patients the model scored (a blank costs the combined)
    if internal is not None:
        extra = internal.wide()
        t3 = t3.merge(extra, on="model", how="left")
        t3.loc[t3["set"] != "training", [c for c in extra.columns if c != "model"]] = float("nan")
    return StudyTables(
        JournalTable(t1, "Table 1. Patient characteristics by outcome"),
        JournalTable(t2, "Table 2. Logistic regression in the training set",
                     [POOLED_NOTE.format(m=len(result.imputed))] if result.imputed else []),
        JournalTable(t3, "Table 3. Performance of the models",
                     [f"nested_optimistic: {NESTED_NOTE}"] if t3["nested_optimistic"].any() else []),
    )
