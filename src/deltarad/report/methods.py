"""The methods paragraph of a run, ready to paste, and the CLEAR / METRICS checklist items the run
itself answers. Every value comes from the run folder (study.json, model.json, selection.csv,
predictions.csv, validation.csv) or the PyRadiomics parameter file it names; the sentences only
carry what deltarad does by construction (interpolators, distance maps) and say so."""

from __future__ import annotations

from deltarad import runfolder
from deltarad.design import ULTRASOUND_COLUMN, Design
from deltarad.report.record import read_study_record
from deltarad.report.run import RunFolder, Unavailable

PHASES = {0: "the pre-contrast phase"}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def _exams(design: Design) -> str:
    """The exams the features were computed at, in the design's order."""
    if design.timepoints == Design().timepoints:
        return "the baseline and the early exam"
    return f"the {_and(list(design.timepoints))} exams"


def _radscores(design: Design) -> str:
    """Radscore_DIR (intratumoral) and Radscore_DPR (peritumoral), from the design."""
    labels = design.model_labels
    several = len(design.deltas) > 1
    return _and(
        [
            f"Radscore_{labels[rs.name]} ({' and '.join(rs.regions)}"
            + (f", {rs.delta}" if several else "")
            + (", pooled" if len(rs.regions) > 1 else "")
            + ")"
            for rs in design.radscores
        ]
    )


def _references(design: Design) -> str:
    """What each reference model was (the study's: the post-treatment ultrasound read)."""
    if not design.references:
        return "no reference model was declared"
    return _and(
        [
            f"the ultrasound model was a logistic regression on the post-treatment ultrasound read ({r.columns[0]})"
            if r.name == ULTRASOUND_COLUMN and len(r.columns) == 1
            else f"the {r.label} model was a logistic regression on {', '.join(r.columns)}"
            for r in design.references
        ]
    )


def _comparator(design: Design) -> str:
    """The model Table 3 compares against, as the methods name it (the design has one)."""
    comparator = design.comparator
    assert comparator is not None  # asked only of a design with a reference model
    return f"{design.model_labels[comparator].lower()} model"


def _per(design: Design) -> str:
    """What selection runs per: the study's one radscore per region, else per radscore."""
    if len(design.deltas) == 1 and all(len(rs.regions) == 1 for rs in design.radscores):
        return "Per region"
    return "Per radscore (its regions' delta features for its delta, side by side where it pools regions)"


def _deltas(design: Design) -> str:
    if len(design.deltas) == 1:
        return ""
    return " Deltas: " + "; ".join(f"{d.name} = {d.formula}" for d in design.deltas) + "."


def _g(v) -> str:
    """A setting as the study file spells it (3 mm, not 3.000 mm)."""
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def _mm(v) -> str:
    return "×".join(_g(x) for x in v) + " mm" if v else "not resampled"


def _n_features(run: RunFolder) -> dict[str, int]:
    try:
        sel = run.csv(runfolder.SELECTION, required=("region", "step", "n_features"))
    except Unavailable:
        return {}
    first = sel[sel["step"] == "features"]
    return dict(zip(first["region"], first["n_features"].astype(int)))


