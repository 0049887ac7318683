"""Surface (report): the cohort's region QC read back from a run folder (the exams' QC numbers
written at extraction time by deltarad.features.region_qc) and the exams it flags."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from deltarad.config import ReportSettings
from deltarad.design import BASELINE, EARLY
from deltarad.features.region_qc import RING_STATS_SHARES
from deltarad.runfolder import qc_paths


def load_qc(regions_dir: Path, patients: list[str], timepoints: tuple[str, ...] = (BASELINE, EARLY)) -> pd.DataFrame:
    """One row per (patient, timepoint) with the exam's QC numbers (reader 1's, and the worst
    ring loss over readers), `png` (the image's path or None) and `missing` (why there are none)."""
    rows = []
    for pid in patients:
        for tp in timepoints:
            png, meta = qc_paths(regions_dir, pid, tp)
            row: dict = {"patient_id": str(pid), "timepoint": tp, "png": png if png.is_file() else None, "missing": ""}
            if not meta.is_file():
                row["missing"] = (
                    "no QC image: the exam was not extracted, its features came from an earlier "
                    "run's feature store, or its QC could not be drawn (see the log)"
                )
                rows.append(row)
                continue
            try:
                numbers = json.loads(meta.read_text(encoding="utf-8"))
                readers = numbers["readers"]
                r1 = readers["1"]
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
                row["missing"] = f"{meta.name} unreadable ({type(exc).__name__})"
                rows.append(row)
                continue
            row.update(
                tumour_ml=r1.get("tumour_ml"),
                ring_ml=r1.get("ring_ml"),
                ring_lost_share=max(r.get("ring_lost_share", math.nan) for r in readers.values()),
                **{k: r1[k] for k in RING_STATS_SHARES if k in r1},
                fov_edge=bool(numbers.get("fov_edge", False)),
                fov_edge_mm=numbers.get("fov_edge_mm"),
                dice=numbers.get("dice", math.nan),
                hd95_mm=numbers.get("hd95_mm", math.nan),
                qc_seconds=numbers.get("qc_seconds", math.nan),
            )
            rows.append(row)
    return pd.DataFrame(rows)


def robust_z(values: pd.Series) -> pd.Series:
    """(x - median) / (1.4826 MAD): a z-score that a few outliers do not inflate (NaN if MAD = 0)."""
    v = pd.to_numeric(values, errors="coerce")
    mad = 1.4826 * (v - v.median()).abs().median()
    return (v - v.median()) / mad if mad > 0 else v * math.nan


def flag_patients(qc: pd.DataFrame, settings: ReportSettings) -> pd.DataFrame:
    """Per patient: the flags (each a sentence saying why) and the gallery order: flagged patients
    first, most flags first, then by the worst ring loss; the others in cohort order."""
    patients = list(dict.fromkeys(qc["patient_id"]))
    by_exam = qc.set_index(["patient_id", "timepoint"])
    first, second = (list(dict.fromkeys(qc["timepoint"])) + [BASELINE, EARLY])[
        :2
    ]  # the volume change of the first two exams
    volume = {}
    for pid in patients:
        try:
            base, early = by_exam.loc[(pid, first), "tumour_ml"], by_exam.loc[(pid, second), "tumour_ml"]
            volume[pid] = float(early) / float(base) - 1.0 if base and base > 0 else math.nan
        except (KeyError, TypeError, ValueError):
            volume[pid] = math.nan
    change = pd.Series(volume, dtype=float)
    z = robust_z(change)
    rows = []
    for rank, pid in enumerate(patients):
        exams = qc[qc["patient_id"] == pid]
        flags = []
        for e in exams.to_dict("records"):
            tp = e["timepoint"]
            lost = e.get("ring_lost_share", math.nan)
            if lost is not None and not math.isnan(lost) and lost > settings.qc_ring_cut_max:
                flags.append(f"{tp}: ring cut by {lost:.0%} (> {settings.qc_ring_cut_max:.0%}: air, skin, chest wall)")
            if e.get("fov_edge") is True:
                flags.append(f"{tp}: lesion {e['fov_edge_mm']:.0f} mm from the field-of-view edge (ring cut by it)")
            d = e.get("dice", math.nan)
            if d is not None and not math.isnan(d) and d < settings.qc_dice_min:
                flags.append(f"{tp}: reader Dice {d:.2f} (< {settings.qc_dice_min:g})")
        zp = z.get(pid, math.nan)
        if not math.isnan(zp) and abs(zp) > settings.qc_volume_z:
            flags.append(
                f"tumour volume change {change[pid]:+.0%}, robust z {zp:+.1f} (|z| > {settings.qc_volume_z:g})"
            )
        worst = (
            pd.to_numeric(exams.get("ring_lost_share"), errors="coerce").max()
            if "ring_lost_share" in exams
            else math.nan
        )
        rows.append(
            {
                "patient_id": pid,
                "flags": flags,
                "n_flags": len(flags),
                "volume_change": change.get(pid),
                "volume_z": zp,
                "worst_ring_lost": worst,
                "_rank": rank,
            }
        )
    out = pd.DataFrame(rows)
    out["_severity"] = out["worst_ring_lost"].fillna(0).where(out["n_flags"] > 0, 0.0)
    out = out.sort_values(["n_flags", "_severity", "_rank"], ascending=[False, False, True], kind="stable")
    return out.drop(columns=["_severity", "_rank"]).reset_index(drop=True)
