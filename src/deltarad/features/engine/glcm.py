"""GLCM features with PyRadiomics' matrix and names, its hot computations done exactly and faster.

PyRadiomics (radiomics.glcm.RadiomicsGLCM) computes most coefficients as sums over the N_g x N_g
x angles matrix with broadcast temporaries of that size, its sum and difference distributions
p_{x+y}, p_{x-y} by a Python loop over k with a boolean mask of the whole matrix each, and the
Maximal Correlation Coefficient by a loop of N_g broadcasts and a general eigensolver (N_g^3 per
angle); its C code fills an N_g x N_g x angles matrix before the empty gray levels are removed.
Here the matrix is counted as its non-zero entries (a co-occurrence matrix of a region of N voxels
has at most 2 N per angle, against N_g^2 cells), and everything is computed from them:

- the matrix: per angle, the pairs (voxel, voxel + offset) inside the region, counted by level
  index (np.bincount, or np.unique where angles x G^2 is large), at PyRadiomics' offsets (its C code's, asked for them) and with its
  conventions (P(i, j): level i at the voxel, j at the voxel + offset; symmetrical: P + P^T;
  weighting, empty angles removed, normalised per angle by the same integer sums). The dense
  P_glcm of the gray levels present is filled from the entries when asked for.
- MCC: only the second largest eigenvalue, of a symmetric matrix similar to PyRadiomics' Q, by
  Lanczos on the sparse matrix at many gray levels (`deltarad.features.engine.mcc`, which says
  how PyRadiomics' eps is accounted for).
- p_{x+y}, p_{x-y}: one bincount over the matrix indexed by i + j and |i - j|.
- Sums of a function of i alone (or j alone) over p(i, j) as sums over the marginal p_x (p_y):
  mu_x, mu_y, Sum of Squares, the Correlation's sigma_x, sigma_y.
- Sums of a function of i + j or |i - j| over the distributions p_{x+y}, p_{x-y}: Cluster
  Prominence, Shade and Tendency, sum_k p_{x+y}(k) (k - mu_x - mu_y)^n, and Contrast,
  sum_k k^2 p_{x-y}(k).
- Sums over p(i, j) (Autocorrelation, the Correlation's covariance, joint entropy, energy and
  maximum, IMC1's HXY1) over the non-zero entries only (the zero ones add 0).
- IMC2's HXY2 = -sum_ij p_x(i) p_y(j) log2(p_x(i) p_y(j) + eps), which PyRadiomics sums over all
  N_g^2 cells, as HX + HY - n eps / ln 2, with HX = -sum p_x log2 p_x over the levels present
  along the angle and n the number of (i, j) with p_x(i) p_y(j) > 0 (log2(a + eps) = log2 a +
  eps / (a ln 2) + O(eps^2 / a^2), and sum_j p_y(j) = 1): not the same arithmetic; it differs
  from PyRadiomics' sum by rounding (~1e-15 of HXY2) and by the neglected eps^2 terms (< 1e-20).

These are the same terms summed in another order (tests/features/test_engine.py: 1e-9 relative
asserted), but for HXY2 as said. The settings and every other feature (those of p_{x+y} and
p_{x-y}, the deprecated ones) stay PyRadiomics' methods. Voxel-based extraction keeps PyRadiomics'
code.
"""

from __future__ import annotations

import logging

import numpy as np

from deltarad.features.engine.mcc import (
    maximal_correlation,
    maximal_correlation_of_entries,
)
from deltarad.features.pyradiomics import RadiomicsGLCM, cMatrices

__all__ = ["GLCM", "maximal_correlation"]


