"""GLCM features with PyRadiomics' matrix and names, its hot computations done exactly and faster.

PyRadiomics (radiomics.glcm.RadiomicsGLCM) forms the Maximal Correlation Coefficient's
Q(i, j) = sum_k p(i, k) p(j, k) / (p_x(i) p_y(k)) by a Python loop over k of N_g x N_g x angles
broadcasts, then solves a general eigenvalue problem per angle; its sum and difference
distributions p_{x+y}, p_{x-y} loop over k with a boolean mask of the whole matrix each. Here:

- MCC: Q = D_x^-1 P D_y^-1 P^T is similar to the symmetric S = M M^T with
  M = D_x^-1/2 P D_y^-1/2 (S = D_x^1/2 Q D_x^-1/2), so Q's eigenvalues are those of S, found by
  numpy.linalg.eigh for all angles at once. A gray level absent along an angle (p_x(i) = 0)
  gives a zero row of Q and of S alike (eigenvalue 0). PyRadiomics adds eps = 2.2e-16 to the
  denominator p_x(i) p_y(k); that moves its MCC by up to ~2e-9 from the eps-free value (checked
  against 40-digit arithmetic), so its shift is added to first order (`maximal_correlation`).
- p_{x+y}, p_{x-y}: one bincount over the matrix indexed by i + j and |i - j| (the same sums,
  another order).
- Cluster Prominence, Shade and Tendency, sum_ij p(i, j) (i + j - mu_x - mu_y)^n, as
  sum_k p_{x+y}(k) (k - mu_x - mu_y)^n: the same terms grouped by k = i + j first, 2 N_g powers
  instead of N_g^2 per angle.
- IMC1 and IMC2 share p_x p_y and its log2 (the same arithmetic, computed once).

The matrix (PyRadiomics' C code, empty gray levels and empty angles removed as it does), the
settings and every other feature stay PyRadiomics'. Voxel-based extraction keeps PyRadiomics' code.
"""
from __future__ import annotations

import logging

import numpy as np

from deltarad.features.pyradiomics import RadiomicsGLCM


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
        ux = np.sum(i[None, :, :, None] * P, (1, 2), keepdims=True)
        uy = np.sum(j[None, :, :, None] * P, (1, 2), keepdims=True)
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
        )

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


def maximal_correlation(P: np.ndarray, eps: float = float(np.spacing(1))) -> np.ndarray:
    """PyRadiomics' MCC per matrix of a stack P (..., G, G) of normalised co-occurrence matrices,
    G >= 2: the square root of the second largest eigenvalue of
    Q_eps(i, j) = sum_k p(i, k) p(j, k) / (p_x(i) p_y(k) + eps).

    Q_0 = D_x^-1 P D_y^-1 P^T has the eigenvalues of the symmetric S = M M^T, M = D_x^-1/2 P D_y^-1/2
    (S = D_x^1/2 Q_0 D_x^-1/2). PyRadiomics' eps shifts them by up to ~1e-9 where p_x p_y is small;
    that shift is added to first order, dS = D_x^1/2 (Q_eps - Q_0) D_x^-1/2 projected on the
    eigenvectors of the top eigenvalues (those within reach of the shift, so that a repeated
    eigenvalue, e.g. 1 twice for a matrix of two disconnected blocks, splits as it does in Q_eps);
    the second order, |dS|^2 / gap, is below rounding.
    """
    px, py = P.sum(-1), P.sum(-2)
    rx = np.divide(1.0, np.sqrt(px), out=np.zeros_like(px), where=px > 0)
    ry = np.divide(1.0, np.sqrt(py), out=np.zeros_like(py), where=py > 0)
    M = P * rx[..., :, None] * ry[..., None, :]
    w, V = np.linalg.eigh(M @ np.swapaxes(M, -1, -2))
    pp = px[..., :, None] * py[..., None, :]
    shift = np.divide(-eps, pp * (pp + eps), out=np.zeros_like(pp), where=pp > 0)  # 1/(pp + eps) - 1/pp
    dS = ((P * shift) @ np.swapaxes(P, -1, -2)) * np.sqrt(px)[..., :, None] * rx[..., None, :]
    reach = 4 * np.maximum(np.abs(dS).sum(-1).max(-1), np.abs(dS).sum(-2).max(-1)) + 1e-15
    second = np.empty(w.shape[:-1])
    for m in np.ndindex(second.shape):
        top = w[m] >= w[m][-2] - reach[m]
        Vt = V[m][:, top]
        local = np.diag(w[m][top]) + Vt.T @ dS[m] @ Vt
        second[m] = np.sort(np.linalg.eigvals(local).real)[-2]
    return np.sqrt(np.clip(second, 0.0, None))  # rounding can leave a zero eigenvalue at -1e-17


def _distribution_by(P: np.ndarray, index: np.ndarray, bins: int) -> np.ndarray:
    """sum of P[v, i, j, a] over (i, j) with index[i, j] == k, as an array (v, k, a)."""
    nv, _, _, na = P.shape
    flat = (np.arange(nv)[:, None, None, None] * bins + index[None, :, :, None]) * na + np.arange(na)
    sums = np.bincount(flat.ravel(), weights=P.ravel(), minlength=nv * bins * na)
    return sums.reshape(nv, bins, na)
