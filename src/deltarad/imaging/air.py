"""Air: the background outside the body, and the intensity threshold that defines it.

The rule, per exam on its own grid:

1. Background samples: the voxels on the in-plane edge of the field of view (first and last row
   and column of every slice, SimpleITK index axes x and y). The first and last slices are not
   used: they cut through the body.
2. The samples are split at their Otsu threshold. Where the brighter part's median is at least
   BODY_CONTRAST times the darker part's upper bound (step 3), part of the edge is body and the
   darker part is the background; otherwise all samples are.
3. Threshold = median + AIR_MAD_FACTOR x 1.4826 MAD of the background samples (a robust upper
   bound of the noise: 5 sigma of Gaussian noise, 4.5 sigma of Rayleigh magnitude noise, which
   exceeds it once in 25000 voxels), and at least 1% of the image's 1st-99th percentile range
   above the median (noise-free, zero-filled backgrounds have MAD 0).
4. The background must be darker than the body: the median of the voxels above the threshold
   must be at least BODY_CONTRAST times the threshold. Otherwise the edge is tissue (an exam cropped
   to the breast): no voxel is taken as air, and the note says so.
5. Air = voxels below the threshold connected (face connectivity, in 3D) to the in-plane edge,
   plus the islands of everything else smaller than ISLAND_SHARE of the largest (noise specks in
   the air, markers); body = the rest (an air voxel above the threshold that touches the body
   joins it). Dark tissue inside the body (fat-suppressed fat, cysts) is enclosed by brighter
   tissue and never reached from the edge, so it is never air, whatever the threshold.

A user threshold (imaging.air_threshold) replaces steps 1-4; step 5 is the same. This air and
body define the regions only; N4's mask stays Otsu's, as in 3D Slicer's N4ITK
(`preprocess.body_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from deltarad.imaging.gray_counts import GrayCounts

#: Noise upper bound in robust standard deviations (1.4826 MAD) above the background's median.
AIR_MAD_FACTOR = 5.0
#: Body (on the edge, and in the image) must be at least this many times the background's upper bound.
BODY_CONTRAST = 2.0
#: Regions not reached from the edge but smaller than this share of the largest one are air.
ISLAND_SHARE = 0.01


@dataclass(frozen=True)
class AirThreshold:
    """The air threshold of one exam (intensity units of the image) and how it was found."""

    value: float | None  # None: the field-of-view edge is not background, no voxel is air
    note: str
    source: str  # "study file" (imaging.air_threshold), "field-of-view edge", or "none" (the edge is tissue)


def in_plane_edge(array: np.ndarray) -> np.ndarray:
    """Values on the first and last row and column of every slice (array order z, y, x)."""
    return np.concatenate(
        [array[:, 0, :].ravel(), array[:, -1, :].ravel(), array[:, 1:-1, 0].ravel(), array[:, 1:-1, -1].ravel()]
    ).astype(float)


def _otsu_split(values: np.ndarray, bins: int = 200) -> float:
    """Otsu's threshold of `values` (200 bins): the darker part is values <= it."""
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    p = counts / counts.sum()
    w0 = np.cumsum(p)
    mu0 = np.cumsum(p * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu0[-1] * w0 - mu0) ** 2 / (w0 * (1 - w0))
    between = np.nan_to_num(between[:-1], nan=0.0, posinf=0.0)
    return float(edges[int(np.argmax(between)) + 1]) if between.any() else float(edges[-1])


def _upper_bound(samples: np.ndarray, floor: float) -> tuple[float, float, float]:
    """(median, MAD, median + max(AIR_MAD_FACTOR x 1.4826 MAD, floor)) of background samples."""
    median = float(np.median(samples))
    mad = float(np.median(np.abs(samples - median)))
    return median, mad, median + max(AIR_MAD_FACTOR * 1.4826 * mad, floor)


def estimate_air_threshold(image: sitk.Image) -> AirThreshold:
    """The threshold of steps 1-4 of the module's rule."""
    array = sitk.GetArrayViewFromImage(image)
    edge = in_plane_edge(array)
    counts = GrayCounts.of(array)  # integer images: the same percentiles and medians without sorting
    p1, p99 = (counts.percentile(1), counts.percentile(99)) if counts else np.percentile(array, [1, 99])
    floor = 0.01 * (p99 - p1)
    split = _otsu_split(edge)
    dark, bright = edge[edge <= split], edge[edge > split]
    two = bright.size > 0 and np.median(bright) >= BODY_CONTRAST * _upper_bound(dark, floor)[2]
    background = dark if two else edge
    population = f"the darker part, {dark.size / edge.size:.0%} of the edge" if two else "all of it"
    median, mad, threshold = _upper_bound(background, floor)
    n_above, body_median = counts.above(threshold) if counts else _median_above(array, threshold)
    stats = f"background median {median:.4g}, MAD {mad:.4g}, from {population}"
    if not n_above or body_median < BODY_CONTRAST * threshold:
        return AirThreshold(
            None,
            (
                f"field-of-view edge is not background ({stats}; body median {body_median:.4g} is under "
                f"{BODY_CONTRAST:g}x the threshold {threshold:.4g} it gives): no voxel taken as air; "
                "set imaging.air_threshold if the exam holds air"
            ),
            "none",
        )
    return AirThreshold(
        float(threshold),
        f"air threshold {threshold:.4g} estimated from the field-of-view edge ({stats})",
        "field-of-view edge",
    )


def _median_above(array: np.ndarray, threshold: float) -> tuple[int, float]:
    above = array[array > threshold]
    return above.size, float(np.median(above)) if above.size else float("nan")


def exam_air(image: sitk.Image, user_threshold: float | None) -> tuple[AirThreshold, sitk.Image]:
    """An exam's air threshold (the user's imaging.air_threshold, else estimated) and its air
    mask on the image's grid: what extraction and `deltarad check` both use."""
    if user_threshold is not None:
        threshold = AirThreshold(
            float(user_threshold), f"air threshold {user_threshold:g} (imaging.air_threshold)", "study file"
        )
    else:
        threshold = estimate_air_threshold(image)
    return threshold, air_mask(image, threshold.value)


def air_mask(image: sitk.Image, threshold: float | None) -> sitk.Image:
    """Step 5: air (1) and body (0) on the image's grid; `threshold` None: no air."""
    array = sitk.GetArrayViewFromImage(image)
    if threshold is None:
        return _like(np.zeros(array.shape, np.uint8), image)
    below = sitk.GetImageFromArray((array < threshold).astype(np.uint8))
    labels = sitk.ConnectedComponent(below, False)
    label_array = sitk.GetArrayViewFromImage(labels)
    air = member_of(label_array, np.unique(in_plane_edge(label_array)).astype(np.int64))
    rest_image = sitk.ConnectedComponent(sitk.GetImageFromArray((~air).view(np.uint8)), False)
    rest = sitk.GetArrayViewFromImage(rest_image)
    sizes = np.bincount(rest.ravel())
    sizes[0] = 0
    if sizes.any():
        air |= member_of(rest, np.flatnonzero((sizes > 0) & (sizes < ISLAND_SHARE * sizes.max())))
    return _like(air.view(np.uint8), image)


def member_of(labels: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """labels in `chosen`, label 0 (the background) never: np.isin by a lookup table (labels are
    0..max, so one indexing pass instead of a sort)."""
    table = np.zeros(int(labels.max()) + 1 if labels.size else 1, bool)
    chosen = chosen[(chosen > 0) & (chosen < table.size)]
    table[chosen] = True
    return table[labels]


def _like(array: np.ndarray, image: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    return out
