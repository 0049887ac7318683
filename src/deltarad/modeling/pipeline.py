"""From a cohort and its delta features to the fitted study: split, selection, the four models."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deltarad._version import __version__
from deltarad.config import Study
from deltarad.errors import DeltaradError
from deltarad.features.delta import DELTA_KINDS, DeltaMatrices, drop_summary
from deltarad.harmonize import apply_harmonization, fit_harmonization
from deltarad.stats.logit import fit_logit
from deltarad.modeling.mice import fit_combined_mice, fit_imputation
from deltarad.modeling.missing import MIN_STEPWISE_PATIENTS, finite
from deltarad.modeling.modelfile import SCHEMA, SCHEMA_VERSION, DeltaradModel
from deltarad.modeling.models import fit_combined, fit_radscore
from deltarad.modeling.names import MODEL_COLUMNS, MODEL_LABELS, RADSCORES
from deltarad.modeling.selection import select_features
from deltarad.modeling.split import random_split_lengths, study_split
from deltarad.stats.roc import youden_threshold

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    split: pd.DataFrame  # patient_id, set
    predictions: pd.DataFrame  # patient_id, set, outcome, radscore_dir, radscore_dpr, us, combined
    selection: pd.DataFrame  # region, step, n_features, note
    selected: pd.DataFrame  # region, feature, coefficient
    model: dict
    imputed: list[pd.DataFrame] | None = None  # mice: the completed training sets (for Table 2)
    unscored: pd.DataFrame | None = None  # patient_id, stage, error: validation patients the model cannot score


def _training_matrix(delta: DeltaMatrices, region: str, reader: int, ids: list[str]) -> pd.DataFrame:
    X = delta[region, reader]
    X = X.loc[X.index.isin(ids)]
    bad = ~np.isfinite(X.to_numpy(float))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DeltaradError(f"delta feature {X.columns[c]} ({region}, reader {reader}) is not finite",
                            patient=str(X.index[r]))
    return X


def _delta_note(region_info: dict) -> str:
    summary = drop_summary(region_info)
    return f"{summary} dropped by the delta rule (delta_dropped.csv)" if summary else ""


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


def fit_model(study: Study, cohort: pd.DataFrame, delta: pd.DataFrame, delta_info: dict,
              train_ids: list[str], imputed: list | None = None,
              groups: dict[str, str] | None = None) -> tuple[dict, list[dict]]:
    """The whole modelling procedure on the training patients `train_ids` alone: ComBat (when the
    cohort names centres), selection per region, radscores, ultrasound and combined models.

    Returns the model file's content (without cut-offs) and the selection steps. The optimism
    bootstrap and cross-validation call this on each resample, so everything fitted is in here.
    Under the mice policy a list passed as `imputed` receives the m completed training sets.
    `groups` maps each training id to its original patient (bootstrap copies): inner folds keep
    a patient's copies together.
    """
    train = cohort.set_index("patient_id").loc[train_ids]
    y = train[study.outcome].to_numpy(int)
    if len(np.unique(y)) < 2:
        raise DeltaradError(f"the training set has one outcome class only ({study.outcome} = {y[0]})")
    matrices = DeltaMatrices.from_table(delta, {region: info["kept"] for region, info in delta_info["regions"].items()})
    harmonization = fit_harmonization(study.harmonize, cohort, matrices, train_ids)
    matrices = apply_harmonization(harmonization, cohort, matrices)

    radscores, steps = {}, []
    copies_of = None if groups is None else np.array([groups[i] for i in train_ids])
    for name, region in RADSCORES.items():
        info = delta_info["regions"].get(region)
        if info is None:
            raise DeltaradError(f"the feature table has no {region} rows")
        X = _training_matrix(matrices, region, 1, train_ids).loc[train_ids]
        reader2 = matrices[region, 2]  # NaN where reader 2's delta is undefined
        reader2 = reader2.loc[reader2.index.isin(train_ids)]
        sel = select_features(region, X, y, study.selection, reader2=reader2, n_before_delta=info["n_features"],
                              groups=copies_of, delta_note=_delta_note(info))
        radscores[name] = fit_radscore(sel, X, y)
        steps += sel.steps
        train[name] = radscores[name].predict(X)  # the scorer of DeltaradModel.predict_proba (Radscore.predict)

    us_fit = fit_logit(train[[study.ultrasound]].astype(float), y, separation=False)
    candidates = [*study.clinical, study.ultrasound, *RADSCORES]
    if study.missing.policy == "mice":
        imputation = fit_imputation(train, study.clinical, [study.ultrasound, *RADSCORES], study.outcome,
                                    study.categorical, study.missing)
        combined = fit_combined_mice(imputation.completed, train, y, candidates, study.categorical,
                                     study.reference_levels)
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
        "ultrasound": study.ultrasound,
        "delta": {"kind": delta_info.get("kind", "relative"), "reader": 1, "near_zero": delta_info.get("near_zero"),
                  "formula": DELTA_KINDS[delta_info.get("kind", "relative")]},
        "settings": {
            "split": study.split.model_dump(),
            "selection": study.selection.model_dump(),
            "imaging": study.imaging.model_dump(mode="json"),
            "harmonize": study.harmonize.model_dump(),
            "missing": study.missing.model_dump(),
        },
        "harmonization": harmonization,
        "models": dict(MODEL_LABELS),
        "radscores": {name: rs.to_dict() for name, rs in radscores.items()},
        "ultrasound_model": us_fit.to_dict(),
        "combined": {
            "terms": combined.terms,
            "variables": {e.name: {**e.to_dict(), **_training_range(train, e)}
                          for e in combined.encodings if e.name in combined.terms},
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
        problems.append(f"the LASSO chooses its penalty by {study.selection.lasso_folds}-fold cross-validation, "
                        f"which needs at least 2 training patients of each outcome (there are "
                        f"{counts[0]} with {study.outcome} = 0 and {counts[1]} with {study.outcome} = 1)")
    if study.missing.policy == "complete_case" and len(y_train) < MIN_STEPWISE_PATIENTS:
        problems.append(f"the combined model's stepwise search needs at least {MIN_STEPWISE_PATIENTS} training patients")
    if not problems:
        return
    fraction = study.split.validation_fraction
    least = MIN_STEPWISE_PATIENTS if study.missing.policy == "complete_case" else 4  # 4: 2 of each outcome
    needed = next(n for n in range(2, 10**6) if random_split_lengths(n, (fraction, 1 - fraction))[1] >= least)
    raise DeltaradError(f"too few patients: {n_usable} usable patients give {len(y_train)} training patients "
                        f"(split.validation_fraction {fraction:g}); {'; and '.join(problems)}. That takes at least "
                        f"{needed} usable patients, with both outcomes well represented")


def fit_study(study: Study, cohort: pd.DataFrame, delta: pd.DataFrame, delta_info: dict,
              file_order: list[str] | None = None) -> FitResult:
    """Fit every selection step and model on the training set; score every patient.

    The split runs over the whole cohort file (`file_order`: every patient id in file order,
    failed ones included; default the cohort's own order), as the study did; patients without
    delta features (failed or incomplete cases) are then left out of their set, so one bad case
    does not reshuffle everybody else's assignment.
    """
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
        m: youden_threshold(*finite(predictions.loc[fit_rows, study.outcome].to_numpy(),
                                    predictions.loc[fit_rows, m].to_numpy()))
        for m in MODEL_COLUMNS
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
