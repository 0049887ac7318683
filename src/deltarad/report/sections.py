"""Report sections that look at the patients' regions: the region QC gallery (flagged cases first),
reader agreement (Dice, HD95, ICC per feature class) and the volume check of the selected delta
features. Each is a `make(builder, section)` as in deltarad.report.html."""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from scipy.stats import spearmanr

from deltarad.report.agreement import icc_by_class, summary
from deltarad.report.qc import flag_patients, load_qc
from deltarad.report.record import report_settings
from deltarad.report.run import RunFolder, Unavailable
from deltarad.formatting import format_p, format_value, journal_format
from deltarad.report.tables import write_xlsx

TIMEPOINTS = ("baseline", "early")
VOLUME_FEATURES = ("original_shape_MeshVolume", "original_shape_VoxelVolume")
SHRINKAGE_RHO = 0.5  # |Spearman rho| from which a feature's change is called mostly the tumour's volume change


@dataclass
class GalleryItem:
    label: str
    anchor: str
    title: str
    caption: str
    cards: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    kind: str = "gallery"


def run_patients(run: RunFolder) -> list[str]:
    """Analysed patients (predictions) then those left out (failures.csv), in file order."""
    patients = list(run.predictions["patient_id"].astype(str))
    try:
        patients += list(run.csv("failures.csv", required=("patient_id",))["patient_id"].astype(str))
    except Unavailable:
        pass
    return list(dict.fromkeys(patients))


def cohort_qc(run: RunFolder) -> pd.DataFrame:
    regions = run.path / "regions"
    if not regions.is_dir():
        raise Unavailable("the run has no regions/ folder: its features came from a feature table, not from images")
    qc = load_qc(regions, run_patients(run))
    if "tumour_ml" not in qc.columns:
        raise Unavailable("no exam of the run has a region QC (regions/<patient>/qc_<timepoint>.json); "
                          "extract the features again with this deltarad to draw them")
    return qc


def _image_src(b, png: Path) -> str:
    """Link to the QC image relative to the report: in place when the report lies in the run folder,
    else copied into qc/ beside the report."""
    run_dir, out_dir = b.run.path.resolve(), b.out.parent.resolve()
    relative = png.resolve().relative_to(run_dir / "regions")
    if out_dir != run_dir:
        target = out_dir / "qc" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)
        return "qc/" + quote(relative.as_posix())
    return "regions/" + quote(relative.as_posix())


def _exam_line(e: dict) -> str:
    parts = []
    if not _missing(e.get("tumour_ml")):
        parts.append(f"tumour {e['tumour_ml']:.2f} mL")
    if not _missing(e.get("ring_lost_share")):
        shares = [f"{k.removesuffix('_share').replace('_', ' ')} {e[k]:.0%}" for k in
                  ("air_share", "skin_share", "chest_wall_share") if not _missing(e.get(k))]
        parts.append(f"ring lost {e['ring_lost_share']:.0%}" + (f" ({', '.join(shares)})" if shares else ""))
    if not _missing(e.get("dice")):
        parts.append(f"Dice {e['dice']:.2f}, HD95 {e['hd95_mm']:.1f} mm")
    return "; ".join(parts) or e.get("missing", "")


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def qc_gallery(b, sec) -> None:
    run = b.run
    qc = cohort_qc(run)
    settings, where = report_settings(run)
    flags = flag_patients(qc, settings)
    sets = dict(zip(run.predictions["patient_id"].astype(str), run.predictions["set"].astype(str)))
    cards = []
    for r in flags.itertuples():
        exams = []
        for e in qc[qc["patient_id"] == r.patient_id].to_dict("records"):
            png = e.get("png")
            exams.append({"timepoint": e["timepoint"], "line": _exam_line(e),
                          "src": _image_src(b, png) if isinstance(png, Path) else None})
        cards.append({"patient_id": r.patient_id, "set": sets.get(r.patient_id, "left out"), "flags": r.flags,
                      "exams": exams})
    n_flagged = int((flags["n_flags"] > 0).sum())
    sec.intro = (f"{n_flagged} of {len(flags)} patients flagged, shown first. Flags (thresholds from {where}): ring "
                 f"cut by more than {settings.qc_ring_cut_max:.0%} of its {_ring_mm(run)} mm shell (air, skin, "
                 f"chest wall), lesion closer to the field-of-view edge than the ring, reader Dice below "
                 f"{settings.qc_dice_min:g}, tumour volume change with |robust z| above {settings.qc_volume_z:g} "
                 "(median and 1.4826 × MAD of the cohort).")
    b.n_supplementary_figures = getattr(b, "n_supplementary_figures", 0) + 1
    shown = flags.assign(flags=["; ".join(f) for f in flags["flags"]])
    write_xlsx(b.table_dir / "region_qc.xlsx", qc.drop(columns=["png"]).merge(shown, on="patient_id", how="left"),
               "Region QC")
    sec.items.append(GalleryItem(
        f"Figure S{b.n_supplementary_figures}", "fig-region_qc", "Region QC of every patient",
        "The analysed phase after N4 and resampling, as PyRadiomics saw it: axial slice through the tumour's largest "
        "cross-section (left) and the coronal plane through it (right), baseline and early exam. Outlines: tumour red "
        "and ring cyan for reader 1, tumour yellow and ring blue for reader 2. Ring lost: share of the geometric shell "
        "left out of the peritumoral region.", cards, ["tables/region_qc.xlsx"]))


