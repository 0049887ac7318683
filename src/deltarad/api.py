"""deltarad as a Python library: the functions behind `import deltarad`.

The same stages the CLI runs (`deltarad run` = `run_study(load_study(path), out)`), taking and
returning values instead of files:

    features = pd.concat([extract_exam(image, masks, patient_id=p, timepoint=t) for ...])
    d = delta(features)                       # relative change, baseline -> early
    model = fit(d, clinical, settings)        # selection, radscores, reference models, combined
    scores = model.predict_proba(d, clinical)
    evaluate(clinical["outcome"], scores["combined"])

Settings are a `Study` (from `load_study`), a mapping of study-file keys
(`{"selection": {"corr_max": 0.8}}`), or None for the study's defaults (Zeng et al. 2025).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from deltarad.config import ImagingSettings, Study
from deltarad.errors import DeltaradError
from deltarad.modeling.modelfile import DeltaradModel

log = logging.getLogger(__name__)

#: Where `delta` leaves what `fit` needs of the delta step (DataFrame.attrs keys).
DELTA_INFO = "deltarad.delta_info"
LEFT_OUT = "deltarad.left_out"


def _imaging(settings: ImagingSettings | Study | Mapping | None) -> ImagingSettings:
    """ImagingSettings with an absolute PyRadiomics parameter file (or None: the study's)."""
    if isinstance(settings, ImagingSettings):
        imaging = settings
        params = None if imaging.params is None else Path(imaging.params).resolve()
    else:
        study = Study.from_settings(settings)
        imaging, params = study.imaging, study.params_path
    return imaging.model_copy(update={"params": params})


def extract_exam(
    image,
    masks,
    settings: ImagingSettings | Study | Mapping | None = None,
    *,
    chest_wall=None,
    series: str | None = None,
    patient_id: str | None = None,
    timepoint: str | None = None,
) -> pd.DataFrame:
    """PyRadiomics features of one exam, as `deltarad extract` computes them.

    `image`: the DCE exam, a SimpleITK image or a path (a DICOM folder or file, NIfTI, NRRD; the
    analysed phase, image kind and `series` chosen as `deltarad extract` does). `masks`: the
    tumour, one mask or {reader: mask} (reader 1 feeds the models, reader 2 only the ICC), each
    a SimpleITK labelmap or a path (NIfTI, NRRD, .seg.nrrd, DICOM-SEG, RTSTRUCT).
    `chest_wall`: an optional mask left out of the peritumoral ring. `settings`: ImagingSettings,
    a Study, a mapping of study-file keys, or None (the study's: N4, 1 mm isotropic resampling,
    a 3 mm ring minus air and 2 mm of skin, 851 features).

    Returns one row per (region, reader): patient_id, timepoint, region, reader, the features,
    and `notes` (what was inferred or corrected: air threshold, resampled mask, ...).
    A `timepoint` after the design's first (e.g. "early") treats an empty reader-1 mask as a
    complete early response. The regions and the analysed image follow the settings' design
    (a Study or study-file mapping with a `design:` section; ImagingSettings alone: the study's).
    """
    import SimpleITK as sitk

    from deltarad.design import FEATURE_KEYS
    from deltarad.features.extract import _stage, exam_design, exam_features, prepare_exam, read_exam_images

    imaging = _imaging(settings)
    design = exam_design(
        imaging, None if isinstance(settings, ImagingSettings) else Study.from_settings(settings).design
    )
    keys = list(FEATURE_KEYS)
    if isinstance(masks, Mapping):
        if not all(reader in (1, 2) for reader in masks):
            raise DeltaradError(f"masks: readers are 1 and 2, got {sorted(masks, key=str)}", patient=patient_id)
        masks = {int(reader): mask for reader, mask in masks.items()}
    elif isinstance(masks, (sitk.Image, str, Path)):
        masks = {1: masks}
    else:
        raise DeltaradError(
            f"masks must be a mask (SimpleITK image or path) or {{reader: mask}}, got {type(masks).__name__}",
            patient=patient_id,
        )
    if 1 not in masks:
        raise DeltaradError(f"no reader-1 mask (readers given: {sorted(masks)})", patient=patient_id)
    with _stage("read", patient_id, timepoint):
        exam = read_exam_images(
            image,
            masks,
            imaging,
            chest_wall=chest_wall,
            series=series,
            patient=patient_id,
            timepoint=timepoint,
            design=design,
        )
    prepared = prepare_exam(exam, imaging, patient=patient_id, timepoint=timepoint, design=design)
    records = exam_features(prepared, imaging, patient=patient_id, timepoint=timepoint, design=design)
    table = pd.DataFrame.from_records(records)
    order = table["region"].map(design.region_names.index) * 10 + table["reader"]  # extract_cohort's order
    return table.iloc[np.argsort(order.to_numpy(), kind="stable")][
        keys + [c for c in table.columns if c not in keys]
    ].reset_index(drop=True)


def delta(features: pd.DataFrame, settings: Study | Mapping | None = None) -> pd.DataFrame:
    """The delta table of a long-form feature table (patient_id, timepoint, region, reader, the
    features: `deltarad extract`'s features.csv, or `extract_exam` rows concatenated).

    The change is each delta of the study's design (default the study's `delta`, relative:
    (early - baseline) / baseline) per patient, region and reader. As `deltarad run` does, a
    patient with a non-finite reader-1 feature is left out, and a feature whose delta is undefined
    in a region (zero, near-zero or two-signed baselines) is dropped there (NaN column). Returns
    patient_id, delta (the pair's name, e.g. early_vs_baseline), region, reader and one column
    per feature; `.attrs` carries what `fit` needs: the delta step's info (kept and dropped
    features per region, with reasons) and the patients left out.
    """
    from deltarad.workflow import log_left_out, usable_delta

    study = Study.from_settings(settings)
    table, info, left_out = usable_delta(features, study.design, near_zero=study.delta_near_zero)
    log_left_out(left_out)
    table.attrs[DELTA_INFO] = info
    table.attrs[LEFT_OUT] = left_out.to_dict("records")
    return table


def delta_info(table: pd.DataFrame, settings: Study | Mapping | None = None) -> dict:
    """What `fit` needs of the delta step: the info `delta` left in `table.attrs`; for a delta
    table read from a file (delta_features.csv) it is re-derived: a feature is kept in a region
    where reader 1 has a value (the delta step leaves dropped features empty), the kind is the
    settings' `delta`, and the reasons of the drops are not known (logged)."""
    study = Study.from_settings(settings)
    info = table.attrs.get(DELTA_INFO)
    if info is not None:
        if info["kind"] != study.delta:
            raise DeltaradError(
                f"the delta table holds the {info['kind']} change but the settings say "
                f"delta: {study.delta}; make it with delta(features, settings)"
            )
        return info
    from deltarad.features.delta import DELTA_KEYS, feature_columns

    design = study.design
    feats = feature_columns(table, DELTA_KEYS)
    reader1 = table[table["reader"] == 1]
    deltas = {}
    for pair in design.deltas:
        part_of_pair = reader1[reader1["delta"] == pair.name] if "delta" in reader1.columns else reader1
        regions = {}
        for region, part in part_of_pair.groupby("region", sort=False):
            values = part[feats].to_numpy(float)
            kept = [f for f, any_value in zip(feats, np.isfinite(values).any(axis=0)) if any_value]
            dropped = {f: "dropped before (no value in the delta table)" for f in feats if f not in kept}
            regions[region] = {
                "n_features": len(feats),
                "n_kept": len(kept),
                "dropped": dropped,
                "dropped_zero_baseline": [],
                "reader2_undefined": {},
                "kept": kept,
            }
            log.warning(
                "delta table without its delta info: %s %s features kept as the %d with reader-1 values "
                "(%d empty); the reasons of the drops are unknown",
                pair.name,
                region,
                len(kept),
                len(dropped),
            )
        deltas[pair.name] = {
            "before": pair.before,
            "after": pair.after,
            "kind": pair.form,
            "formula": pair.formula,
            "incomplete_patients": [],
            "regions": regions,
        }
    first = deltas[design.deltas[0].name]
    info = {
        "near_zero": study.delta_near_zero,
        "deltas": deltas,
        **{k: first[k] for k in ("kind", "formula", "incomplete_patients", "regions")},
    }
    return info


def cohort_table(clinical: pd.DataFrame, settings: Study | Mapping | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The patients of a clinical table (one row per patient: the study's patient_id, outcome,
    ultrasound and clinical columns), checked as `deltarad run` checks the cohort file.

    Returns (usable patients, failures: patient_id, stage, error of those left out, e.g. an
    outcome not 0/1 or a value the study's coding does not name)."""
    cohort = _clinical_cohort(clinical, Study.from_settings(settings))
    return cohort.cases, cohort.failures


def _clinical_cohort(clinical: pd.DataFrame, study: Study):
    """The clinical table read as the cohort file is (deltarad.cohort.Cohort: the usable patients,
    every patient id in row order, the failures)."""
    from deltarad.cohort import read_cohort
    from deltarad.tablefile import Table

    if not isinstance(clinical, pd.DataFrame):
        raise DeltaradError(f"clinical must be a pandas DataFrame, got {type(clinical).__name__}")
    return read_cohort(study, table=Table.of_frame(clinical, "clinical (DataFrame)", text_columns=(study.patient_id,)))


def with_kinetics(
    clinical: pd.DataFrame, kinetics: pd.DataFrame, features: pd.DataFrame, settings: Study | Mapping | None = None
) -> pd.DataFrame:
    """The clinical table with the kinetic variables of each delta pair of the design joined by
    patient id, as `deltarad run` joins them for the reference models and the combined model's
    candidates: delta_ftv_<after> (the relative change of reader 1's FTV, from `kinetics`, a
    kinetics.csv) and volume_change_<after> (of reader 1's tumour original_shape_VoxelVolume,
    from `features`, the long-form feature table); NaN for a patient without them (an exam
    missing, or a baseline value of 0)."""
    from deltarad.features.kinetic_exam import kinetic_deltas, with_kinetic_variables

    study = Study.from_settings(settings)
    if study.patient_id not in clinical.columns:
        raise DeltaradError(f"the clinical table has no patient id column '{study.patient_id}'")
    deltas = kinetic_deltas(kinetics, features, study.design)  # patient ids compared as text
    ids = pd.DataFrame({"patient_id": clinical[study.patient_id].astype(str).str.strip().to_numpy()})
    joined = with_kinetic_variables(ids, deltas, study.design).drop(columns="patient_id")
    out = clinical.copy()
    for column in joined.columns:
        out[column] = joined[column].to_numpy()
    return out


def split(clinical: pd.DataFrame, settings: Study | Mapping | None = None) -> pd.DataFrame:
    """The study's random training/validation split (patient_id, set) over the clinical table's
    patients in row order: the split `fit` and `deltarad run` use (settings `split`)."""
    from deltarad.modeling.split import study_split

    study = Study.from_settings(settings)
    return study_split(_clinical_cohort(clinical, study).file_order, study.split.validation_fraction, study.split.seed)


def fit(delta: pd.DataFrame, clinical: pd.DataFrame, settings: Study | Mapping | None = None) -> DeltaradModel:
    """Fit the study's models, as `deltarad run` does: the random split over the clinical
    table's patients (row order), then on the training set alone ComBat (when a centre column is
    given), feature selection per radscore of the design (ICC, z-score, t-test, |r| > corr_max,
    LASSO), the radscores (the study's: DIR and DPR), the reference models (the study's: the
    ultrasound read), the combined model (stepwise AIC) and the Youden cut-offs.

    `delta`: the table `deltarad.delta` returns (or a delta_features.csv: see `delta_info`);
    `clinical`: one row per patient (patient_id, outcome, the references' columns, the clinical variables);
    `settings`: a Study, a mapping of study-file keys or None (the study's defaults). Patients the cohort check leaves
    out are logged. Returns the frozen model (`.to_json(path)`, `.predict_proba(delta, clinical)`).
    """
    return DeltaradModel(fit_result(delta, clinical, settings).model)


def fit_result(delta: pd.DataFrame, clinical: pd.DataFrame, settings: Study | Mapping | None = None):
    """`fit` with everything it made (modeling.pipeline.FitResult: split, predictions of every
    patient, selection steps, selected features, model data)."""
    from deltarad.modeling.pipeline import fit_study
    from deltarad.workflow import log_left_out

    study = Study.from_settings(settings)
    info = delta_info(delta, study)
    cohort = _clinical_cohort(clinical, study)
    log_left_out(cohort.failures)
    return fit_study(study, cohort.cases, delta, info, file_order=cohort.file_order)


def evaluate(y, scores, threshold: float | Mapping[str, float] | None = None, *, level: float = 0.95) -> pd.DataFrame:
    """Discrimination and classification of one or several scores: a tidy table, one row per model.

    `y`: outcomes 0/1. `scores`: one score per patient (array-like; model name: a Series' name, else "score"), or
    several (a DataFrame or {model: scores}, e.g. `predict_proba`'s columns). `threshold`: the
    cut-off (positive: score >= it), one for all or {model: cut-off} (e.g. the training set's,
    `model.data["thresholds"]`); None = Youden's on these data (optimistic on a training set).
    A NaN score leaves that patient out of that model's row.

    Columns: model, n, auc with its DeLong `level` CI (auc_ci_low, auc_ci_high), threshold,
    threshold_rule, accuracy, sensitivity, specificity, ppv, npv, tp, fp, tn, fn, and the Brier
    score (NaN unless the scores are probabilities).
    """
    from deltarad.stats.tables import table3

    if isinstance(scores, pd.DataFrame):
        named = {str(c): scores[c] for c in scores.columns if c != "patient_id"}
    elif isinstance(scores, Mapping):
        named = dict(scores)
    else:
        named = {str(getattr(scores, "name", None) or "score"): scores}
    y = np.asarray(y, dtype=float)
    frame = pd.DataFrame({_OUTCOME: y})
    for model, values in named.items():
        values = np.asarray(values, dtype=float)
        if values.shape != y.shape:
            raise DeltaradError(f"{model}: {values.size} scores for {y.size} outcomes")
        frame[model] = values
    if isinstance(threshold, Mapping):
        given = {m: float(t) for m, t in threshold.items() if t is not None}
    else:
        given = {} if threshold is None else dict.fromkeys(named, float(threshold))
    table = table3(frame, _OUTCOME, list(named), level=level, thresholds=given)  # one set: every patient
    table = table.drop(columns=["set", "delong_p", "idi", "idi_p", "nri"])
    table.insert(1, "n", table[["tp", "fp", "tn", "fn"]].sum(axis=1))
    table.insert(
        table.columns.get_loc("threshold") + 1,
        "threshold_rule",
        ["given" if m in given else "Youden (these data)" for m in table["model"]],
    )
    table["brier"] = [_brier(y, frame[m].to_numpy()) for m in table["model"]]
    return table


_OUTCOME = "__outcome__"  # the outcome's column in evaluate's table (no model is called that)


def _brier(y: np.ndarray, scores: np.ndarray) -> float:
    """The Brier score on the scored patients; NaN unless the scores are probabilities."""
    from deltarad.stats.calibration import brier

    keep = ~np.isnan(scores)
    probabilities = bool(((scores[keep] >= 0) & (scores[keep] <= 1)).all())
    return brier(y[keep], scores[keep]) if probabilities else np.nan


def run_study(study: Study | str | Path, out_dir: str | Path, **kwargs):
    """Everything `deltarad run` does, into `out_dir`: the study (a Study or a study file's
    path) from its cohort file to the model, the tables and failures.csv. Returns what
    deltarad.workflow.run_study returns; `kwargs` go to it (strict, parallel)."""
    from deltarad.config import load_study
    from deltarad.workflow import run_study as _run

    if not isinstance(study, Study):
        study = load_study(study)
    return _run(study, Path(out_dir), **kwargs)


__all__ = ["extract_exam", "delta", "delta_info", "cohort_table", "split", "fit", "fit_result", "evaluate", "run_study"]
