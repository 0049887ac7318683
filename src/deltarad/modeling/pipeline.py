"""From a cohort and its delta features to the fitted study: split, selection, the design's models
(a radscore per (regions, delta), the reference models, the combined model)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deltarad._version import __version__
from deltarad.config import Study
from deltarad.design import COMBINED, Design
from deltarad.errors import DeltaradError
from deltarad.features.delta import DELTA_KINDS, DeltaMatrices, drop_summary, region_info, with_delta_column
from deltarad.harmonize import apply_harmonization, fit_harmonization
from deltarad.kinetics import kinetic_variables
from deltarad.modeling.mice import fit_combined_mice, fit_imputation
from deltarad.modeling.missing import MIN_STEPWISE_PATIENTS, finite
from deltarad.modeling.modelfile import SCHEMA, SCHEMA_VERSION, DeltaradModel
from deltarad.modeling.models import fit_combined, fit_radscore
from deltarad.modeling.selection import select_features
from deltarad.modeling.split import random_split_lengths, study_split
from deltarad.stats.logit import fit_logit
from deltarad.stats.roc import youden_threshold

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    split: pd.DataFrame  # patient_id, set
    predictions: pd.DataFrame  # patient_id, set, outcome, the design's model_columns (radscores, references, combined)
    selection: pd.DataFrame  # region, step, n_features, note
    selected: pd.DataFrame  # region, feature, coefficient
    model: dict
    imputed: list[pd.DataFrame] | None = None  # mice: the completed training sets (for Table 2)
    unscored: pd.DataFrame | None = None  # patient_id, stage, error: validation patients the model cannot score


def _training_matrix(X: pd.DataFrame, name: str, reader: int, ids: list[str]) -> pd.DataFrame:
    X = X.loc[X.index.isin(ids)]
    bad = ~np.isfinite(X.to_numpy(float))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DeltaradError(
            f"delta feature {X.columns[c]} ({name}, reader {reader}) is not finite", patient=str(X.index[r])
        )
    return X


def _delta_note(infos: list[dict]) -> str:
    summary = ", ".join(s for s in (drop_summary(info) for info in infos) if s)
    return f"{summary} dropped by the delta rule (delta_dropped.csv)" if summary else ""


def _region_infos(delta_info: dict, design: Design) -> dict[tuple[str, str], dict]:
    """(delta, region) -> compute_delta's account of it, for every pair the radscores use."""
    out = {}
    for rs in design.radscores:
        for region in rs.regions:
            info = region_info(delta_info, rs.delta, region)
            if info is None:
                raise DeltaradError(
                    f"the feature table has no {region} rows"
                    + (f" for the {rs.delta} delta" if len(design.deltas) > 1 else "")
                )
            out[rs.delta, region] = info
    return out


def fit_references(train: pd.DataFrame, y: np.ndarray, design: Design) -> dict[str, dict]:
    """Each reference model (logistic regression on its cohort columns, as numbers) as the
    model file stores it: label, columns and the fit."""
    return {
        ref.name: {
            "label": ref.label,
            "columns": list(ref.columns),
            **fit_logit(train[list(ref.columns)].astype(float), y, separation=False).to_dict(),
        }
        for ref in design.references
    }


def combined_candidates(study: Study, design: Design) -> list[str]:
    """The combined model's stepwise candidates: the clinical columns, the references' columns
    (each once) and the radscores."""
    return [
        *study.clinical,
        *(c for c in design.reference_columns if c not in study.clinical),
        *(rs.name for rs in design.radscores),
    ]


def _training_range(train: pd.DataFrame, encoding) -> dict:
    """A numeric variable's training minimum and maximum (the nomogram's axis), else nothing."""
    if encoding.levels is not None:
        return {}
    values = pd.to_numeric(train[encoding.name]).astype(float)
    return {"range": [float(values.min()), float(values.max())]}


@functools.cache  # read once per process: every refit asked the package metadata again
def software_versions() -> dict[str, str]:
    import importlib.metadata as md

    names = ["numpy", "scipy", "pandas", "scikit-learn", "statsmodels", "SimpleITK", "pyradiomics-bhklab"]
    out = {"deltarad": __version__}  # the code that ran, whatever an editable install's metadata says
    for n in names:
        try:
            out[n] = md.version(n)
        except md.PackageNotFoundError:
            pass
    return out


