"""Preprocessing as in the study: N4 bias-field correction and resampling to 1 x 1 x 1 mm.

Work is spent on the lesion's neighbourhood only, with results equal to processing the whole
volume there:

- N4 is fitted once on the whole exam (it is global by nature) and its smooth log-bias field is
  interpolated onto the cropped grid only (pointwise in physical space: exact). The fit is
  deltarad's N4 (`deltarad.imaging.n4`: ITK's algorithm, separable, faster) or SimpleITK's
  on N4_THREADS ITK threads whatever the machine (its sums depend on the thread count).
- B-spline resampling of a crop equals resampling the whole image up to the tail of the cubic
  B-spline prefilter, which decays as 0.268^k with k input voxels from the crop edge; the crop
  keeps BSPLINE_MARGIN_VOXELS = 12 extra input voxels (0.268^12 = 1.4e-7, float32 precision).
- Output grids are sub-grids of the whole exam's output grid, so crop or not, voxels sit at the
  same physical points.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from deltarad.imaging.air import member_of
from deltarad.imaging.n4 import n4_log_bias_field
from deltarad.imaging.otsu import otsu_threshold_of

#: Extra input voxels around a crop so that cubic B-spline resampling inside it matches the whole image.
BSPLINE_MARGIN_VOXELS = 12
#: ITK threads of the N4 fit: its floating-point sums depend on the thread count (1 vs 2 threads
#: moved the log field by 3e-6 and texture features by up to 1e-2 relative), so it is fixed.
N4_THREADS = 1
#: N4's convergence threshold (coefficient of variation of the field's change between iterations).
N4_CONVERGENCE = 1e-4


@dataclass(frozen=True)
class Grid:
    """A voxel grid in physical space (SimpleITK order x, y, z; mm)."""

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    @classmethod
    def of(cls, image: sitk.Image) -> Grid:
        return cls(image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection())

    def _matrix(self) -> np.ndarray:
        return np.array(self.direction).reshape(3, 3) * np.array(self.spacing)

    def point(self, index: np.ndarray) -> np.ndarray:
        """Physical point (mm) of a continuous index."""
        return np.array(self.origin) + self._matrix() @ np.asarray(index, float)

    def index(self, point: np.ndarray) -> np.ndarray:
        """Continuous index of a physical point (mm)."""
        return np.linalg.solve(self._matrix(), np.asarray(point, float) - np.array(self.origin))

    def sub(self, lo: np.ndarray, size: np.ndarray) -> Grid:
        """The sub-grid starting at index `lo` with `size` voxels."""
        return Grid(tuple(int(s) for s in size), self.spacing, tuple(self.point(lo).tolist()), self.direction)


#: A field of view longer than a whole number of output voxels by less than this fraction of a
#: voxel gets no extra voxel: a DICOM series' slice spacing computed from rounded positions
#: (1.0000002 mm for 1 mm slices) must not add a slice of nothing but extrapolation.
FIELD_OF_VIEW_TOLERANCE_VOXELS = 1e-3


def output_grid(image: sitk.Image, spacing_mm: tuple[float, float, float] | None) -> Grid:
    """The whole exam's grid after resampling: same field of view (voxel edges aligned), new spacing."""
    grid = Grid.of(image)
    if spacing_mm is None:
        return grid
    old, new = np.array(grid.spacing), np.array(spacing_mm, float)
    size = np.maximum(np.ceil(np.array(grid.size) * old / new - FIELD_OF_VIEW_TOLERANCE_VOXELS), 1).astype(int)
    origin = np.array(grid.origin) + np.array(grid.direction).reshape(3, 3) @ ((new - old) / 2)
    return Grid(tuple(size.tolist()), tuple(new.tolist()), tuple(origin.tolist()), grid.direction)


def crop_grid(full: Grid, image_grid: Grid, box_lo: np.ndarray, box_hi: np.ndarray, margin_mm: float) -> Grid:
    """The sub-grid of `full` covering a lesion box (image voxel indices, inclusive) plus `margin_mm`.

    Along an axis where the margin would reach the exam's border the whole axis is kept, so that
    periodic-boundary filters (PyRadiomics' wavelets) see the same data as on the whole exam.
    """
    corners = [image_grid.point(np.where(c, box_hi + 0.5, box_lo - 0.5)) for c in np.ndindex(2, 2, 2)]
    idx = np.array([full.index(p) for p in corners])
    pad = margin_mm / np.array(full.spacing)
    lo = np.floor(idx.min(axis=0) - pad).astype(int)
    hi = np.ceil(idx.max(axis=0) + pad).astype(int)
    size = np.array(full.size)
    whole = (lo <= 0) | (hi >= size - 1)
    lo = np.where(whole, 0, lo)
    hi = np.where(whole, size - 1, hi)
    return full.sub(lo, hi - lo + 1)