def methods_text(run: RunFolder) -> tuple[list[str], list[dict]]:
    """(paragraphs, checklist rows) of the run."""
    record = read_study_record(run)
    model = run.model
    design = run.design
    # what the model was fitted with (model.json) over the study file's record
    s = dict(record["settings"])
    for key, fitted in (model.get("settings") or {}).items():
        if isinstance(fitted, dict):
            s[key] = {**(s.get(key) or {}), **fitted}
    im, sel, split, val, harm = (s.get(k, {}) for k in ("imaging", "selection", "split", "validation", "harmonize"))
    sw = {**record.get("software", {}), **model.get("software", {})}
    pyrad = record.get("pyradiomics_params") or {}
    params, params_name = pyrad.get("settings") or {}, pyrad.get("file") or "the study's parameter file"
    setting = params.get("setting", {}) or {}
    image_types = ", ".join(params.get("imageType", {}) or {}) or "as PyRadiomics defaults"
    classes = ", ".join(params.get("featureClass", {}) or {}) or "all"
    n_features = _n_features(run)
    pred = run.predictions
    counts = {st: (len(p), int(p[run.outcome].sum())) for st, p in pred.groupby("set")}
    combined = model.get("combined", {})
    phase = int(im.get("phase", 3))
    n4 = (
        f"N4 bias-field correction ({im.get('n4_implementation')} implementation of ITK's N4 algorithm, shrink "
        f"factor {im.get('n4_shrink')}, {'/'.join(map(str, im.get('n4_iterations', [])))} iterations per level) was "
        "fitted on the whole exam"
        if im.get("n4")
        else "No bias-field correction was applied"
    )
    air = (
        f"air (intensity below {_g(im['air_threshold'])})"
        if im.get("air_threshold") is not None
        else "air (threshold estimated per exam and recorded in the extraction notes)"
    )
    bands, limits_mm = design.bands, design.band_limits_mm  # the bands and their (inner, outer) mm
    if len(bands) == 1 and limits_mm[0][0] == 0:
        shell = f"The peritumoral region was the {_g(im.get('ring_mm', limits_mm[0][1]))} mm shell around the tumour"
    else:
        shell = (
            "The peritumoral regions were " + _and([f"{b.name}, {b.describe().removeprefix('the ')}" for b in bands])
            if bands
            else "No peritumoral region was analysed"
        )
    region_rule = (
        f"{shell} (physical distance from a Maurer distance map) minus {air}, a {_g(im.get('skin_mm'))} mm "
        "skin layer and the chest wall where a chest-wall mask was given."
    )
    paragraphs = [
        f"Image analysis. DCE-MRI exams were read with deltarad {sw.get('deltarad', '?')} (SimpleITK "
        f"{sw.get('SimpleITK', '?')}); the analysed phase was {PHASES.get(phase, f'post-contrast phase {phase}')} "
        f"at {_exams(design)}. {n4}. Images were resampled to {_mm(im.get('resample_mm'))} (cubic "
        "B-spline; tumour masks by linear interpolation kept at ≥ 0.5, which keeps their volume). "
        f"{region_rule} Radiomic features were extracted with PyRadiomics (pyradiomics-bhklab "
        f"{sw.get('pyradiomics-bhklab', '?')}, parameter file {params_name}: image types {image_types}; feature "
        f"classes {classes}; bin width {setting.get('binWidth', 'default')}), "
        + (", ".join(f"{n} features for the {r} region" for r, n in n_features.items()) or "per region")
        + f", for each of the two readers' masks. Delta features were {model.get('delta', 'relative changes')}."
        + _deltas(design),
        f"Modelling. Patients were split at random into training and validation sets (validation fraction "
        f"{_g(split.get('validation_fraction'))}, seed {split.get('seed')}; "
        + "; ".join(f"{st}: {n} patients, {k} pCR" for st, (n, k) in counts.items())
        + "). "
        + (
            f"Delta features were harmonised across centres with ComBat (column '{harm.get('column')}') fitted on "
            "the training set. "
            if model.get("harmonization")
            else "No harmonisation across centres was applied. "
        )
        + f"{_per(design)}, on the training set only, features with inter-reader ICC(2,1) ≥ {_g(sel.get('icc_min'))} "
        f"were kept, z-scored, tested with the {sel.get('ttest')} t-test (kept at p < {_g(sel.get('ttest_p'))}), "
        f"pruned of pairs with |Pearson r| > {_g(sel.get('corr_max'))} and passed to a LASSO logistic "
        f"regression ({sel.get('lasso_folds')}-fold stratified cross-validation, penalty "
        f"{'lambda.1se' if sel.get('lasso_rule') == '1se' else 'lambda.min'}, seed {sel.get('lasso_seed')}). Logistic "
        f"models on the selected features gave {_radscores(design)}; {_references(design)}; "
        f"the combined model was chosen by stepwise logistic regression minimising AIC and kept "
        f"{', '.join(map(str, combined.get('terms', []))) or 'no term'} (AIC {_g(round(float(combined.get('aic', 'nan')), 1))}).",
        "Statistics. AUCs with DeLong 95% confidence intervals; accuracy, sensitivity, specificity, PPV and NPV at the "
        "Youden cut-off chosen on the training set and carried to validation; "
        + (
            f"DeLong tests, IDI and NRI against the {_comparator(design)}"
            if design.comparator
            else "no DeLong test, IDI or NRI (the design declares no reference model)"
        )
        + "; decision curves and calibration curves. "
        + (
            f"Internal validation: Harrell's optimism bootstrap ({val.get('bootstrap')} resamples) and "
            f"{val.get('cv_repeats')} × {val.get('cv_folds')}-fold stratified cross-validation, refitting the whole "
            "procedure in each resample. "
            if val.get("bootstrap") or val.get("cv_repeats")
            else ""
        )
        + "Software: "
        + ", ".join(f"{k} {v}" for k, v in sw.items())
        + ".",
    ]
    if not (run.path / runfolder.REGIONS).is_dir():
        paragraphs.append("Features were read from a feature table: this run drew no region QC.")
    src_study, src_model = f"{runfolder.STUDY_RECORD} (settings)", runfolder.MODEL
    readers2 = "two readers (ICC filter)" if sel else "one reader"
    rows = [
        (
            "CLEAR",
            "Image pre-processing (bias-field correction, resampling)",
            f"{n4.split(' (')[0]}; resampled to {_mm(im.get('resample_mm'))}",
            src_study,
        ),
        ("CLEAR", "Segmentation: regions and peritumoral definition", region_rule, src_study),
        (
            "CLEAR",
            "Segmentation: readers and reproducibility",
            readers2 + "; Dice / HD95 in Reader agreement",
            "regions/*/qc_*.json",
        ),
        (
            "CLEAR",
            "Feature extraction software and version",
            f"PyRadiomics (pyradiomics-bhklab {sw.get('pyradiomics-bhklab', '?')})",
            src_model + " (software)",
        ),
        (
            "CLEAR",
            "Image types, feature classes, discretisation",
            f"{image_types}; {classes}; bin width {setting.get('binWidth', 'default')}",
            params_name,
        ),
        (
            "CLEAR",
            "Data partitioning",
            f"random split, validation fraction {_g(split.get('validation_fraction'))}, seed {split.get('seed')}",
            src_study,
        ),
        (
            "CLEAR",
            "Feature selection",
            f"ICC ≥ {_g(sel.get('icc_min'))}, t-test p < {_g(sel.get('ttest_p'))}, "
            f"|r| > {_g(sel.get('corr_max'))} pruning, LASSO ({sel.get('lasso_rule')})",
            src_study,
        ),
        (
            "CLEAR",
            "Modelling method",
            "logistic radscores; stepwise AIC combined model: " + ", ".join(map(str, combined.get("terms", []))),
            src_model,
        ),
        (
            "CLEAR",
            "Performance metrics with uncertainty",
            "AUC (DeLong 95% CI), metrics at training Youden cut-off",
            runfolder.TABLE3,
        ),
        (
            "CLEAR",
            "Internal validation",
            f"{val.get('bootstrap')} bootstrap resamples, {val.get('cv_repeats')} × {val.get('cv_folds')}-fold CV",
            src_study,
        ),
        ("CLEAR", "Model availability", "model.json (plain JSON, every coefficient and cut-off)", src_model),
        ("METRICS", "Segmentation by more than one reader", readers2, src_study),
        (
            "METRICS",
            "Feature robustness assessed",
            f"inter-reader ICC(2,1) ≥ {_g(sel.get('icc_min'))}",
            runfolder.SELECTION,
        ),
        (
            "METRICS",
            "Appropriate feature selection on training data only",
            "yes: selection fitted on the training set",
            runfolder.SELECTION,
        ),
        ("METRICS", "Calibration assessed", "calibration curves, slope, Brier score", runfolder.VALIDATION),
        ("METRICS", "Clinical utility (decision curves)", "net benefit across thresholds", "decision curves"),
        (
            "METRICS",
            "Comparison with a non-radiomic method",
            f"{_comparator(design)} ({', '.join(design.references[0].columns)}): DeLong, IDI, NRI"
            if design.comparator
            else "none: the design declares no reference model",
            runfolder.TABLE3,
        ),
        ("METRICS", "Software and model shared", f"deltarad {sw.get('deltarad', '?')}; model.json", src_model),
    ]
    return paragraphs, [dict(zip(("Checklist", "Item", "Answer from this run", "Source"), r)) for r in rows]