def _ring_mm(run: RunFolder) -> str:
    try:
        return f"{float(run.model['settings']['imaging']['ring_mm']):g}"
    except (Unavailable, KeyError, TypeError, ValueError):
        return "ring"


def agreement(b, sec) -> None:
    run = b.run
    qc = cohort_qc(run)
    rows, have = [], False
    for tp in TIMEPOINTS:
        part = qc[qc["timepoint"] == tp]
        for col, measure in (("dice", "Dice"), ("hd95_mm", "HD95 (mm)")):
            s = summary(part[col]) if col in part else {"n": 0}
            have |= s["n"] > 0
            rows.append({"Exam": tp.capitalize(), "Measure": measure, "Exams read twice": s["n"],
                         "Median (IQR)": f"{format_value(s.get('median'))} ({format_value(s.get('q1'))}–"
                                         f"{format_value(s.get('q3'))})" if s["n"] else "",
                         "Range": f"{format_value(s.get('min'))}–{format_value(s.get('max'))}" if s["n"] else ""})
    if not have:
        raise Unavailable("no exam was read by a second reader (columns <timepoint>_mask_reader2)")
    per_exam = qc[["patient_id", "timepoint", "dice", "hd95_mm"]].dropna(subset=["dice"])
    sec.intro = ("Overlap of the two readers' tumour masks on the analysed grid. HD95: symmetric surface 95% "
                 "Hausdorff distance, the larger of the two directed 95th percentiles of the distances (mm) from "
                 "each surface voxel of one mask to the nearest surface voxel of the other.")
    sec.items.append(b.table(pd.DataFrame(rows), "Reader agreement of the tumour masks",
                             "Distribution over exams read by both readers; per-exam values in the files.",
                             source=per_exam, name="reader_agreement"))
    _icc_classes(b, sec)


def _icc_classes(b, sec) -> None:
    run = b.run
    try:
        delta = run.csv("delta_features.csv", required=("patient_id", "region", "reader"))
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
        sel = run.csv("selection.csv", required=("region", "step", "n_features"))
        kept = {r: int(p.loc[p["step"] == "icc", "n_features"].iloc[0]) for r, p in sel.groupby("region")
                if (p["step"] == "icc").any()}
        funnel = " The ICC filter of the selection kept " + "; ".join(
            f"{r}: {n}" for r, n in kept.items()) + " (selection.csv, after ComBat when the run harmonised)."
    except (Unavailable, IndexError):
        pass
    totals = classes.groupby("region", sort=False)[["features", "icc_kept"]].sum()
    counted = "; ".join(f"{r}: {int(t.icc_kept)} of {int(t.features)}" for r, t in totals.iterrows())
    shown = classes.rename(columns={"region": "Region", "feature_class": "Feature class", "patients": "Patients",
                                    "features": "Features", "icc_kept": f"ICC ≥ {icc_min:g}",
                                    "icc_median": "Median ICC"})
    sec.items.append(b.table(journal_format(shown), "Inter-reader ICC per feature class",
                             f"ICC(2,1) of each delta feature between the readers on the training patients read twice "
                             f"(delta_features.csv); features reaching {icc_min:g} per class: {counted}.{funnel}",
                             source=classes, name="icc_by_class"))


