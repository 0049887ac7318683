"""GLCM features with PyRadiomics' matrix and names, its hot computations done exactly and faster.

PyRadiomics (radiomics.glcm.RadiomicsGLCM) computes most coefficients as sums over the N_g x N_g
x angles matrix with broadcast temporaries of that size, its sum and difference distributions
p_{x+y}, p_{x-y} by a Python loop over k with a boolean mask of the whole matrix each, and the
Maximal Correlation Coefficient by a loop of N_g broadcasts and a general eigensolver (N_g^3 per
angle). Here, over the gray levels present in the region (PyRadiomics' matrix, empty levels
removed):

- MCC: only the second largest eigenvalue, of a symmetric matrix similar to PyRadiomics' Q, by
  Lanczos on the sparse matrix at many gray levels (`deltarad.features.engine.mcc`, which says
  how PyRadiomics' eps is accounted for).
- p_{x+y}, p_{x-y}: one bincount over the matrix indexed by i + j and |i - j|.
- Sums of a function of i alone (or j alone) over p(i, j) as sums over the marginal p_x (p_y):
  mu_x, mu_y, Sum of Squares, the Correlation's sigma_x, sigma_y.
- Sums of a function of i + j or |i - j| over the distributions p_{x+y}, p_{x-y}: Cluster
  Prominence, Shade and Tendency, sum_k p_{x+y}(k) (k - mu_x - mu_y)^n, and Contrast,
  sum_k k^2 p_{x-y}(k).
- Sums of a product f(i) g(j) (Autocorrelation, the Correlation's covariance) as one
  matrix-vector product per angle, sum_i f(i) sum_j p(i, j) g(j), without N_g^2 temporaries.
- IMC1 and IMC2 share p_x p_y and its log2 (the same arithmetic, computed once).

These are the same terms summed in another order (values within ~1e-14 relative; tests/features/
test_engine.py). The matrix (PyRadiomics' C code, empty gray levels and empty angles removed as
it does), the settings and every other feature stay PyRadiomics'. Voxel-based extraction keeps
PyRadiomics' code.
"""
from __future__ import annotations

import logging

import numpy as np
from radiomics.glcm import RadiomicsGLCM

from deltarad.features.engine.mcc import maximal_correlation

__all__ = ["GLCM", "maximal_correlation"]