def fit_model(
    study: Study,
    cohort: pd.DataFrame,
    delta: pd.DataFrame,
    delta_info: dict,
    train_ids: list[str],
    imputed: list | None = None,
    groups: dict[str, str] | None = None,
) -> tuple[dict, list[dict]]:
    """The whole modelling procedure on the training patients `train_ids` alone: ComBat (when the
    cohort names centres), selection per radscore, the radscores, the reference and combined models.

    Returns the model file's content (without cut-offs) and the selection steps. The optimism
    bootstrap and cross-validation call this on each resample, so everything fitted is in here.
    Under the mice policy a list passed as `imputed` receives the m completed training sets.
    `groups` maps each training id to its original patient (bootstrap copies): inner folds keep
    a patient's copies together.
    """
    design = study.design
    train = cohort.set_index("patient_id").loc[train_ids]
    y = train[study.outcome].to_numpy(int)
    if len(np.unique(y)) < 2:
        raise DeltaradError(f"the training set has one outcome class only ({study.outcome} = {y[0]})")
    infos = _region_infos(delta_info, design)
    matrices = DeltaMatrices.from_table(
        with_delta_column(delta, design), {key: info["kept"] for key, info in infos.items()}
    )
    harmonization = fit_harmonization(study.harmonize, cohort, matrices, train_ids)
    matrices = apply_harmonization(harmonization, cohort, matrices)

    radscores, steps = {}, []
    copies_of = None if groups is None else np.array([groups[i] for i in train_ids])
    for rs in design.radscores:
        name = design.selection_name(rs)
        parts = [infos[rs.delta, region] for region in rs.regions]
        X = _training_matrix(matrices.radscore(rs.delta, rs.regions, 1), name, 1, train_ids).loc[train_ids]
        reader2 = matrices.radscore(rs.delta, rs.regions, 2)  # NaN where reader 2's delta is undefined
        reader2 = reader2.loc[reader2.index.isin(train_ids)]
        sel = select_features(
            name,
            X,
            y,
            study.selection,
            reader2=reader2,
            n_before_delta=sum(info["n_features"] for info in parts),
            groups=copies_of,
            delta_note=_delta_note(parts),
        )
        radscores[rs.name] = fit_radscore(sel, X, y, list(rs.regions), rs.delta)
        steps += sel.steps
        train[rs.name] = radscores[rs.name].predict(X)  # the scorer of DeltaradModel.predict_proba (Radscore.predict)

    references = fit_references(train, y, design)
    candidates = combined_candidates(study, design)
    if study.missing.policy == "mice":
        imputation = fit_imputation(
            train, study.clinical, [*candidates[len(study.clinical) :]], study.outcome, study.categorical, study.missing
        )
        combined = fit_combined_mice(
            imputation.completed, train, y, candidates, study.categorical, study.reference_levels
        )
        combined.missing["imputation"] = imputation.scoring
        if imputed is not None:
            imputed.extend(imputation.completed)
    else:
        combined = fit_combined(train, y, candidates, study.categorical, study.reference_levels)

    model = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created_by": f"deltarad {__version__}",
        "outcome": study.outcome,
        "design": design.to_dict(),
        "delta": {
            "kind": delta_info.get("kind", "relative"),
            "reader": 1,
            "near_zero": delta_info.get("near_zero"),
            "formula": DELTA_KINDS[delta_info.get("kind", "relative")],
        },
        "settings": {
            "split": study.split.model_dump(),
            "selection": study.selection.model_dump(),
            "imaging": study.imaging.model_dump(mode="json"),
            "harmonize": study.harmonize.model_dump(),
            "missing": study.missing.model_dump(),
        },
        "harmonization": harmonization,
        "models": design.model_labels,
        "radscores": {name: rs.to_dict() for name, rs in radscores.items()},
        "references": references,
        COMBINED: {
            "terms": combined.terms,
            "variables": {
                e.name: {**e.to_dict(), **_training_range(train, e)}
                for e in combined.encodings
                if e.name in combined.terms
            },
            **combined.step.fit.to_dict(),
            "aic": combined.step.fit.aic,
            "separation": combined.step.fit.separation,
            "path": combined.step.path,
            **combined.missing,
        },
        "software": dict(software_versions()),
    }
    return model, steps


