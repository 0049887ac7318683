"""The predictions themselves, patient by patient: radscores by outcome, a heatmap of the combined
model's inputs, and rose plots of every model's predicted probabilities."""

from __future__ import annotations

from deltarad.design import COMBINED
from deltarad.report import figures
from deltarad.report.page import Builder, Section
from deltarad.report.run import Unavailable


def radscore_boxplots(b: Builder, sec: Section) -> None:
    run = b.run
    # the radscores and the combined model (the ultrasound reference gives one probability per read: no box)
    references = {r.name for r in run.design.references}
    scores = {m: label for m, label in run.models.items() if m not in references}
    shown = [f"Radscore_{label}" for m, label in scores.items() if m != COMBINED]
    sec.items.append(
        b.figure(
            "radscore_boxplots",
            figures.radscore_boxplots(run.predictions, run.outcome, scores, run.sets()),
            "Radscores by outcome",
            f"{', '.join(shown)} and the combined model's probability by outcome in each "
            "set; boxes show the median and quartiles, points the patients.",
        )
    )


def input_heatmap(b: Builder, sec: Section) -> None:
    run = b.run
    terms = run.model.get(COMBINED, {}).get("terms", [])
    # A term that is a one-column reference's column (the ultrasound read) is shown as that reference
    # model's probability of it (its prediction column).
    read = {r.columns[0]: r.name for r in run.design.references if len(r.columns) == 1}
    inputs, absent = {}, []
    for term in map(str, terms):
        col = read[term] if term in read and term not in run.predictions.columns else term
        if col in run.predictions.columns and col != COMBINED:
            inputs[col] = run.models.get(col, term)
        else:
            absent.append(term)
    if not inputs:
        raise Unavailable(
            "none of the combined model's inputs is a column of predictions.csv"
            + (f" (terms: {', '.join(absent)})" if absent else " (model.json lists no terms)")
        )
    note = f" Inputs not in predictions.csv, not shown: {', '.join(absent)}." if absent else ""
    sec.items.append(
        b.figure(
            "input_heatmap",
            figures.input_heatmap(run.predictions, run.outcome, inputs, run.sets()),
            "Heatmap of the combined model's inputs",
            "Each column is a patient, sorted by outcome and then by the combined model's "
            "probability; each row an input of the combined model (a reference's row, e.g. "
            "the ultrasound row, is its model's probability, i.e. the read), z-scored over all "
            "patients." + note,
        )
    )


def rose_plots(b: Builder, sec: Section) -> None:
    run = b.run
    try:
        thresholds = run.thresholds()
    except Unavailable:
        thresholds = {}
    sec.items.append(
        b.figure(
            "rose_plots",
            figures.rose_plots(
                run.predictions.dropna(subset=list(run.models)), run.outcome, run.models, run.sets(), thresholds
            ),
            "Rose plots of the predictions",
            "One bar per patient, its length the predicted probability of pCR and its colour "
            "the observed outcome (blue pCR, orange non-pCR); patients ordered by outcome, then "
            "probability. "
            + (
                "The dashed circle is the training-set Youden cut-off."
                if thresholds
                else "No training-set cut-off was available to draw."
            ),
        )
    )
