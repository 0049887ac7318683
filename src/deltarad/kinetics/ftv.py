"""Functional tumour volume (FTV) as the ACRIN 6657 / I-SPY trials compute it (Hylton et al.,
Radiology 2012), restated from the published method:

1. The analysis region: the reader's tumour mask dilated by `margin_mm` (every voxel whose
   centre lies within that physical distance of a mask voxel's centre; 0 mm = the mask itself).
2. The S0 test: S0 >= s0_fraction x the s0_percentile-th percentile of S0 over the analysis
   region (defaults 0.6 x P95; numpy's linear-interpolation percentile).
3. The PE test: PE = 100 (S1 - S0) / S0 >= pe_min (default 70 %, inclusive).
4. The SER test: SER = (S1 - S0) / (S2 - S0) >= ser_min (default 0, inclusive). An undefined
   SER (S2 = S0) fails it.
5. The neighbour rule: at least `neighbours_min` (default 4) of the voxel's 26 neighbours pass
   the S0 and PE tests; only neighbours inside the analysis region count.

A voxel is in the FTV when it is in the analysis region and passes 2-5;
FTV (mL) = count x voxel volume (mm3) / 1000.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from deltarad.kinetics.maps import percent_enhancement, signal_enhancement_ratio

_NEIGHBOURS_26 = np.ones((3, 3, 3), dtype=np.uint8)
_NEIGHBOURS_26[1, 1, 1] = 0


@dataclass(frozen=True)
class FTVThresholds:
    """The thresholds of tests 2-5 of the module docstring (defaults: I-SPY's)."""

    s0_fraction: float = 0.6
    s0_percentile: float = 95.0
    pe_min: float = 70.0
    ser_min: float = 0.0
    neighbours_min: int = 4


@dataclass(frozen=True)
class FTVResult:
    ftv_ml: float
    mask: np.ndarray
    """The FTV voxels (bool, the arrays' order), for QC."""
    voxels: int
    region_voxels: int
    s0_threshold: float
    """s0_fraction x the percentile of S0 in the analysis region (signal units)."""
    undefined_ser: int
    """Voxels passing the S0 and PE tests whose SER is undefined (S2 = S0), so left out."""


def analysis_region(mask: np.ndarray, spacing_zyx_mm: tuple[float, float, float], margin_mm: float) -> np.ndarray:
    """The mask dilated by `margin_mm`: voxels whose centre is within margin_mm of a mask voxel's."""
    mask = np.asarray(mask, bool)
    if margin_mm <= 0 or not mask.any():
        return mask.copy()
    region = np.zeros(mask.shape, bool)
    box = bounding_box(mask, [int(np.ceil(margin_mm / s)) + 1 for s in spacing_zyx_mm])
    region[box] = ndimage.distance_transform_edt(~mask[box], sampling=spacing_zyx_mm) <= margin_mm
    return region


def bounding_box(mask: np.ndarray, pad_voxels) -> tuple[slice, ...]:
    """The smallest box holding every True voxel of `mask`, grown by `pad_voxels` per axis within the array."""
    box = []
    for axis, pad in enumerate(pad_voxels):
        hits = np.flatnonzero(np.any(mask, axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(max(int(hits[0]) - pad, 0), min(int(hits[-1]) + pad + 1, mask.shape[axis])))
    return tuple(box)


def functional_tumour_volume(
    s0: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    mask: np.ndarray,
    spacing_zyx_mm: tuple[float, float, float],
    thresholds: FTVThresholds = FTVThresholds(),
    *,
    margin_mm: float = 0.0,
) -> FTVResult:
    """FTV of one exam: `s0`, `s1`, `s2` the pre-contrast, early and late signals and `mask` the
    tumour mask, arrays of one shape (z, y, x) on a grid of `spacing_zyx_mm`; the analysis
    region is the mask dilated by `margin_mm`. Computed within the region's bounding box (the
    rule looks at nothing outside the region)."""
    region = analysis_region(mask, spacing_zyx_mm, margin_mm)
    voxel_mm3 = float(np.prod(spacing_zyx_mm))
    if not region.any():
        return FTVResult(0.0, region, 0, 0, float("nan"), 0)
    box = bounding_box(region, (1, 1, 1))
    inside = region[box]
    s0 = np.asarray(s0[box], np.float64)
    s0_threshold = thresholds.s0_fraction * float(np.percentile(s0[inside], thresholds.s0_percentile))
    with np.errstate(invalid="ignore"):
        pe = percent_enhancement(s0, s1[box])
        bright_enhancing = inside & (s0 >= s0_threshold) & (pe >= thresholds.pe_min)
        ser = signal_enhancement_ratio(s0, s1[box], s2[box])
        ser_ok = ser >= thresholds.ser_min
    neighbours = ndimage.convolve(bright_enhancing.astype(np.uint8), _NEIGHBOURS_26, mode="constant", cval=0)
    ftv = np.zeros(region.shape, bool)
    ftv[box] = bright_enhancing & ser_ok & (neighbours >= thresholds.neighbours_min)
    count = int(ftv.sum())
    return FTVResult(
        count * voxel_mm3 / 1000.0,
        ftv,
        count,
        int(region.sum()),
        s0_threshold,
        int((bright_enhancing & np.isnan(ser)).sum()),
    )