def lesion_box(masks) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive voxel-index box (x, y, z) around all masks (they share the image's grid)."""
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    for mask in masks:
        stats = sitk.LabelShapeStatisticsImageFilter()
        stats.Execute(mask)
        box = np.array(stats.GetBoundingBox(1))
        m_lo, m_hi = box[:3], box[:3] + box[3:] - 1
        lo = m_lo if lo is None else np.minimum(lo, m_lo)
        hi = m_hi if hi is None else np.maximum(hi, m_hi)
    if lo is None or hi is None:
        raise ValueError("lesion_box needs at least one mask")
    return lo, hi


def input_crop(image: sitk.Image, grid: Grid, margin_voxels: int) -> sitk.Image:
    """The part of `image` that covers `grid`, with `margin_voxels` more input voxels per side."""
    src = Grid.of(image)
    corners = [grid.point(np.array(c) * (np.array(grid.size) - 1)) for c in np.ndindex(2, 2, 2)]
    idx = np.array([src.index(p) for p in corners])
    lo = np.maximum(np.floor(idx.min(axis=0)).astype(int) - margin_voxels, 0)
    hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + margin_voxels, np.array(image.GetSize()) - 1)
    return sitk.RegionOfInterest(image, (hi - lo + 1).tolist(), lo.tolist())


def resample(image: sitk.Image, grid: Grid, interpolator: int, pixel_type: int) -> sitk.Image:
    """`image` on `grid`; a sub-grid of the image's own lattice is cut out, not interpolated."""
    src = Grid.of(image)
    if np.allclose(src.spacing, grid.spacing) and np.allclose(src.direction, grid.direction):
        lo = src.index(np.array(grid.origin))
        if np.allclose(lo, np.round(lo), atol=1e-4):
            return sitk.Cast(
                sitk.RegionOfInterest(image, list(grid.size), np.round(lo).astype(int).tolist()), pixel_type
            )
    return sitk.Resample(
        image,
        list(grid.size),
        sitk.Transform(),
        interpolator,
        list(grid.origin),
        list(grid.spacing),
        list(grid.direction),
        0.0,
        pixel_type,
    )


def resample_image(image: sitk.Image, grid: Grid) -> sitk.Image:
    """Cubic B-spline resampling of an exam onto `grid` (float32); identity when grids agree."""
    image = sitk.Cast(image, sitk.sitkFloat32)
    return resample(input_crop(image, grid, BSPLINE_MARGIN_VOXELS), grid, sitk.sitkBSpline, sitk.sitkFloat32)


def resample_mask(mask: sitk.Image, grid: Grid) -> sitk.Image:
    """Volume-keeping mask resampling: linear interpolation of the 0/1 mask, kept where >= 0.5.

    Nearest neighbour gains or loses whole slabs when spacings are not multiples of each other;
    the 0.5 iso-surface of the interpolated mask keeps the lesion's volume to within a voxel layer.
    """
    fraction = resample(input_crop(sitk.Cast(mask, sitk.sitkFloat32), grid, 1), grid, sitk.sitkLinear, sitk.sitkFloat32)
    return sitk.Cast(fraction >= 0.5, sitk.sitkUInt8)


def resample_label(mask: sitk.Image, grid: Grid) -> sitk.Image:
    """Nearest-neighbour resampling for masks derived from thresholds (air, body)."""
    return resample(input_crop(mask, grid, 1), grid, sitk.sitkNearestNeighbor, sitk.sitkUInt8)


# ----------------------------------------------------------------------------- N4


def otsu_threshold(image: sitk.Image) -> float:
    """Otsu's threshold (200 bins) of the whole image, in its intensity units: the N4 mask's, as
    3D Slicer's N4ITK masks by Otsu. Not the air of the regions (`deltarad.imaging.air`): with
    little air in the field of view it falls between tissue and tumour. SimpleITK's
    OtsuThresholdImageFilter's value, computed 200x faster (`deltarad.imaging.otsu`)."""
    return otsu_threshold_of(sitk.GetArrayViewFromImage(image), bins=200)