class GLCM(RadiomicsGLCM):
    """RadiomicsGLCM with the computations above; every other feature is PyRadiomics' method."""

    def __init__(self, inputImage, inputMask, **kwargs):
        super().__init__(inputImage, inputMask, **kwargs)
        self.logger = logging.getLogger(RadiomicsGLCM.__module__)  # PyRadiomics' messages under its logger

    def _calculateCoefficients(self):
        if self.voxelBased:
            return super()._calculateCoefficients()
        P = self.P_glcm  # (1, G, G, angles): G gray levels present in the ROI, probabilities per angle
        Ng = self.coefficients["Ng"]
        eps = np.spacing(1)
        levels = self.coefficients["grayLevels"].astype("float")
        i, j = np.meshgrid(levels, levels, indexing="ij", sparse=True)
        px = P.sum(2, keepdims=True)
        py = P.sum(1, keepdims=True)
        ux = np.sum(levels[None, :, None, None] * px, 1, keepdims=True)  # sum_i i p_x(i): (Nv, 1, 1, angles)
        uy = np.sum(levels[None, None, :, None] * py, 2, keepdims=True)
        self.coefficients.update(
            eps=eps,
            i=i,
            j=j,
            kValuesSum=np.arange(2, (Ng * 2) + 1, dtype="float"),
            kValuesDiff=np.arange(0, Ng, dtype="float"),
            px=px,
            py=py,
            ux=ux,
            uy=uy,
            pxAddy=_distribution_by(P, (i + j).astype(np.intp) - 2, 2 * Ng - 1),
            pxSuby=_distribution_by(P, np.abs(i - j).astype(np.intp), Ng),
            HXY=(-1) * np.sum(P * np.log2(P + eps), (1, 2)),
            levels=levels,
        )

    def _centred(self) -> tuple[np.ndarray, np.ndarray]:
        """(i - mu_x, j - mu_y) per gray level and angle, each (Nv, G, angles)."""
        levels = self.coefficients["levels"][None, :, None]
        return levels - self.coefficients["ux"][:, 0], levels - self.coefficients["uy"][:, 0]

    def _bilinear(self, f: np.ndarray, g: np.ndarray) -> np.ndarray:
        """sum_ij f(i) p(i, j) g(j) per angle, for f, g (Nv, G, angles): (Nv, angles)."""
        rows = np.einsum("vija,vja->via", self.P_glcm, g)  # sum_j p(i, j) g(j), no G x G temporary
        return np.einsum("via,via->va", f, rows)

    def getAutocorrelationFeatureValue(self):
        if self.voxelBased:
            return super().getAutocorrelationFeatureValue()
        levels = np.broadcast_to(self.coefficients["levels"][None, :, None], self.coefficients["px"].shape[:2] + (self.P_glcm.shape[3],))
        return np.nanmean(self._bilinear(levels, levels), 1)

    def getCorrelationFeatureValue(self):
        if self.voxelBased:
            return super().getCorrelationFeatureValue()
        eps = self.coefficients["eps"]
        di, dj = self._centred()
        sigx = np.sum(self.coefficients["px"][:, :, 0] * di ** 2, 1) ** 0.5
        sigy = np.sum(self.coefficients["py"][:, 0] * dj ** 2, 1) ** 0.5
        corr = self._bilinear(di, dj) / (sigx * sigy + eps)
        corr[sigx * sigy == 0] = 1  # PyRadiomics' value where a marginal is flat
        return np.nanmean(corr, 1)

    def getContrastFeatureValue(self):
        if self.voxelBased:
            return super().getContrastFeatureValue()
        k = self.coefficients["kValuesDiff"][None, :, None]
        return np.nanmean(np.sum(self.coefficients["pxSuby"] * k ** 2, 1), 1)

    def getJointEnergyFeatureValue(self):
        if self.voxelBased:
            return super().getJointEnergyFeatureValue()
        return np.nanmean(np.einsum("vija,vija->va", self.P_glcm, self.P_glcm), 1)

    def getSumSquaresFeatureValue(self):
        if self.voxelBased:
            return super().getSumSquaresFeatureValue()
        di, _ = self._centred()
        return np.nanmean(np.sum(self.coefficients["px"][:, :, 0] * di ** 2, 1), 1)

    def _cluster(self, power: int):
        """sum_ij p(i, j) (i + j - mu_x - mu_y)^power = sum_k p_{x+y}(k) (k - mu_x - mu_y)^power."""
        centre = (self.coefficients["ux"] + self.coefficients["uy"])[:, 0]  # (Nv, 1, angles)
        offsets = self.coefficients["kValuesSum"][None, :, None] - centre
        return np.nanmean(np.sum(self.coefficients["pxAddy"] * offsets ** power, 1), 1)

    def getClusterProminenceFeatureValue(self):
        return self._cluster(4) if not self.voxelBased else super().getClusterProminenceFeatureValue()

    def getClusterShadeFeatureValue(self):
        return self._cluster(3) if not self.voxelBased else super().getClusterShadeFeatureValue()

    def getClusterTendencyFeatureValue(self):
        return self._cluster(2) if not self.voxelBased else super().getClusterTendencyFeatureValue()

    def _joint_marginals(self) -> tuple[np.ndarray, np.ndarray]:
        """(p_x(i) p_y(j), log2(p_x(i) p_y(j) + eps)): PyRadiomics computes both in IMC1 and again in IMC2."""
        if "pxpy" not in self.coefficients:
            pxpy = self.coefficients["px"] * self.coefficients["py"]
            self.coefficients["pxpy"] = pxpy, np.log2(pxpy + self.coefficients["eps"])
        return self.coefficients["pxpy"]

    def getImc1FeatureValue(self):
        HXY, eps = self.coefficients["HXY"], self.coefficients["eps"]
        px, py = self.coefficients["px"], self.coefficients["py"]
        HX = (-1) * np.sum((px * np.log2(px + eps)), (1, 2))
        HY = (-1) * np.sum((py * np.log2(py + eps)), (1, 2))
        HXY1 = (-1) * np.sum((self.P_glcm * self._joint_marginals()[1]), (1, 2))
        div = np.fmax(HX, HY)
        imc1 = HXY - HXY1
        imc1[div != 0] /= div[div != 0]
        imc1[div == 0] = 0  # PyRadiomics' value where both marginal entropies are 0 (flat region)
        return np.nanmean(imc1, 1)

    def getImc2FeatureValue(self):
        HXY = self.coefficients["HXY"]
        pxpy, log_pxpy = self._joint_marginals()
        HXY2 = (-1) * np.sum((pxpy * log_pxpy), (1, 2))
        imc2 = (1 - np.e ** (-2 * (HXY2 - HXY))) ** 0.5
        imc2[HXY2 == HXY] = 0
        return np.nanmean(imc2, 1)

    def getMCCFeatureValue(self):
        P = self.P_glcm
        if self.voxelBased or not np.all(np.isfinite(P)):
            return super().getMCCFeatureValue()
        if P.shape[1] < 2:
            return 1  # flat region: one gray level, one eigenvalue (PyRadiomics' value)
        return np.nanmean(maximal_correlation(P.transpose(0, 3, 1, 2)), 1)


def _distribution_by(P: np.ndarray, index: np.ndarray, bins: int) -> np.ndarray:
    """sum of P[v, i, j, a] over (i, j) with index[i, j] == k, as an array (v, k, a)."""
    nv, _, _, na = P.shape
    flat = (np.arange(nv)[:, None, None, None] * bins + index[None, :, :, None]) * na + np.arange(na)
    sums = np.bincount(flat.ravel(), weights=P.ravel(), minlength=nv * bins * na)
    return sums.reshape(nv, bins, na)
