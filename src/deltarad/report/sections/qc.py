"""The region QC gallery: every patient's analysed regions drawn on the exam, flagged patients first
(flags and thresholds of deltarad.report.qc)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from deltarad import outputs, runfolder
from deltarad.report.page import Builder, GalleryItem, Section
from deltarad.report.qc import flag_patients, load_qc
from deltarad.report.record import report_settings
from deltarad.report.run import RunFolder, Unavailable


def run_patients(run: RunFolder) -> list[str]:
    """Analysed patients (predictions) then those left out (failures.csv), in file order."""
    patients = list(run.predictions["patient_id"].astype(str))
    try:
        patients += list(run.csv(runfolder.FAILURES, required=("patient_id",))["patient_id"].astype(str))
    except Unavailable:
        pass
    return list(dict.fromkeys(patients))


def cohort_qc(run: RunFolder) -> pd.DataFrame:
    regions = run.path / runfolder.REGIONS
    if not regions.is_dir():
        raise Unavailable("the run has no regions/ folder: its features came from a feature table, not from images")
    qc = load_qc(regions, run_patients(run), run.design.timepoints)
    if "tumour_ml" not in qc.columns:
        raise Unavailable(
            "no exam of the run has a region QC (regions/<patient>/qc_<timepoint>.json); "
            "extract the features again with this deltarad to draw them"
        )
    return qc


def _image_src(b: Builder, png: Path) -> str:
    """Link to the QC image relative to the report: in place when the report lies in the run folder,
    else copied into qc/ beside the report."""
    relative = png.resolve().relative_to(b.run.path.resolve() / runfolder.REGIONS)
    return outputs.link_qc_image(b.run.path, b.report_dir, relative.as_posix())


def _exam_line(e: dict) -> str:
    parts = []
    if not _missing(e.get("tumour_ml")):
        parts.append(f"tumour {e['tumour_ml']:.2f} mL")
    if not _missing(e.get("ring_lost_share")):
        shares = [
            f"{k.removesuffix('_share').replace('_', ' ')} {e[k]:.0%}"
            for k in ("air_share", "skin_share", "chest_wall_share")
            if not _missing(e.get(k))
        ]
        parts.append(f"ring lost {e['ring_lost_share']:.0%}" + (f" ({', '.join(shares)})" if shares else ""))
    if not _missing(e.get("dice")):
        parts.append(f"Dice {e['dice']:.2f}, HD95 {e['hd95_mm']:.1f} mm")
    return "; ".join(parts) or e.get("missing", "")


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def qc_gallery(b: Builder, sec: Section) -> None:
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
            exams.append(
                {
                    "timepoint": e["timepoint"],
                    "line": _exam_line(e),
                    "src": _image_src(b, png) if isinstance(png, Path) else None,
                }
            )
        cards.append(
            {"patient_id": r.patient_id, "set": sets.get(r.patient_id, "left out"), "flags": r.flags, "exams": exams}
        )
    n_flagged = int((flags["n_flags"] > 0).sum())
    sec.intro = (
        f"{n_flagged} of {len(flags)} patients flagged, shown first. Flags (thresholds from {where}): ring "
        f"cut by more than {settings.qc_ring_cut_max:.0%} of its {_ring_mm(run)} mm shell (air, skin, "
        f"chest wall), lesion closer to the field-of-view edge than the ring, reader Dice below "
        f"{settings.qc_dice_min:g}, tumour volume change with |robust z| above {settings.qc_volume_z:g} "
        "(median and 1.4826 × MAD of the cohort)."
    )
    shown = flags.assign(flags=["; ".join(f) for f in flags["flags"]])
    xlsx = b.xlsx("region_qc", qc.drop(columns=["png"]).merge(shown, on="patient_id", how="left"), "Region QC")
    sec.items.append(
        GalleryItem(
            b.supplementary_figure_label(),
            "fig-region_qc",
            "Region QC of every patient",
            "The analysed phase after N4 and resampling, as PyRadiomics saw it: axial slice through the tumour's largest "
            "cross-section (left) and the coronal plane through it (right), baseline and early exam. Outlines: tumour red "
            "and ring cyan for reader 1, tumour yellow and ring blue for reader 2. Ring lost: share of the geometric shell "
            "left out of the peritumoral region.",
            cards,
            [xlsx],
        )
    )


def _ring_mm(run: RunFolder) -> str:
    try:
        return f"{float(run.model['settings']['imaging']['ring_mm']):g}"
    except (Unavailable, KeyError, TypeError, ValueError):
        return "ring"