def body_mask(image: sitk.Image, air_threshold: float) -> sitk.Image:
    """N4's mask: the largest connected region above the threshold, cavities filled. (The
    regions' body and air follow `deltarad.imaging.air`.)"""
    foreground = sitk.Cast(image > air_threshold, sitk.sitkUInt8)
    components = sitk.ConnectedComponent(foreground)
    labels = sitk.GetArrayViewFromImage(components)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest = labels == int(np.argmax(sizes)) if sizes.any() else np.zeros(labels.shape, bool)
    out = sitk.GetImageFromArray(fill_holes(largest).view(np.uint8))
    out.CopyInformation(image)
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """sitk.BinaryFillhole of a 0/1 mask (face connectivity): background not connected to the
    array's border becomes foreground. Worked out in the mask's bounding box plus one voxel, where
    that is inside the array: outside the box all is background and reaches the border."""
    box = mask_box(mask, pad_voxels=1)
    if box is None:
        return mask.copy()
    inside = ~mask[box]
    components = sitk.ConnectedComponent(sitk.GetImageFromArray(inside.view(np.uint8)), False)
    labels = sitk.GetArrayViewFromImage(components)
    border = np.unique(
        np.concatenate([np.take(labels, i, axis=a).ravel() for a in range(labels.ndim) for i in (0, -1)])
    )
    holes = (labels > 0) & ~member_of(labels, border)
    out = mask.copy()
    out[box] |= holes
    return out


def mask_box(mask: np.ndarray, pad_voxels: int = 0) -> tuple[slice, slice, slice] | None:
    """The smallest box (array order: slices, rows, columns) holding every non-zero voxel of a 3-D
    array, grown by `pad_voxels` per side within the array; None when there is none. One pass
    over the slices, then one over the slab that holds the mask."""
    slices = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
    if not slices.size:
        return None
    slab = mask[slices[0] : slices[-1] + 1]
    rows = np.flatnonzero(slab.any(axis=(0, 2)))
    columns = np.flatnonzero(slab.any(axis=(0, 1)))
    z, y, x = (
        slice(max(int(hit[0]) - pad_voxels, 0), min(int(hit[-1]) + pad_voxels + 1, size))
        for hit, size in zip((slices, rows, columns), mask.shape)
    )
    return z, y, x


@contextmanager
def itk_threads(n: int) -> Iterator[None]:
    """ITK's global default thread count set to `n` inside the block (process-wide: not for
    processes that run several ITK pipelines in threads at once; deltarad's workers run one)."""
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(n)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)


@dataclass(frozen=True)
class BiasField:
    """An N4 log bias field, kept on N4's (shrunk) grid.

    It is carried to any grid by linear interpolation in physical space (nearest value beyond
    the fitted region's edge), so correcting a crop gives the same voxels as correcting the whole
    exam. (ITK's own full-resolution reconstruction maps the B-spline lattice onto the extent of
    the image it is asked for, so it would differ between a crop and the whole exam.)
    """

    log_field: sitk.Image

    def on(self, grid: sitk.Image) -> sitk.Image:
        """The log bias field on `grid`'s voxels (float32)."""
        return sitk.Resample(
            self.log_field,
            grid,
            sitk.Transform(),
            sitk.sitkLinear,
            0.0,
            sitk.sitkFloat32,
            useNearestNeighborExtrapolator=True,
        )

    def correct(self, image: sitk.Image) -> sitk.Image:
        """image / exp(log bias field), on `image`'s grid (float32)."""
        return sitk.Cast(image, sitk.sitkFloat32) / sitk.Exp(self.on(image))


def fit_bias_field(
    image: sitk.Image, body: sitk.Image, *, shrink: int, iterations: list[int], implementation: str = "deltarad"
) -> BiasField:
    """Fit N4 (N4ITK) on `image` shrunk by `shrink` per axis, inside the body mask.

    3D Slicer's N4ITKBiasFieldCorrection defaults: shrink 4, iterations 50/40/30, convergence
    1e-4, cubic B-spline on 4 control points per axis, 200 histogram bins. `implementation`:
    "deltarad" (deltarad.imaging.n4) or "itk" (SimpleITK's filter on N4_THREADS ITK threads, set
    ITK-wide for the fit: N4's inner B-spline filters take the global default, not the filter's).
    """
    image = sitk.Cast(image, sitk.sitkFloat32)
    factors = [max(1, min(shrink, s // 4)) for s in image.GetSize()]
    small, small_mask = sitk.Shrink(image, factors), sitk.Shrink(body, factors)
    if implementation == "deltarad":
        log_field = n4_log_bias_field(
            sitk.GetArrayViewFromImage(small),
            sitk.GetArrayViewFromImage(small_mask),
            small.GetSpacing(),
            small.GetOrigin(),
            iterations=list(iterations),
            convergence_threshold=N4_CONVERGENCE,
        )
        field = sitk.GetImageFromArray(log_field)
        field.CopyInformation(small)
        return BiasField(field)
    if implementation != "itk":
        raise ValueError(f"unknown N4 implementation {implementation!r}")
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.SetMaximumNumberOfIterations(list(iterations))
    n4.SetConvergenceThreshold(N4_CONVERGENCE)
    n4.SetNumberOfThreads(N4_THREADS)
    with itk_threads(N4_THREADS):
        n4.Execute(small, small_mask)
        return BiasField(sitk.Cast(n4.GetLogBiasFieldAsImage(small), sitk.sitkFloat32))