def enough_training_patients(study: Study, y_train: pd.Series, n_usable: int) -> None:
    """Refuse, before any fitting, a training set too small for the modelling: the LASSO chooses its
    penalty by stratified cross-validation (at least 2 training patients of each outcome, one per
    fold side), and under the complete-case policy the combined model's stepwise search needs
    MIN_STEPWISE_PATIENTS; the error says how many usable patients the split needs."""
    counts = {level: int((y_train.to_numpy() == level).sum()) for level in (0, 1)}
    problems = []
    if min(counts.values()) < 2:
        problems.append(
            f"the LASSO chooses its penalty by {study.selection.lasso_folds}-fold cross-validation, "
            f"which needs at least 2 training patients of each outcome (there are "
            f"{counts[0]} with {study.outcome} = 0 and {counts[1]} with {study.outcome} = 1)"
        )
    if study.missing.policy == "complete_case" and len(y_train) < MIN_STEPWISE_PATIENTS:
        problems.append(
            f"the combined model's stepwise search needs at least {MIN_STEPWISE_PATIENTS} training patients"
        )
    if not problems:
        return
    fraction = study.split.validation_fraction
    least = MIN_STEPWISE_PATIENTS if study.missing.policy == "complete_case" else 4  # 4: 2 of each outcome
    needed = next(n for n in range(2, 10**6) if random_split_lengths(n, (fraction, 1 - fraction))[1] >= least)
    raise DeltaradError(
        f"too few patients: {n_usable} usable patients give {len(y_train)} training patients "
        f"(split.validation_fraction {fraction:g}); {'; and '.join(problems)}. That takes at least "
        f"{needed} usable patients, with both outcomes well represented"
    )


def check_model_columns(study: Study, cohort: pd.DataFrame) -> None:
    """Refuse, in words, a cohort that lacks a column the models read: the outcome, a reference
    model's, a clinical variable. A kinetic variable (delta_ftv_<after>, volume_change_<after>)
    is derived from kinetics.csv and the features, not read from the cohort file."""
    design = study.design
    needed = dict.fromkeys([study.outcome, *design.reference_columns, *study.clinical])
    missing = [c for c in needed if c not in cohort.columns]
    if not missing:
        return
    derived = [c for c in missing if c in kinetic_variables(design.deltas)]
    raise DeltaradError(
        f"the clinical table lacks column(s) {', '.join(missing)} that the models read"
        + (
            f"; the kinetic variable(s) {', '.join(derived)} come from kinetics.csv and the features: "
            "`deltarad run` joins them; in Python, deltarad.with_kinetics(clinical, kinetics, features, study)"
            if derived
            else ""
        )
    )


def fit_study(
    study: Study, cohort: pd.DataFrame, delta: pd.DataFrame, delta_info: dict, file_order: list[str] | None = None
) -> FitResult:
    """Fit every selection step and model on the training set; score every patient.

    The split runs over the whole cohort file (`file_order`: every patient id in file order,
    failed ones included; default the cohort's own order), as the study did; patients without
    delta features (failed or incomplete cases) are then left out of their set, so one bad case
    does not reshuffle everybody else's assignment.
    """
    check_model_columns(study, cohort)
    ids = file_order if file_order is not None else list(cohort["patient_id"])
    split = study_split(ids, study.split.validation_fraction, study.split.seed)
    have = set(delta.loc[delta["reader"] == 1, "patient_id"])
    split = split[split["patient_id"].isin(have)].reset_index(drop=True)
    cohort = cohort[cohort["patient_id"].isin(have)].reset_index(drop=True)
    train_ids = list(split.loc[split["set"] == "training", "patient_id"])
    enough_training_patients(study, cohort.set_index("patient_id").loc[train_ids, study.outcome], len(split))
    imputed: list[pd.DataFrame] = []
    model, steps = fit_model(study, cohort, delta, delta_info, train_ids, imputed=imputed)
    frozen = DeltaradModel(model)
    unscored = frozen.unscorable(delta, cohort)  # e.g. a validation patient's category unseen in training
    if len(unscored):
        split = split[~split["patient_id"].isin(unscored["patient_id"])].reset_index(drop=True)
        cohort = cohort[~cohort["patient_id"].isin(unscored["patient_id"])].reset_index(drop=True)
    scores = frozen.predict_proba(delta, cohort)
    predictions = split.merge(cohort[["patient_id", study.outcome]], on="patient_id").merge(scores, on="patient_id")
    fit_rows = predictions["set"] == "training"
    model["thresholds"] = {
        m: youden_threshold(
            *finite(predictions.loc[fit_rows, study.outcome].to_numpy(), predictions.loc[fit_rows, m].to_numpy())
        )
        for m in frozen.design.model_columns
    }
    selected = pd.DataFrame(
        [
            {"region": rs["region"], "feature": f, "coefficient": rs["coefficients"][f]}
            for rs in model["radscores"].values()
            for f in rs["features"]
        ],
        columns=["region", "feature", "coefficient"],
    )
    return FitResult(split, predictions, pd.DataFrame(steps), selected, model, imputed or None, unscored)
