"""The GLCM's Maximal Correlation Coefficient as PyRadiomics defines it, at any number of gray levels.

PyRadiomics (radiomics.glcm.RadiomicsGLCM.getMCCFeatureValue) forms, per angle,
Q_eps(i, j) = sum_k p(i, k) p(j, k) / (p_x(i) p_y(k) + eps), eps = 2.2e-16, by N_g broadcasts of
N_g x N_g, and takes the square root of the second largest eigenvalue of a general eigensolver.

Here Q_0 = D_x^-1 P D_y^-1 P^T (Q_eps without eps) is similar to the symmetric S = M M^T,
M = D_x^-1/2 P D_y^-1/2 (S = D_x^1/2 Q_0 D_x^-1/2). Its largest eigenvalue is 1, with eigenvector
u = sqrt(p_x) (S u = D_x^-1/2 P D_y^-1 p_y = D_x^-1/2 p_x = u), so only the second is sought:

- up to DENSE_LEVELS gray levels present along an angle, by a dense symmetric eigensolver
  (`dense_second_eigenvalue`);
- above, as the largest eigenvalue of S restricted to u's orthogonal complement, by Lanczos with
  full reorthogonalisation on a sparse M (`lanczos_second_eigenvalue`): a matrix-vector product
  costs the co-occurrence matrix's non-zero entries, not N_g^2, and tens of steps replace the
  N_g^3 reduction of a dense eigensolver. It stops when the Ritz value's residual r is under
  LANCZOS_RESIDUAL (the eigenvalue is then within r of S's) or r^2 / gap under KATO_TEMPLE (the
  Kato-Temple bound); an angle that does not converge, or whose second eigenvalue is near 1 or near
  the next one (a repeated eigenvalue, which eps splits), or tiny (where an absolute error of
  1e-13 would be a large relative one), goes to the dense solver.

Matrices whose gray levels fall apart into groups that never co-occur (eigenvalue 1 once per
group: common at hundreds of levels, where a few rare levels neighbour only each other along an
angle) are solved per group (`split_second_eigenvalue`) before either solver.

Gray levels absent along an angle (p_x(i) = 0) give zero rows of Q and S alike (eigenvalue 0);
the Krylov space never reaches them.

PyRadiomics' eps moves its eigenvalues by up to ~2e-9 where p_x p_y is small (checked against
40-digit arithmetic); that shift is added to first order: d lambda = l^T (Q_eps - Q_0) r with
r = D_x^-1/2 v and l = D_x^1/2 v the right and left eigenvectors of Q_0 (v: S's eigenvector), the
same products over the non-zero entries of P. The second order, |dS|^2 / gap, is below rounding
once the gap exceeds SPLIT_GAP.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

#: Gray levels present along an angle up to which the dense eigensolver is used.
DENSE_LEVELS = 64
#: Lanczos stops when every angle's Ritz residual |beta_k y_k| is under this (S's norm is 1).
LANCZOS_RESIDUAL = 1e-13
#: ... or when residual^2 / gap is under this: the Kato-Temple bound on the Ritz value's error,
#: with the gap to the next Ritz value (which the true gap may undercut: a margin of 10 to 1e-15).
KATO_TEMPLE = 1e-16
#: Share of noise in the Lanczos start vector.
START_NOISE = 0.1
#: Most Lanczos steps before an angle goes to the dense solver.
LANCZOS_MAX_STEPS = 240
#: A second eigenvalue within this of 1 or of the third goes to the dense solver (eps splits
#: repeated eigenvalues, which first-order perturbation of one eigenvector does not follow).
SPLIT_GAP = 1e-6
#: A second eigenvalue under this goes to the dense solver (absolute errors of ~1e-13 would
#: exceed 1e-9 of it).
SMALLEST_LANCZOS_EIGENVALUE = 1e-4
EPS = float(np.spacing(1))


def maximal_correlation(P: np.ndarray, eps: float = EPS) -> np.ndarray:
    """PyRadiomics' MCC per matrix of a stack P (..., G, G) of normalised co-occurrence matrices,
    G >= 2: the square root of the second largest eigenvalue of Q_eps."""
    stack = P.reshape(-1, *P.shape[-2:])
    m, i, j = np.nonzero(stack)
    return maximal_correlation_of_entries(m, i, j, stack[m, i, j], len(stack), stack.shape[-1], eps).reshape(
        P.shape[:-2]
    )


def maximal_correlation_of_entries(
    m: np.ndarray, i: np.ndarray, j: np.ndarray, p: np.ndarray, n: int, G: int, eps: float = EPS
) -> np.ndarray:
    """`maximal_correlation` of n matrices G x G given by their non-zero entries p at (m, i, j)."""
    px = np.bincount(m * G + i, weights=p, minlength=n * G).reshape(n, G)
    present = np.count_nonzero(px > 0, axis=-1)
    second = np.zeros(n)
    large = np.flatnonzero(present > DENSE_LEVELS)
    dense = np.flatnonzero((present > 1) & (present <= DENSE_LEVELS))
    if large.size:
        split, values = split_second_eigenvalue(_select(m, i, j, p, large), len(large), G, eps)
        second[large[split]] = values[split]
        large = large[~split]
    if large.size:
        values, converged = lanczos_second_eigenvalue(_select(m, i, j, p, large), len(large), G, eps)
        second[large[converged]] = values[converged]
        dense = np.concatenate([dense, large[~converged]])
    if dense.size:
        picked, ii, jj, pp = _select(m, i, j, p, dense)
        stack = np.zeros((len(dense), G, G))
        stack[picked, ii, jj] = pp
        second[dense] = dense_second_eigenvalue(stack, eps)
    # a single level along an angle: Q is one 1 and zeros (second eigenvalue 0)
    return np.sqrt(np.clip(second, 0.0, None))  # rounding can leave -1e-17


def split_second_eigenvalue(entries: tuple, n: int, G: int, eps: float = EPS) -> tuple[np.ndarray, np.ndarray]:
    """(split, second largest eigenvalue of Q_eps) per matrix of n G x G ones given by their
    non-zero entries (m, i, j, p), for the matrices whose gray levels fall apart into c >= 2
    groups that never co-occur (split; the value is meaningless elsewhere).

    S is then block diagonal, one block per group, each with eigenvalue 1 for the eigenvector
    v_C = sqrt(p_x) on the group's levels (normalised); eps's shift dS is block diagonal too
    (P o shift has P's non-zero pattern), so each 1 moves by v_C^T dS v_C on its own, and the
    second largest eigenvalue of Q_eps is 1 plus the second largest of these shifts (the blocks'
    other eigenvalues are below 1 by far more than a shift of ~1e-9)."""
    m, i, j, p = entries
    px = np.bincount(m * G + i, weights=p, minlength=n * G).reshape(n, G)
    py = np.bincount(m * G + j, weights=p, minlength=n * G).reshape(n, G)
    rows, columns = m * G + i, n * G + m * G + j  # bipartite graph: level i along the angle, level k beside it
    graph = sparse.csr_matrix((np.ones(len(p)), (rows, columns)), shape=(2 * n * G, 2 * n * G))
    _, label = connected_components(graph, directed=False)
    present = np.flatnonzero(px.ravel() > 0)
    groups, group = np.unique(label[present], return_inverse=True)  # group of each present (matrix, level)
    owner = present // G
    count = np.bincount(owner[np.unique(group, return_index=True)[1]], minlength=n)
    split = count >= 2
    second = np.full(n, np.nan)
    if not split.any():
        return split, second
    # v_C for every group: sqrt(p_x) on its levels / sqrt(sum of p_x over them)
    mass = np.bincount(group, weights=px.ravel()[present])
    V = sparse.csr_matrix((np.sqrt(px.ravel()[present] / mass[group]), (present, group)), shape=(n * G, len(groups)))
    rx = np.divide(1.0, np.sqrt(px), out=np.zeros_like(px), where=px > 0).ravel()
    pp = px[m, i] * py[m, j]
    shifted = sparse.csr_matrix((p * (-eps / (pp * (pp + eps))), (m * G + i, m * G + j)), shape=(n * G, n * G))
    P_t = sparse.csr_matrix((p, (m * G + j, m * G + i)), shape=(n * G, n * G))
    left = sparse.diags(np.sqrt(px.ravel())) @ V
    right = P_t @ (sparse.diags(rx) @ V)
    shift = np.asarray((left.multiply(shifted @ right)).sum(0)).ravel()  # v_C^T dS v_C per group
    for a in np.flatnonzero(split):
        second[a] = 1.0 + np.sort(shift[np.unique(group[owner == a])])[-2]
    return split, second


def _select(m, i, j, p, chosen: np.ndarray):
    """The entries of the matrices `chosen`, renumbered 0..len(chosen) - 1."""
    renumber = np.full(int(m.max()) + 1 if m.size else 1, -1)
    renumber[chosen] = np.arange(len(chosen))
    keep = renumber[m] >= 0
    return renumber[m[keep]], i[keep], j[keep], p[keep]


def _marginals(P: np.ndarray):
    px, py = P.sum(-1), P.sum(-2)
    rx = np.divide(1.0, np.sqrt(px), out=np.zeros_like(px), where=px > 0)
    ry = np.divide(1.0, np.sqrt(py), out=np.zeros_like(py), where=py > 0)
    return px, py, rx, ry


def dense_second_eigenvalue(P: np.ndarray, eps: float = EPS) -> np.ndarray:
    """The second largest eigenvalue of Q_eps per matrix of P (n, G, G), from all eigenpairs of S
    (of M where every P is symmetric, the default GLCM: S = M^2, eigenvalues mu^2).

    The eps shift dS = D_x^1/2 (Q_eps - Q_0) D_x^-1/2 is projected on the eigenvectors of the top
    eigenvalues (those within reach of the shift, so that a repeated eigenvalue, e.g. 1 twice for
    a matrix of two disconnected blocks, splits as it does in Q_eps), by matrix-vector products:
    dS itself is never formed."""
    px, py, rx, ry = _marginals(P)
    M = P * rx[..., :, None] * ry[..., None, :]
    Pt = np.swapaxes(P, -1, -2)
    if np.array_equal(P, Pt):
        mu, V = np.linalg.eigh(M)
        order = np.argsort(mu * mu, -1)
        w, V = np.take_along_axis(mu * mu, order, -1), np.take_along_axis(V, order[..., None, :], -1)
    else:
        w, V = np.linalg.eigh(M @ np.swapaxes(M, -1, -2))
    pp = px[..., :, None] * py[..., None, :]
    shifted = P * np.divide(-eps, pp * (pp + eps), out=np.zeros_like(pp), where=pp > 0)  # P o (1/(pp + eps) - 1/pp)
    root = np.sqrt(px)
    rows = root * (np.abs(shifted) @ (Pt @ rx[..., None]))[..., 0]  # row sums of |dS|
    columns = rx * (P @ (np.swapaxes(np.abs(shifted), -1, -2) @ root[..., None]))[..., 0]  # column sums
    reach = 4 * np.maximum(rows.max(-1), columns.max(-1)) + 1e-15
    second = np.empty(len(P))
    for m in range(len(P)):
        top = w[m] >= w[m][-2] - reach[m]
        Vt = V[m][:, top]
        local = np.diag(w[m][top]) + (root[m][:, None] * Vt).T @ shifted[m] @ (Pt[m] @ (rx[m][:, None] * Vt))
        second[m] = np.sort(np.linalg.eigvals(local).real)[-2]
    return second


def lanczos_second_eigenvalue(entries: tuple, n: int, G: int, eps: float = EPS) -> tuple[np.ndarray, np.ndarray]:
    """(second largest eigenvalue of Q_eps, converged) per matrix of n G x G ones given by their
    non-zero entries (m, i, j, p); where not converged (module docstring) the value is
    meaningless and the dense solver is to be used."""
    m, i, j, p = entries
    px = np.bincount(m * G + i, weights=p, minlength=n * G).reshape(n, G)
    py = np.bincount(m * G + j, weights=p, minlength=n * G).reshape(n, G)
    rx = np.divide(1.0, np.sqrt(px), out=np.zeros_like(px), where=px > 0)
    ry = np.divide(1.0, np.sqrt(py), out=np.zeros_like(py), where=py > 0)
    shape = (n * G, n * G)
    M = sparse.csr_matrix((p * rx[m, i] * ry[m, j], (m * G + i, m * G + j)), shape=shape)
    Mt = M.T.tocsr()
    u = np.sqrt(px)

    def S_deflated(x: np.ndarray) -> np.ndarray:
        y = (M @ (Mt @ x.ravel())).reshape(n, G)
        return y - u * np.sum(u * x, -1, keepdims=True)

    steps = min(LANCZOS_MAX_STEPS, G)
    Q = np.zeros((n, steps + 1, G))
    alpha, beta = np.zeros((n, steps)), np.zeros((n, steps))
    # start: sqrt(p_x) times the centred level index (the second eigenvector's shape in a smooth
    # texture, where level i co-occurs mostly with its neighbours), with some noise so that no
    # eigenvector is missed by symmetry; the noise has its own generator (no global state)
    centred = (np.arange(G) - np.sum(np.arange(G) * px, -1, keepdims=True)) * u
    noise = np.random.default_rng(0).standard_normal((n, G)) * (px > 0)
    q = centred / np.linalg.norm(centred, axis=-1, keepdims=True) + START_NOISE * noise / np.sqrt(G)
    q -= u * np.sum(u * q, -1, keepdims=True)
    Q[:, 0] = q / np.linalg.norm(q, axis=-1, keepdims=True)
    for k in range(steps):
        w = S_deflated(Q[:, k])
        alpha[:, k] = np.sum(w * Q[:, k], -1)
        basis = Q[:, : k + 1]
        for _ in range(2):  # full reorthogonalisation, twice ("twice is enough")
            w -= (np.matmul(basis, w[:, :, None]).transpose(0, 2, 1) @ basis)[:, 0]
            w -= u * np.sum(u * w, -1, keepdims=True)
        b = np.linalg.norm(w, axis=-1)
        exhausted = b <= 1e-14  # the Krylov space is invariant: its Ritz values are exact
        beta[:, k] = np.where(exhausted, 0.0, b)
        Q[:, k + 1] = np.where(exhausted[:, None], 0.0, w / np.where(exhausted, 1.0, b)[:, None])
        if k + 1 == steps or (k + 1 >= 16 and (k + 1) % 8 == 0) or exhausted.all():
            ritz, Y = np.linalg.eigh(_tridiagonal(alpha[:, : k + 1], beta[:, :k]))
            residual = np.abs(beta[:, k] * Y[:, -1, -1])
            gap = ritz[:, -1] - ritz[:, -2] if k else np.zeros(n)
            if np.all((residual <= LANCZOS_RESIDUAL) | (residual**2 <= KATO_TEMPLE * gap)):
                break
    size = k + 1
    theta = ritz[:, -1]
    third = ritz[:, -2] if size > 1 else np.zeros(n)
    v = (Y[:, None, :, -1] @ Q[:, :size])[:, 0]
    # first-order eps shift: (sqrt(p_x) v)^T (P o shift) (P^T (r_x v)), over the non-zero entries of P
    pp = px[m, i] * py[m, j]
    shifted = sparse.csr_matrix((p * (-eps / (pp * (pp + eps))), (m * G + i, m * G + j)), shape=shape)
    P_t = sparse.csr_matrix((p, (m * G + j, m * G + i)), shape=shape)
    right = P_t @ (rx * v).ravel()
    second = theta + np.sum((u * v) * (shifted @ right).reshape(n, G), -1)
    accurate = (residual <= LANCZOS_RESIDUAL) | (residual**2 <= KATO_TEMPLE * (theta - third))
    converged = accurate & (theta < 1 - SPLIT_GAP) & (theta - third > SPLIT_GAP) & (theta > SMALLEST_LANCZOS_EIGENVALUE)
    return second, converged


def _tridiagonal(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The symmetric tridiagonal matrices (n, k, k) with diagonals alpha (n, k) and off-diagonals beta (n, k - 1)."""
    n, k = alpha.shape
    T = np.zeros((n, k, k))
    diagonal = np.arange(k)
    T[:, diagonal, diagonal] = alpha
    T[:, diagonal[:-1], diagonal[1:]] = T[:, diagonal[1:], diagonal[:-1]] = beta
    return T
