"""Tables 1-3 of a fitted study, as the study reports them (deltarad.outputs writes them).

Table 1: clinical variables, the references' columns (the study's: the ultrasound read) and the
radscores by outcome within each set.
Table 2: univariate then multivariate logistic regression on the training set over the combined
model's candidates (pooled by Rubin's rules over the imputed training sets under `mice`).
Table 3: every model in both sets, Youden cut-offs from training, DeLong, IDI and NRI against the
design's comparator (its first reference model; the study's: ultrasound); a design without
references compares nothing, and Table 3 says so. With internal validation, the training rows of Table 3
also carry the apparent, optimism and optimism-corrected AUC, calibration slope and Brier score
and the cross-validated mean of each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from deltarad.config import Study
from deltarad.design import COMBINED, Design
from deltarad.modeling.pipeline import FitResult
from deltarad.modeling.validation import ValidationResult
from deltarad.stats.pooling import POOLED_NOTE, table2_pooled
from deltarad.stats.tables import nested_note, table1, table2, table3

NO_COMPARATOR_NOTE = (
    "The design declares no reference model (references: []): the DeLong p, IDI and NRI "
    "columns compare nothing and are empty."
)


def table3_models(design: Design) -> list[str]:
    """The models Table 3 evaluates, in display order; the comparator gets its rows too (table3)."""
    return [m for m in design.model_labels if m != design.comparator]


def nested_models(design: Design, combined_terms: list[str]) -> list[str]:
    """The models that contain the comparator: the combined model when a comparator column is one
    of its terms."""
    reference = next((r for r in design.references if r.name == design.comparator), None)
    return [COMBINED] if reference is not None and set(reference.columns) & set(combined_terms) else []


def comparison_notes(design: Design) -> list[str]:
    return [] if design.comparator else [NO_COMPARATOR_NOTE]


@dataclass(frozen=True)
class JournalTable:
    """A table as the study reports it: the numbers, its title and footnotes."""

    frame: pd.DataFrame
    title: str
    notes: list[str] = field(default_factory=list)


@dataclass
class StudyTables:
    table1: JournalTable
    table2: JournalTable
    table3: JournalTable


def study_tables(
    study: Study, cohort: pd.DataFrame, result: FitResult, internal: ValidationResult | None = None
) -> StudyTables:
    """Tables 1-3 of the fit `result` on `cohort` (with `internal`'s columns in Table 3)."""
    design = Design.from_dict(result.model["design"])
    radscores = [rs.name for rs in design.radscores]
    p = result.predictions
    data = p[["patient_id", "set"]].merge(cohort, on="patient_id")
    references = [c for c in design.reference_columns if c not in study.clinical]
    variables = [*study.clinical, *references]
    categorical = [*study.categorical, *(c for c in references if _binary(cohort[c]))]
    with_radscores = data.merge(p[["patient_id", *radscores]], on="patient_id")  # the study's Table 1 has them
    t1 = table1(with_radscores, study.outcome, by="set", variables=[*variables, *radscores], categorical=categorical)

    training = data[data["set"] == "training"].merge(p[["patient_id", *radscores]], on="patient_id")
    if result.imputed:  # mice: every imputed training set, pooled by Rubin's rules
        t2 = table2_pooled(
            result.imputed,
            study.outcome,
            [*variables, *radscores],
            categorical,
            reference_levels=study.reference_levels,
        )
    else:
        t2 = table2(
            training,
            study.outcome,
            variables=[*variables, *radscores],
            categorical=categorical,
            reference_levels=study.reference_levels,
        )

    nested = nested_models(design, result.model[COMBINED]["terms"])
    t3 = table3(
        p,
        study.outcome,
        table3_models(design),
        by="set",
        fit_set="training",
        reference=design.comparator,
        nested=nested,
    )
    t3.insert(
        2, "n", t3[["tp", "fp", "tn", "fn"]].sum(axis=1)
    )  # patients the model scored (a blank costs the combined)
    if internal is not None:
        extra = internal.wide()
        t3 = t3.merge(extra, on="model", how="left")
        t3.loc[t3["set"] != "training", [c for c in extra.columns if c != "model"]] = float("nan")
    notes = comparison_notes(design)
    if t3["nested_optimistic"].any():
        assert design.comparator is not None  # table3 flags only comparisons with a reference model
        notes.insert(0, f"nested_optimistic: {nested_note(design.model_labels[design.comparator].lower())}")
    return StudyTables(
        JournalTable(t1, "Table 1. Patient characteristics by outcome"),
        JournalTable(
            t2,
            "Table 2. Logistic regression in the training set",
            [POOLED_NOTE.format(m=len(result.imputed))] if result.imputed else [],
        ),
        JournalTable(t3, "Table 3. Performance of the models", notes),
    )


def _binary(values: pd.Series) -> bool:
    """A reference column read as a category in Tables 1 and 2: its values are 0 and 1 (the
    ultrasound read); a continuous reference (e.g. tumour-volume change) stays a number."""
    return bool(pd.to_numeric(values, errors="coerce").dropna().isin([0, 1]).all())
