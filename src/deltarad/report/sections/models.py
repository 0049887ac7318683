"""The fitted models: the combined model's coefficients, its nomogram, and Table 3 (performance of
every model in every set)."""

from __future__ import annotations

import pandas as pd

from deltarad.design import ULTRASOUND_COLUMN, Design
from deltarad.errors import DeltaradError
from deltarad.formatting import format_value, journal_format
from deltarad.report.nomogram import nomogram_figure
from deltarad.report.page import Builder, Section
from deltarad.report.run import OUTCOME_LABELS, Unavailable
from deltarad.report.tables import NESTED_MARK, table3_display
from deltarad.stats.tables import nested_note

COMBINED_FIT = ("terms", "coefficients", "intercept")  # model.json's combined entries that are not fit statistics


def combined(b: Builder, sec: Section) -> None:
    model = b.run.model.get("combined")
    if not isinstance(model, dict) or "coefficients" not in model:
        raise Unavailable("model.json has no combined model coefficients")
    coef = dict(model["coefficients"])
    if "intercept" in model:
        coef = {"(intercept)": model["intercept"], **coef}
    rows = [{"Term": k, "Coefficient": v} for k, v in coef.items()]
    terms = model.get("terms", [])
    extras = ", ".join(
        f"{k.upper() if k == 'aic' else k} = {format_value(v)}"
        for k, v in model.items()
        if k not in COMBINED_FIT and isinstance(v, (int, float, str))
    )
    sec.intro = (
        "The combined model was chosen by stepwise logistic regression minimising AIC; it kept "
        + (", ".join(map(str, terms)) if terms else "no term")
        + "."
        + (f" ({extras})" if extras else "")
    )
    sec.items.append(
        b.table(
            journal_format(pd.DataFrame(rows)),
            "Combined model",
            "Logistic regression coefficients (log-odds) of the combined model.",
        )
    )


def nomogram(b: Builder, sec: Section) -> None:
    try:
        fig = nomogram_figure(b.run.model, outcome_label=OUTCOME_LABELS[1])
    except DeltaradError as exc:
        raise Unavailable(exc.problem) from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise Unavailable(
            f"model.json's combined model lacks what a nomogram needs ({type(exc).__name__}: {exc})"
        ) from None
    sec.items.append(
        b.figure(
            "nomogram",
            fig,
            "Nomogram of the combined model",
            "How to read it: for each predictor, find the patient's value on its axis and go straight up to the "
            "Points axis; add the points of all predictors, find the sum on the Total points axis and go straight "
            f"down to read the predicted probability of {OUTCOME_LABELS[1]}. The predictor whose effect spans the "
            "widest range earns 0–100 points, the others are on the same scale, so a longer axis means more "
            "influence; radscores are probabilities (0–1), numeric variables span their training range and the "
            "reference level of a categorical variable earns 0 points. The nomogram is the combined model's "
            "logistic regression drawn, not a new model: it inherits its optimism (see the internal validation).",
        )
    )


def comparator_short(design: Design) -> str | None:
    """The comparator's name in Table 3's column head: US for the study's ultrasound model."""
    if design.comparator is None:
        return None
    return "US" if design.comparator == ULTRASOUND_COLUMN else design.model_labels[design.comparator]


def table3(b: Builder, sec: Section) -> None:
    t3 = b.run.table3
    design = b.run.design
    shown = table3_display(t3, b.run.models, comparator_short(design))
    against = (
        f"DeLong test and IDI against the {design.model_labels[design.comparator].lower()} model, and NRI"
        if design.comparator
        else "no DeLong test, IDI or NRI: the design declares no reference model to compare against"
    )
    cutoff = (
        "the frozen model's own cut-off, chosen on its training set (Youden index) and not re-chosen on this cohort"
        if b.run.is_external
        else "cut-off chosen on the training set (Youden index) and carried to validation"
    )
    nested = t3.get("nested_optimistic", pd.Series(dtype=bool)).astype(str).eq("True").any()
    sec.items.append(
        b.table(
            shown,
            "Performance of the models",
            f"AUC with DeLong 95% CI; accuracy, sensitivity, specificity, PPV and NPV at the "
            f"{cutoff}; {against}."
            + (
                f" {NESTED_MARK} {nested_note(design.model_labels[design.comparator].lower())}"
                if nested and design.comparator
                else ""
            ),
            label="Table 3",
            source=t3,
            name="table3",
        )
    )
