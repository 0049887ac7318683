"""N4 bias-field correction (Tustison et al. 2010) as ITK's N4BiasFieldCorrectionImageFilter
computes it, with the voxel loops written as separable tensor products.

ITK fits the log bias field's B-spline to every masked voxel as a scattered point, one point at
a time (about 0.1 s per iteration on a 64 x 64 x 30 grid, on one thread). On a voxel grid the
B-spline weights factor per axis, so the fit, and the field's reconstruction, are three small
matrix products per iteration: the same arithmetic in another order. Everything else follows
ITK 5.4 step by step (histogram sharpening by Wiener deconvolution, its min/max scan, padding
and interpolation; the multilevel lattice refinement; the convergence measure, whose float32
one-pass mean and variance are replayed near the threshold: they decide after which iteration
each level stops, and every iteration moves the field). So the field is ITK's to within 5e-5 in
log units or twice ITK's own 1-vs-2-thread difference, whichever is larger: ITK sums the fit in
float32, which moves its field by up to 5e-5 between thread counts, and about as far from the
exact sums made here (tests/imaging/test_n4.py and test_n4_grid.py measure both).
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache

import numpy as np

SPLINE_ORDER = 3
#: ITK's BSplineScatteredDataPointSetToImageFilter pulls points this close (in spans x 1e-3 of a
#: voxel) to the domain's far end inside it.
_BSPLINE_EPSILON = 1e-3
_FLOAT_MAX = float(np.finfo(np.float32).max)


def n4_log_bias_field(
    image: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, ...],
    origin: tuple[float, ...],
    *,
    iterations: list[int],
    convergence_threshold: float = 1e-4,
    control_points: int = 4,
    histogram_bins: int = 200,
    fwhm: float = 0.15,
    wiener_noise: float = 0.01,
) -> np.ndarray:
    """The log bias field of `image` (numpy order z, y, x) fitted inside `mask`, on the image's grid.

    `spacing` and `origin` in SimpleITK order (x, y, z; mm); the grid's direction does not
    matter (ITK fits in index space). One fitting level per entry of `iterations`, the B-spline
    mesh doubling from level to level. Defaults are ITK's.
    """
    image = np.asarray(image, np.float32)
    inside = np.asarray(mask) == 1
    if not inside.any():
        raise ValueError("N4: the mask is empty")
    if min(image.shape) < 2:
        raise ValueError(f"N4 needs at least 2 voxels along every axis, got {image.shape[::-1]} (x, y, z)")
    log_input = image.copy()
    positive = inside & (image > 0)
    log_input[positive] = np.log(image[positive].astype(np.float64)).astype(np.float32)
    values_at = np.flatnonzero(inside)  # raster order, as ITK visits voxels
    threshold = float(np.float32(convergence_threshold))  # ITK compares in float32

    axes = tuple(reversed(range(image.ndim)))  # numpy axis of x, y, z
    field = np.zeros_like(image)
    uncorrected = log_input
    lattice: np.ndarray | None = None
    n_control = [control_points] * image.ndim
    for level, max_iterations in enumerate(iterations):
        fit_basis = [
            _basis(image.shape[a], n_control[d], spacing[d], origin[d], fitting=True) for d, a in enumerate(axes)
        ]
        field_basis = [
            _basis(image.shape[a], n_control[d], spacing[d], origin[d], fitting=False) for d, a in enumerate(axes)
        ]
        weight_sum = _outer([np.sum(b**2, axis=1) for b in fit_basis], axes)
        omega = _contract(inside.astype(np.float64), [b**2 for b in fit_basis], axes)
        convergence, elapsed = _FLOAT_MAX, 0
        while elapsed < max_iterations and convergence > threshold:
            elapsed += 1
            residual = uncorrected - _sharpen(
                uncorrected.ravel()[values_at], uncorrected.shape, values_at, histogram_bins, fwhm, wiener_noise
            )
            data = np.where(inside, residual.astype(np.float64) / weight_sum, 0.0)
            delta = _contract(data, [b**3 for b in fit_basis], axes)
            phi = np.divide(delta, omega, out=np.zeros_like(delta), where=omega != 0).astype(np.float32)
            lattice = phi if lattice is None else (lattice + phi).astype(np.float32)
            new_field = _reconstruct(lattice, field_basis, axes)
            convergence = _convergence((field - new_field)[inside], threshold)
            field = new_field
            uncorrected = (log_input - field).astype(np.float32)
        if level < len(iterations) - 1:
            if lattice is None:  # a level of 0 iterations fits no lattice to refine
                raise ValueError(
                    f"N4: fitting level {level + 1} of {len(iterations)} has 0 iterations, "
                    "so no field is fitted to refine for the next level"
                )
            lattice = _refine(lattice, axes)
            n_control = [2 * n - SPLINE_ORDER for n in n_control]
    return field


# ----------------------------------------------------------------------------- B-splines


def _cubic_bspline(u: np.ndarray) -> np.ndarray:
    """The centred cubic B-spline kernel (ITK's BSplineKernelFunction<3>)."""
    a = np.abs(u)
    inner = (4.0 - 6.0 * a**2 + 3.0 * a**3) / 6.0
    outer = (8.0 - 12.0 * a + 6.0 * a**2 - a**3) / 6.0
    return np.where(a < 1.0, inner, np.where(a < 2.0, outer, 0.0))


def _basis(n_voxels: int, n_control: int, spacing: float, origin: float, *, fitting: bool) -> np.ndarray:
    """(n_voxels x n_control) B-spline weights of the voxels along one axis.

    The B-spline spans the voxel centres from first to last. Fitting maps voxels as ITK's
    scattered-data filter does (physical points stored as float32, then reparameterised);
    reconstruction as its control-point image filter does (from the index).
    """
    spans = n_control - SPLINE_ORDER
    index = np.arange(n_voxels, dtype=np.float64)
    if fitting:
        r = spans / ((n_voxels - 1) * spacing)
        points = (origin + index * spacing).astype(np.float32).astype(np.float64)
        p = (points - origin) * r
        epsilon = r * spacing * _BSPLINE_EPSILON
    else:
        p = spans * index / (n_voxels - 1)
        epsilon = spans / (n_voxels - 1) * _BSPLINE_EPSILON
    p = np.where(np.abs(p - spans) <= epsilon, spans - epsilon, p)
    p = np.where((p < 0) & (np.abs(p) <= epsilon), 0.0, p)
    if np.any((p < 0) | (p >= spans)):
        raise ValueError("N4: a voxel falls outside the B-spline domain")
    return _basis_at(p, n_control)


def _basis_at(p: np.ndarray, n_control: int) -> np.ndarray:
    """(len(p) x n_control) weights of the control points at parametric positions `p` (in spans)."""
    first = p.astype(np.int64)
    weights = np.zeros((len(p), n_control))
    for k in range(SPLINE_ORDER + 1):
        weights[np.arange(len(p)), first + k] = _cubic_bspline(p - first - k + 0.5 * (SPLINE_ORDER - 1))
    return weights


def _contract(values: np.ndarray, matrices: list[np.ndarray], axes: tuple[int, ...]) -> np.ndarray:
    """sum over voxels of values x prod_d matrices[d][voxel index on axis d, control index d]."""
    out = values
    for matrix, axis in zip(matrices, axes):
        out = np.moveaxis(np.tensordot(out, matrix, axes=([axis], [0])), -1, axis)
    return out


def _reconstruct(lattice: np.ndarray, basis: list[np.ndarray], axes: tuple[int, ...]) -> np.ndarray:
    """The B-spline of control-point `lattice` on the voxel grid (float32)."""
    return _contract(lattice.astype(np.float64), [b.T for b in basis], axes).astype(np.float32)


def _outer(vectors: list[np.ndarray], axes: tuple[int, ...]) -> np.ndarray:
    """The separable product prod_d vectors[d][index on axis d], as an array over the grid."""
    out = np.ones([1] * len(axes))
    for vector, axis in zip(vectors, axes):
        shape = [1] * len(axes)
        shape[axis] = len(vector)
        out = out * vector.reshape(shape)
    return out


@lru_cache(maxsize=8)
def _refinement(n_control: int) -> np.ndarray:
    """(2 n - 3) x n matrix taking a cubic B-spline's control points to those of the same curve on
    a mesh twice as fine (exact: the finer spline space contains the coarser)."""
    spans = n_control - SPLINE_ORDER
    x = np.linspace(0.0, spans, 64 * spans + 1)[:-1] + 0.5 / 64
    coarse = _basis_at(x, n_control)
    fine = _basis_at(2.0 * x, 2 * n_control - SPLINE_ORDER)
    return np.linalg.lstsq(fine, coarse, rcond=None)[0]


def _refine(lattice: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The control-point lattice of the same field on a mesh twice as fine along every axis."""
    out = lattice.astype(np.float64)
    for axis in axes:
        out = np.moveaxis(np.tensordot(out, _refinement(out.shape[axis]), axes=([axis], [1])), -1, axis)
    return out.astype(np.float32)


# ----------------------------------------------------------------------------- sharpening


def _sharpen(
    values: np.ndarray, shape: tuple[int, ...], at: np.ndarray, bins: int, fwhm: float, noise: float
) -> np.ndarray:
    """N4's histogram sharpening of the masked log intensities `values` (raster order), as an
    image of `shape` (0 outside the mask): each value mapped to E[u | v] of the Wiener-deconvolved
    histogram (Sled et al. 1998)."""
    f32 = np.float32
    low, high = _itk_range(values)
    slope = f32((high - low) / f32(bins - 1))
    cidx = (values - low) / slope
    idx = np.floor(cidx).astype(np.int64)
    offset = (cidx - idx.astype(f32)).astype(np.float64)
    histogram = np.zeros(bins)
    exact = offset == 0.0
    on_bin = exact & (idx >= 0) & (idx < bins)
    histogram += np.bincount(idx[on_bin], minlength=bins)[:bins]
    split = ~exact & (idx >= 0) & (idx < bins - 1)
    histogram += np.bincount(idx[split], weights=1.0 - offset[split], minlength=bins)[:bins]
    histogram += np.bincount(idx[split] + 1, weights=offset[split], minlength=bins)[:bins]
    histogram = histogram.astype(f32).astype(np.float64)

    padded = int(2 ** (math.ceil(math.log(bins) / math.log(2.0)) + 1) + 0.5)
    shift = int(0.5 * (padded - bins))
    v = np.zeros(padded)
    v[shift : shift + bins] = histogram

    scaled_fwhm = f32(f32(fwhm) / slope)
    exp_factor = float(f32(4.0 * math.log(2.0) / float(scaled_fwhm) ** 2))
    scale = float(f32(2.0 * math.sqrt(math.log(2.0) / math.pi) / float(scaled_fwhm)))
    n = np.arange(padded, dtype=np.float64)
    gaussian = np.zeros(padded)
    gaussian[0] = scale
    half = padded // 2
    m = np.arange(1, half + 1)
    gaussian[m] = scale * np.exp(-(m.astype(float) ** 2) * exp_factor)
    gaussian[padded - m] = gaussian[m]
    if padded % 2 == 0:
        gaussian[half] = scale * np.exp(0.25 * -(float(padded) ** 2) * exp_factor)

    gf = np.fft.fft(gaussian)
    wiener = np.conj(gf) / (np.conj(gf) * gf + float(f32(noise)))
    u = np.maximum(np.fft.ifft(np.fft.fft(v) * wiener.real).real, 0.0)
    centres = (low + (n.astype(f32) - f32(shift)) * slope).astype(f32).astype(np.float64)
    numerator = np.fft.ifft(np.fft.fft(centres * u) * gf).real
    denominator = np.fft.ifft(np.fft.fft(u) * gf).real
    expected: np.ndarray = np.zeros(padded)
    np.divide(numerator, denominator, out=expected, where=denominator != 0.0)
    expected = expected.astype(f32)[shift : shift + bins]

    inside = (idx >= 0) & (idx < bins - 1)
    j = np.where(inside, idx, 0)
    mapped = np.where(
        inside,
        expected[j] + (expected[np.minimum(j + 1, bins - 1)] - expected[j]) * (cidx - idx.astype(f32)),
        expected[-1],
    ).astype(f32)
    out = np.zeros(int(np.prod(shape)), np.float32)
    out[at] = mapped
    return out.reshape(shape)


def _itk_range(values: np.ndarray) -> tuple[np.float32, np.float32]:
    """ITK's (min, max) scan: a value that raises the running maximum is not compared with the
    minimum, so the first value never sets it."""
    running = np.maximum.accumulate(values)
    raises = np.empty(len(values), bool)
    raises[0] = True
    raises[1:] = values[1:] > running[:-1]
    rest = values[~raises]
    low = rest.min() if len(rest) else np.float32(_FLOAT_MAX)
    return np.float32(low), np.float32(running[-1])


# ----------------------------------------------------------------------------- convergence


def _convergence(change: np.ndarray, threshold: float) -> float:
    """N4's convergence measure: the coefficient of variation of exp(change), the change of the
    log field over the mask (raster order), as ITK computes it.

    ITK accumulates the mean and the sum of squares in one pass in float32 (N4's RealType). The
    running mean stops moving once an update is below half a float32 step (after about
    |change| / 6e-8 voxels: a few thousand when the field changes by 1e-4), so ITK's measure
    sits up to several percent above the exact one near the 1e-4 threshold, and the two stop after
    different iterations (each iteration moves the field's mean: 4e-3 after three more). Far
    above the threshold (EXACT_DECIDES_ABOVE times it) the exact value decides the test alone;
    closer, ITK's float32 arithmetic is replayed.
    """
    exact = _coefficient_of_variation(np.exp(change.astype(np.float64)))
    if exact > EXACT_DECIDES_ABOVE * threshold and len(change) < _EXACT_COUNT_LIMIT:
        return exact
    return _itk_coefficient_of_variation(change)


#: Above this multiple of the threshold the exact coefficient of variation stands for ITK's,
#: which cannot be below the threshold then: ITK's lagging mean adds to its sum of squares (its
#: value was up to 8 % above the exact one in the tests), and its float32 running sum of n terms
#: is low by at most n 2^-24 relative.
EXACT_DECIDES_ABOVE = 2.0
#: Masks beyond this many voxels always replay ITK (the running sum's bound n 2^-24 nears 1/4).
_EXACT_COUNT_LIMIT = 2**22
_FLOAT32 = struct.Struct("f")


def _to_float32(x: float) -> float:
    """x rounded to float32 (to nearest, ties to even), as a Python float: 3x faster than NumPy's
    scalar for the one-by-one steps."""
    try:
        return _FLOAT32.unpack(_FLOAT32.pack(x))[0]
    except OverflowError:  # beyond float32's range: C's conversion gives infinity
        return math.copysign(math.inf, x)


#: How far (in float32 steps) ITK's running mean may move before the voxels that could move it
#: are looked for again.
_SLACK_STEPS = 512


def _coefficient_of_variation(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.mean(x))


def _itk_coefficient_of_variation(change: np.ndarray) -> float:
    """ITK's N4BiasFieldCorrectionImageFilter::CalculateConvergenceMeasurement, bit for bit but
    for rare double-rounding ties in the sum of squares: pixel = exp(change) (float), then for N = 1, 2, ... (N a float, stuck at 2^24)
    sigma += (pixel - mu)^2 (N - 1) / N and mu = mu (1 - 1/N) + pixel / N, each rounded to float;
    the result sqrt(sigma / (N - 1)) / mu."""
    if len(change) < 2:
        return math.nan  # ITK divides 0 by 0: never above the threshold
    pixel = np.exp(change.astype(np.float64)).astype(np.float32)
    count = np.minimum(np.arange(1, len(pixel) + 1), 2**24).astype(np.float64)
    mean_before, mean = _itk_running_mean(pixel, count)
    deviation = pixel - mean_before.astype(np.float32)
    terms = (deviation * deviation).astype(np.float64) * (count - 1.0) / count
    sum_of_squares = float(np.add.accumulate(terms.astype(np.float32))[-1])  # float32, in order
    sigma = np.float32(math.sqrt(sum_of_squares / (count[-1] - 1.0)))
    return float(sigma / np.float32(mean))


def _itk_running_mean(pixel: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, float]:
    """ITK's float32 running mean of `pixel` before each voxel (0 before the first), and at the end.

    mu = float(mu (1 - 1/N) + float(pixel / N)) is serial, but it moves at few voxels: those
    where the update reaches half a float32 step. They are found for a stretch of voxels at a
    time, allowing for the mean to move _SLACK_STEPS steps meanwhile, and only they are stepped
    through one by one.
    """
    n = len(pixel)
    share = (pixel / count.astype(np.float32)).astype(np.float64)
    decay = 1.0 - 1.0 / count
    moved_at, values = [0], [0.0]
    mean, i = 0.0, 0
    while i < n:
        stretch = slice(i, min(n, 2 * i + 1024))
        step = float(np.spacing(np.float32(mean))) / 2  # the finer float32 spacing either side
        slack = _SLACK_STEPS * step
        update = np.abs(mean * decay[stretch] + share[stretch] - mean)  # mean + e moves it by e / N
        movers = i + np.flatnonzero(update >= 0.5 * step * (1 - 1e-6) - slack / count[stretch])
        start, i = mean, stretch.stop
        for j, d, s in zip(movers.tolist(), decay[movers].tolist(), share[movers].tolist()):
            new = _to_float32(mean * d + s)
            if new != mean:
                mean = new
                moved_at.append(j + 1)
                values.append(mean)
                if abs(mean - start) >= slack:
                    i = j + 1
                    break
    before = np.asarray(values)[np.searchsorted(np.asarray(moved_at), np.arange(n), side="right") - 1]
    return before, mean
