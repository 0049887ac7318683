"""Reader agreement: overlap of the two readers' tumour masks (Dice, 95% Hausdorff distance) and the
inter-reader ICC of the delta features per feature class.

Hausdorff distances are surface-based and symmetric: the surface of a mask is its voxels with a
face-neighbour outside it; every surface voxel of one mask gets its physical distance (mm, the
image spacing) to the nearest surface voxel of the other, and HD95 is the larger of the two
directed 95th percentiles (as MONAI's `compute_hausdorff_distance(percentile=95)`; medpy's `hd95`
pools both directions' distances before the percentile, which can give less). HD100 is the classic
Hausdorff distance.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import SimpleITK as sitk

from deltarad.stats.icc import icc_2_1

FEATURE_CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


def dice(a: sitk.Image, b: sitk.Image) -> float:
    """2|A∩B| / (|A| + |B|) of two masks on one grid (NaN when both are empty)."""
    x = sitk.GetArrayViewFromImage(a) != 0
    y = sitk.GetArrayViewFromImage(b) != 0
    total = int(x.sum()) + int(y.sum())
    return 2.0 * int((x & y).sum()) / total if total else math.nan


def _surface(mask: sitk.Image) -> sitk.Image:
    return sitk.BinaryContour(
        sitk.Cast(mask != 0, sitk.sitkUInt8), fullyConnected=False, backgroundValue=0, foregroundValue=1
    )


def _directed_mm(source_surface: sitk.Image, target_surface: sitk.Image) -> np.ndarray:
    distance = sitk.SignedMaurerDistanceMap(
        target_surface, insideIsPositive=False, squaredDistance=False, useImageSpacing=True
    )
    d = np.abs(sitk.GetArrayViewFromImage(distance))
    return d[sitk.GetArrayViewFromImage(source_surface) != 0]


def hausdorff_mm(a: sitk.Image, b: sitk.Image, percentile: float = 95.0) -> float:
    """Symmetric surface Hausdorff distance (mm) at `percentile` (100 = the classic maximum) of two
    masks on one grid; NaN when either is empty."""
    sa, sb = _surface(a), _surface(b)
    if not np.any(sitk.GetArrayViewFromImage(sa)) or not np.any(sitk.GetArrayViewFromImage(sb)):
        return math.nan
    return float(max(np.percentile(_directed_mm(sa, sb), percentile), np.percentile(_directed_mm(sb, sa), percentile)))


def summary(values: pd.Series) -> dict[str, float]:
    """Distribution of an agreement measure as a table row: n, median (IQR), range."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return {"n": 0}
    return {
        "n": int(len(v)),
        "median": float(v.median()),
        "q1": float(v.quantile(0.25)),
        "q3": float(v.quantile(0.75)),
        "min": float(v.min()),
        "max": float(v.max()),
    }


def feature_class(name: str) -> str:
    """PyRadiomics' feature class of a feature name (`wavelet-LLH_glcm_Idmn` -> glcm)."""
    parts = str(name).split("_")
    return parts[1] if len(parts) >= 3 else "other"


def icc_by_class(delta: pd.DataFrame, patients: set[str] | None, icc_min: float) -> pd.DataFrame:
    """ICC(2,1) of every delta feature between readers 1 and 2 on `patients` (the training set; None
    = all) read twice, summarised per region and feature class: features, how many reach `icc_min`,
    median ICC. `delta` is delta_features.csv (patient_id, region, reader, features)."""
    keys = ["patient_id", "delta", "region", "reader"]  # design.DELTA_KEYS
    table = delta.assign(patient_id=delta["patient_id"].astype(str))
    if patients is not None:
        table = table[table["patient_id"].isin(patients)]
    feats = [c for c in table.columns if c not in keys]
    rows = []
    for region, part in table.groupby("region", sort=False):
        r1 = part[part["reader"] == 1].set_index("patient_id")[feats]
        r2 = part[part["reader"] == 2].set_index("patient_id")[feats]
        both = r1.index.intersection(r2.index)
        if len(both) < 2:
            continue
        icc = pd.Series(
            icc_2_1(np.stack([r1.loc[both].to_numpy(float), r2.loc[both].to_numpy(float)], axis=1)), index=feats
        )
        for cls, values in icc.groupby([feature_class(f) for f in feats], sort=False):
            rows.append(
                {
                    "region": region,
                    "feature_class": cls,
                    "patients": len(both),
                    "features": len(values),
                    "icc_kept": int((values >= icc_min).sum()),
                    "icc_median": float(values.median()),
                }
            )
    order = {c: i for i, c in enumerate(FEATURE_CLASSES)}
    out = pd.DataFrame(rows, columns=["region", "feature_class", "patients", "features", "icc_kept", "icc_median"])
    return out.sort_values(
        ["region", "feature_class"], key=lambda s: s.map(order) if s.name == "feature_class" else s, kind="stable"
    ).reset_index(drop=True)
