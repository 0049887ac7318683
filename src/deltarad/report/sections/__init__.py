"""The report's sections, in report order. Each is `make(builder, section)`: it fills the section
with figures, tables and text from the run folder, or raises Unavailable with the reason, which the
page then shows in its place."""

from __future__ import annotations

from collections.abc import Callable

from deltarad import runfolder
from deltarad.report.page import Builder, Section
from deltarad.report.run import RunFolder, Unavailable
from deltarad.report.sections import (
    agreement,
    cohort,
    kinetics,
    models,
    performance,
    predictions,
    qc,
    selection,
    settings,
    study_tables,
    validation,
)

Make = Callable[[Builder, Section], None]

REPORT: list[tuple[str, str, Make]] = [
    ("cohort", "Cohort flow", cohort.cohort),
    ("qc", "Region QC", qc.qc_gallery),
    ("agreement", "Reader agreement", agreement.agreement),
    ("table1", "Table 1. Characteristics of the patients by outcome", study_tables.table1),
    ("selection", "Feature selection", selection.selection),
    ("features", "Selected features and coefficients", selection.selected_features),
    ("table2", "Table 2. Univariate and multivariate logistic regression", study_tables.table2),
    ("combined", "Combined model", models.combined),
    ("nomogram", "Nomogram", models.nomogram),
    ("table3", "Table 3. Performance of the models", models.table3),
    ("beyond_kinetics", "Beyond ΔFTV and shrinkage", kinetics.beyond_kinetics),
    ("validation", "Internal validation (optimism-corrected)", validation.internal_validation),
    ("roc", "ROC curves", performance.roc),
    ("dca", "Decision curves", performance.decision_curves),
    ("calibration", "Calibration curves", performance.calibration),
    ("confusion", "Confusion matrices", performance.confusion),
    ("radscores", "Radscores by outcome", predictions.radscore_boxplots),
    ("heatmap", "Combined model inputs", predictions.input_heatmap),
    ("rose", "Rose plots of the predictions", predictions.rose_plots),
    ("settings", "Settings and software versions", settings.settings),
]
# Sections about the patients' regions: a run on a feature table has none to show (the methods
# paragraph says so), so they are left out unless the run read images (it has a regions/ folder).
REGIONS_ONLY = {"qc", "agreement"}
# Shown only where the design has a ΔFTV or volume-change reference model (a study with `kinetics:`).
KINETICS_ONLY = {"beyond_kinetics"}
# Sections about fitting the model. An external-validation folder holds a frozen model fitted
# elsewhere, so there they are left out (unless their input is present) rather than "not available".
DEVELOPMENT_ONLY = {"table1", "selection", "table2", "validation"}
# The sections of every report.
SECTIONS = [s for s in REPORT if s[0] not in REGIONS_ONLY | KINETICS_ONLY]


def sections_of(run: RunFolder) -> list[tuple[str, str, Make]]:
    """The sections the report of `run` shows, in order."""
    regions = (run.path / runfolder.REGIONS).is_dir()
    try:
        has_kinetics = bool(kinetics.kinetic_references(run.design))
    except Unavailable:
        has_kinetics = False
    return [s for s in REPORT if (regions or s[0] not in REGIONS_ONLY) and (has_kinetics or s[0] not in KINETICS_ONLY)]