def volume_check(b, sec) -> None:
    """Append the volume check to the selected-features section, or say in its intro why not."""
    try:
        _volume_check(b, sec)
    except Unavailable as exc:
        sec.intro = (sec.intro + " " if sec.intro else "") + f"Volume check of the selected features not shown: {exc}."


def _volume_check(b, sec) -> None:
    run = b.run
    selected = run.coefficients()
    delta = run.csv("delta_features.csv", required=("patient_id", "region", "reader"))
    reader1 = delta[delta["reader"] == 1]
    tumour = reader1[reader1["region"] == "intratumoral"].set_index("patient_id")
    source = next((c for c in VOLUME_FEATURES if c in tumour.columns), None)
    if source is not None:
        volume, what = tumour[source], f"the delta of intratumoral {source} (reader 1)"
    else:
        qc = cohort_qc(run).pivot(index="patient_id", columns="timepoint", values="tumour_ml")
        volume, what = qc["early"] / qc["baseline"] - 1, "the region QC's tumour volumes (reader 1)"
    rows = []
    for r in selected.itertuples():
        part = reader1[reader1["region"] == r.region].set_index("patient_id")
        if r.feature not in part.columns:
            rows.append({"region": r.region, "feature": r.feature, "n": 0, "spearman_rho": math.nan, "p_value": math.nan})
            continue
        both = pd.concat([part[r.feature], volume.rename("volume")], axis=1, join="inner").dropna()
        rho, p = spearmanr(both.iloc[:, 0], both["volume"]) if len(both) >= 3 else (math.nan, math.nan)
        rows.append({"region": r.region, "feature": r.feature, "n": len(both), "spearman_rho": float(rho), "p_value": float(p)})
    table = pd.DataFrame(rows)
    shrinking = table[table["spearman_rho"].abs() >= SHRINKAGE_RHO]
    sec.intro = (sec.intro + " " if sec.intro else "") + (f"Tumour shrinkage is a known confounder of delta radiomics: a delta feature that follows the volume "
                 f"change tells little beyond it. Volume change: relative change from baseline to early exam, from "
                 f"{what}. {len(shrinking)} of {len(table)} selected features have |ρ| ≥ {SHRINKAGE_RHO:g}"
                 + (f" ({', '.join(shrinking['feature'])})." if len(shrinking) else "."))
    shown = pd.DataFrame({"Region": table["region"], "Feature": table["feature"], "Patients": table["n"],
                          "Spearman ρ with volume change": [format_value(v) for v in table["spearman_rho"]],
                          "P": [format_p(v) for v in table["p_value"]],
                          "Mostly volume change": ["yes" if abs(v) >= SHRINKAGE_RHO else "" for v in
                                                   table["spearman_rho"].fillna(0)]})
    sec.items.append(b.table(shown, "Selected delta features against the tumour's volume change",
                             "Spearman rank correlation over all analysed patients (reader 1).",
                             source=table, name="volume_check"))


REGION_SECTIONS = [
    ("qc", "Region QC", qc_gallery),
    ("agreement", "Reader agreement", agreement),
]


def with_region_sections(sections: list, run: RunFolder) -> list:
    """The report's sections with the region QC and reader agreement after the cohort flow, when
    the run read images (it has a regions/ folder); a run on a feature table has no regions to show
    (the methods paragraph says so)."""
    if not (run.path / "regions").is_dir():
        return list(sections)
    at = next((i + 1 for i, (anchor, _, _) in enumerate(sections) if anchor == "cohort"), 0)
    return [*sections[:at], *REGION_SECTIONS, *sections[at:]]