class GLCM(RadiomicsGLCM):
    """RadiomicsGLCM with the computations above; every other feature is PyRadiomics' method."""

    _P_glcm: np.ndarray | None

    def __init__(self, inputImage, inputMask, **kwargs):
        super().__init__(inputImage, inputMask, **kwargs)
        self.logger = logging.getLogger(RadiomicsGLCM.__module__)  # PyRadiomics' messages under its logger

    # ------------------------------------------------------------------ the matrix, as its entries

    def _offsets(self) -> np.ndarray:
        """PyRadiomics' offsets (angles x distances, array axis order), from its C code run on an empty region."""
        _, angles = cMatrices.calculate_glcm(
            self.imageArray,
            np.zeros_like(self.maskArray),
            np.array(self.settings.get("distances", [1])),
            1,
            self.settings.get("force2D", False),
            self.settings.get("force2Ddimension", 0),
        )
        return angles

    @property
    def P_glcm(self) -> np.ndarray | None:
        """PyRadiomics' matrix (Nv, G, G, angles); in segment-based extraction filled from the
        entries when first asked for (no feature of this class needs it)."""
        if self._P_glcm is None and getattr(self, "_entries", None) is not None:
            self._P_glcm = self._dense()
        return self._P_glcm

    @P_glcm.setter
    def P_glcm(self, value: np.ndarray | None) -> None:
        self._P_glcm = value

    def _initCalculation(self, voxelCoordinates=None):
        if self.voxelBased:
            return super()._initCalculation(voxelCoordinates)
        self._P_glcm = None
        self._entries = self._count_entries()
        self._calculateCoefficients()

    def _dense(self) -> np.ndarray:
        a, i, j, p, n_angles = self._entries
        P = np.zeros((1, len(self.coefficients["grayLevels"]), len(self.coefficients["grayLevels"]), n_angles))
        P[0, i, j, a] = p
        if self._empty:
            P[:] = np.nan  # PyRadiomics' matrix of a region without a pair
        return P

    def _count_entries(self) -> tuple:
        """The normalised matrix's non-zero entries: (angle, i, j, p, angles), i and j indices of
        the gray levels present."""
        levels = self.coefficients["grayLevels"]
        G = len(levels)
        lookup = np.full(int(self.coefficients["Ng"]) + 2, -1, np.int64)
        lookup[levels] = np.arange(G)
        binned = np.where(self.maskArray, np.clip(self.imageArray, 0, lookup.size - 1), lookup.size - 1)
        index = lookup[binned]  # level index inside the region, -1 outside
        offsets = self._offsets()
        keys = []
        for angle, offset in enumerate(offsets):
            # voxels x and x + offset both in the box (none where the offset exceeds the box)
            here = tuple(slice(max(0, -o), max(0, n - max(0, o))) for o, n in zip(offset, index.shape))
            there = tuple(slice(max(0, o), max(0, n - max(0, -o))) for o, n in zip(offset, index.shape))
            i, j = index[here], index[there]
            both = (i >= 0) & (j >= 0)
            i, j = i[both], j[both]
            keys.append((angle * G + i) * G + j)
            if self.symmetricalGLCM:
                keys.append((angle * G + j) * G + i)
        key, count = _count(np.concatenate(keys), len(offsets) * G * G)
        a, i, j = key // (G * G), (key // G) % G, key % G
        value: np.ndarray = count.astype(np.float64)
        n_angles = len(offsets)
        if self.weightingNorm is not None:
            value = value * self._weights(offsets)[a]
            pair, position = np.unique(i * G + j, return_inverse=True)
            value = np.bincount(position, weights=value)
            a, i, j, n_angles = np.zeros(len(pair), np.int64), pair // G, pair % G, 1
        sums = np.bincount(a, weights=value, minlength=n_angles)
        kept = np.flatnonzero(sums > 0) if n_angles > 1 else np.arange(n_angles)  # empty angles removed
        renumber = np.full(n_angles, -1)
        renumber[kept] = np.arange(len(kept))
        p = value / sums[a]
        self._empty = not len(kept) or (n_angles == 1 and sums[0] == 0)
        return renumber[a], i, j, p, len(kept)

    def _weights(self, offsets: np.ndarray) -> np.ndarray:
        """PyRadiomics' distance weights per offset (weightingNorm)."""
        spacing = np.array(self.inputImage.GetSpacing()[::-1])
        weights = np.empty(len(offsets))
        for n, offset in enumerate(offsets):
            if self.weightingNorm == "infinity":
                weights[n] = np.exp(-(max(np.abs(offset) * spacing) ** 2))
            elif self.weightingNorm == "euclidean":
                weights[n] = np.exp(-np.sum((np.abs(offset) * spacing) ** 2))
            elif self.weightingNorm == "manhattan":
                weights[n] = np.exp(-(np.sum(np.abs(offset) * spacing) ** 2))
            elif self.weightingNorm == "no_weighting":
                weights[n] = 1
            else:
                self.logger.warning('weigthing norm "%s" is unknown, W is set to 1', self.weightingNorm)
                weights[n] = 1
        return weights

    def _per_angle(self, values: np.ndarray) -> np.ndarray:
        """sum over the non-zero entries of `values` (one per entry) per angle: (1, angles)."""
        a, _, _, _, n_angles = self._entries
        return np.bincount(a, weights=values, minlength=n_angles)[None]

    def _calculateCoefficients(self):
        if self.voxelBased:
            return super()._calculateCoefficients()
        a, i, j, p, A = self._entries
        G = len(self.coefficients["grayLevels"])
        Ng = self.coefficients["Ng"]
        eps = np.spacing(1)
        levels = self.coefficients["grayLevels"].astype("float")
        li, lj = levels[i], levels[j]
        px = np.bincount(i * A + a, weights=p, minlength=G * A).reshape(1, G, 1, A)
        py = np.bincount(j * A + a, weights=p, minlength=G * A).reshape(1, 1, G, A)
        ux = np.sum(levels[None, :, None, None] * px, 1, keepdims=True)  # sum_i i p_x(i): (Nv, 1, 1, angles)
        uy = np.sum(levels[None, None, :, None] * py, 2, keepdims=True)
        grid_i, grid_j = np.meshgrid(levels, levels, indexing="ij", sparse=True)
        by_sum = (li + lj - 2).astype(np.intp) * A + a
        by_difference = np.abs(li - lj).astype(np.intp) * A + a
        self.coefficients.update(
            eps=eps,
            i=grid_i,
            j=grid_j,
            kValuesSum=np.arange(2, (Ng * 2) + 1, dtype="float"),
            kValuesDiff=np.arange(0, Ng, dtype="float"),
            px=px,
            py=py,
            ux=ux,
            uy=uy,
            pxAddy=np.bincount(by_sum, weights=p, minlength=(2 * Ng - 1) * A).reshape(1, 2 * Ng - 1, A),
            pxSuby=np.bincount(by_difference, weights=p, minlength=Ng * A).reshape(1, Ng, A),
            HXY=(-1) * self._per_angle(p * np.log2(p + eps)),
            levels=levels,
        )

    # ------------------------------------------------------------------ features

    def _cluster(self, power: int):
        """sum_ij p(i, j) (i + j - mu_x - mu_y)^power = sum_k p_{x+y}(k) (k - mu_x - mu_y)^power."""
        centre = (self.coefficients["ux"] + self.coefficients["uy"])[:, 0]  # (Nv, 1, angles)
        offsets = self.coefficients["kValuesSum"][None, :, None] - centre
        return np.nanmean(np.sum(self.coefficients["pxAddy"] * offsets**power, 1), 1)

    def getClusterProminenceFeatureValue(self):
        return self._cluster(4) if not self.voxelBased else super().getClusterProminenceFeatureValue()

    def getClusterShadeFeatureValue(self):
        return self._cluster(3) if not self.voxelBased else super().getClusterShadeFeatureValue()

    def getClusterTendencyFeatureValue(self):
        return self._cluster(2) if not self.voxelBased else super().getClusterTendencyFeatureValue()

    def _centred(self) -> tuple[np.ndarray, np.ndarray]:
        """(i - mu_x, j - mu_y) at each entry (the angle's means)."""
        a, i, j, _, _ = self._entries
        levels = self.coefficients["levels"]
        return levels[i] - self.coefficients["ux"][0, 0, 0, a], levels[j] - self.coefficients["uy"][0, 0, 0, a]

    def getAutocorrelationFeatureValue(self):
        if self.voxelBased:
            return super().getAutocorrelationFeatureValue()
        _, i, j, p, _ = self._entries
        levels = self.coefficients["levels"]
        return np.nanmean(self._per_angle(p * levels[i] * levels[j]), 1)

    def _variance_x(self) -> np.ndarray:
        """sum_i p_x(i) (i - mu_x)^2 per angle (Nv, angles)."""
        di = self.coefficients["levels"][None, :, None] - self.coefficients["ux"][:, 0]
        return np.sum(self.coefficients["px"][:, :, 0] * di**2, 1)

    def getCorrelationFeatureValue(self):
        if self.voxelBased:
            return super().getCorrelationFeatureValue()
        eps = self.coefficients["eps"]
        dj = self.coefficients["levels"][None, :, None] - self.coefficients["uy"][:, 0]
        sigx = self._variance_x() ** 0.5
        sigy = np.sum(self.coefficients["py"][:, 0] * dj**2, 1) ** 0.5
        di_entries, dj_entries = self._centred()
        corr = self._per_angle(self._entries[3] * di_entries * dj_entries) / (sigx * sigy + eps)
        corr[sigx * sigy == 0] = 1  # PyRadiomics' value where a marginal is flat
        return np.nanmean(corr, 1)

    def getContrastFeatureValue(self):
        if self.voxelBased:
            return super().getContrastFeatureValue()
        k = self.coefficients["kValuesDiff"][None, :, None]
        return np.nanmean(np.sum(self.coefficients["pxSuby"] * k**2, 1), 1)

    def getJointEnergyFeatureValue(self):
        if self.voxelBased:
            return super().getJointEnergyFeatureValue()
        p = self._entries[3]
        return np.nanmean(self._per_angle(p * p), 1)

    def getMaximumProbabilityFeatureValue(self):
        if self.voxelBased:
            return super().getMaximumProbabilityFeatureValue()
        a, _, _, p, A = self._entries
        largest = np.zeros(A)
        np.maximum.at(largest, a, p)
        return np.nanmean(largest[None], 1)

    def getSumSquaresFeatureValue(self):
        if self.voxelBased:
            return super().getSumSquaresFeatureValue()
        return np.nanmean(self._variance_x(), 1)

    def _marginal_entropies(self) -> tuple[np.ndarray, np.ndarray]:
        """(HX, HY) per angle, with PyRadiomics' eps: -sum p_x log2(p_x + eps)."""
        eps, px, py = self.coefficients["eps"], self.coefficients["px"], self.coefficients["py"]
        return (-1) * np.sum(px * np.log2(px + eps), (1, 2)), (-1) * np.sum(py * np.log2(py + eps), (1, 2))

    def getImc1FeatureValue(self):
        if self.voxelBased:
            return super().getImc1FeatureValue()
        HXY, eps = self.coefficients["HXY"], self.coefficients["eps"]
        a, i, j, p, _ = self._entries
        HX, HY = self._marginal_entropies()
        pxpy = self.coefficients["px"][0, i, 0, a] * self.coefficients["py"][0, 0, j, a]
        HXY1 = (-1) * self._per_angle(p * np.log2(pxpy + eps))
        div = np.fmax(HX, HY)
        imc1 = HXY - HXY1
        imc1[div != 0] /= div[div != 0]
        imc1[div == 0] = 0  # PyRadiomics' value where both marginal entropies are 0 (flat region)
        return np.nanmean(imc1, 1)

    def getImc2FeatureValue(self):
        if self.voxelBased:
            return super().getImc2FeatureValue()
        HXY, eps = self.coefficients["HXY"], self.coefficients["eps"]
        px, py = self.coefficients["px"][:, :, 0], self.coefficients["py"][:, 0]  # (Nv, G, angles)
        pairs = np.count_nonzero(px > 0, 1) * np.count_nonzero(py > 0, 1)
        HXY2 = _entropy(px) + _entropy(py) - pairs * eps / np.log(2)
        imc2 = (1 - np.e ** (-2 * (HXY2 - HXY))) ** 0.5
        imc2[HXY2 == HXY] = 0
        return np.nanmean(imc2, 1)

    def getMCCFeatureValue(self):
        if self.voxelBased or self._empty:
            return super().getMCCFeatureValue()
        G = len(self.coefficients["grayLevels"])
        if G < 2:
            return 1  # flat region: one gray level, one eigenvalue (PyRadiomics' value)
        a, i, j, p, A = self._entries
        return np.nanmean(maximal_correlation_of_entries(a, i, j, p, A, G)[None], 1)


def _entropy(q: np.ndarray) -> np.ndarray:
    """-sum q log2 q over axis 1, over the entries q > 0 (Nv, G, angles) -> (Nv, angles)."""
    return (-1) * np.sum(q * np.log2(np.where(q > 0, q, 1.0)), 1)


#: Most cells (angles x G x G) counted by np.bincount; above, by sorting the pairs (np.unique).
BINCOUNT_CELLS = 1 << 22


def _count(keys: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct keys in increasing order, how often each occurs), keys in [0, cells)."""
    if cells <= BINCOUNT_CELLS:
        counts = np.bincount(keys, minlength=cells)
        key = np.flatnonzero(counts)
        return key, counts[key]
    return np.unique(keys, return_counts=True)
