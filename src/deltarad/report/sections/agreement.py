"""Reader agreement: overlap of the two readers' tumour masks (Dice, HD95) per exam, and the
inter-reader ICC of the delta features per feature class (deltarad.stats.agreement)."""

from __future__ import annotations

import pandas as pd

from deltarad import runfolder
from deltarad.formatting import format_value, journal_format
from deltarad.report.page import Builder, Section
from deltarad.report.run import Unavailable
from deltarad.report.sections.qc import cohort_qc
from deltarad.stats.agreement import icc_by_class, summary


def agreement(b: Builder, sec: Section) -> None:
    run = b.run
    qc = cohort_qc(run)
    rows, have = [], False
    for tp in run.design.timepoints:
        part = qc[qc["timepoint"] == tp]
        for col, measure in (("dice", "Dice"), ("hd95_mm", "HD95 (mm)")):
            s = summary(part[col]) if col in part else {"n": 0}
            have |= s["n"] > 0
            rows.append(
                {
                    "Exam": tp.capitalize(),
                    "Measure": measure,
                    "Exams read twice": s["n"],
                    "Median (IQR)": f"{format_value(s.get('median'))} ({format_value(s.get('q1'))}–"
                    f"{format_value(s.get('q3'))})"
                    if s["n"]
                    else "",
                    "Range": f"{format_value(s.get('min'))}–{format_value(s.get('max'))}" if s["n"] else "",
                }
            )
    if not have:
        raise Unavailable("no exam was read by a second reader (columns <timepoint>_mask_reader2)")
    per_exam = qc[["patient_id", "timepoint", "dice", "hd95_mm"]].dropna(subset=["dice"])
    sec.intro = (
        "Overlap of the two readers' tumour masks on the analysed grid. HD95: symmetric surface 95% "
        "Hausdorff distance, the larger of the two directed 95th percentiles of the distances (mm) from "
        "each surface voxel of one mask to the nearest surface voxel of the other."
    )
    sec.items.append(
        b.table(
            pd.DataFrame(rows),
            "Reader agreement of the tumour masks",
            "Distribution over exams read by both readers; per-exam values in the files.",
            source=per_exam,
            name="reader_agreement",
        )
    )
    _icc_classes(b, sec)


def _icc_classes(b: Builder, sec: Section) -> None:
    run = b.run
    try:
        delta = run.csv(runfolder.DELTA_FEATURES, required=("patient_id", "region", "reader"))
    except Unavailable as exc:
        sec.intro += f" ICC per feature class not shown: {exc}."
        return
    try:
        icc_min = float(run.model["settings"]["selection"]["icc_min"])
    except (Unavailable, KeyError, TypeError, ValueError):
        icc_min = 0.8
    pred = run.predictions
    training = set(pred.loc[pred["set"] == "training", "patient_id"].astype(str)) or None
    classes = icc_by_class(delta, training, icc_min)
    if classes.empty:
        sec.intro += " ICC per feature class not shown: fewer than 2 training patients were read twice."
        return
    funnel = ""
    try:
        sel = run.csv(runfolder.SELECTION, required=("region", "step", "n_features"))
        kept = {
            r: int(p.loc[p["step"] == "icc", "n_features"].iloc[0])
            for r, p in sel.groupby("region")
            if (p["step"] == "icc").any()
        }
        funnel = (
            " The ICC filter of the selection kept "
            + "; ".join(f"{r}: {n}" for r, n in kept.items())
            + " (selection.csv, after ComBat when the run harmonised)."
        )
    except (Unavailable, IndexError):
        pass
    totals = classes.groupby("region", sort=False)[["features", "icc_kept"]].sum()
    counted = "; ".join(f"{r}: {int(t.icc_kept)} of {int(t.features)}" for r, t in totals.iterrows())
    shown = classes.rename(
        columns={
            "region": "Region",
            "feature_class": "Feature class",
            "patients": "Patients",
            "features": "Features",
            "icc_kept": f"ICC ≥ {icc_min:g}",
            "icc_median": "Median ICC",
        }
    )
    sec.items.append(
        b.table(
            journal_format(shown),
            "Inter-reader ICC per feature class",
            f"ICC(2,1) of each delta feature between the readers on the training patients read twice "
            f"(delta_features.csv); features reaching {icc_min:g} per class: {counted}.{funnel}",
            source=classes,
            name="icc_by_class",
        )
    )
