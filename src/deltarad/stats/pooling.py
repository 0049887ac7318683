"""Rubin's rules: one estimate from m analyses of multiply imputed data, and Table 2 pooled.

For a scalar estimate Q with complete-data variance U in each of m imputations (Rubin, Multiple
Imputation for Nonresponse in Surveys, 1987; as R's mice::pool computes it):
    Q̄ = mean(Q),  W = mean(U),  B = var(Q) (ddof 1),  T = W + (1 + 1/m) B
    r = (1 + 1/m) B / W (relative increase in variance),  λ = (1 + 1/m) B / T (λ floored at 1e-4)
    ν_old = (m - 1) / λ²  (Rubin 1987)
    ν_obs = (ν_com + 1) / (ν_com + 3) ν_com (1 - λ),  ν = ν_old ν_obs / (ν_old + ν_obs)
    (Barnard & Rubin, Biometrika 1999;86:948, for ν_com complete-data degrees of freedom; ν_old
    when ν_com is infinite), fmi = (r + 2 / (ν + 3)) / (r + 1).
The test and interval use Student's t with ν degrees of freedom.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from deltarad.stats.logistic import COLUMNS as LOGISTIC_COLUMNS
from deltarad.stats.logistic import fit_logistic

LAMBDA_FLOOR = 1e-4  # mice's barnard.rubin
POOLED_COLUMNS = [*LOGISTIC_COLUMNS, "df", "fmi"]
POOLED_NOTE = (
    "Pooled over {m} imputed training sets by Rubin's rules (Barnard-Rubin degrees of freedom, df; "
    "fmi: fraction of missing information); p and OR 95% CI from Student's t with df; a variable "
    "entered the multivariate model when its median univariate p was below 0.05 (median-P rule)."
)


def rubin(
    estimates: Sequence[float] | np.ndarray, variances: Sequence[float] | np.ndarray, dfcom: float = np.inf
) -> dict[str, float]:
    """Pooled estimate, its total variance and SE, the within/between variances, r, λ, df and fmi."""
    q, u = np.asarray(estimates, float), np.asarray(variances, float)
    m = len(q)
    if m < 2 or len(u) != m:
        raise ValueError("Rubin's rules need at least 2 estimates, each with its variance")
    qbar, w, b = float(q.mean()), float(u.mean()), float(q.var(ddof=1))
    t = w + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / w if w > 0 else np.inf
    lam = max((1 + 1 / m) * b / t, LAMBDA_FLOOR) if t > 0 else LAMBDA_FLOOR
    df_old = (m - 1) / lam**2
    if np.isinf(dfcom):
        df = df_old
    else:
        df_obs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
        df = df_old * df_obs / (df_old + df_obs)
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    return {
        "estimate": qbar,
        "within": w,
        "between": b,
        "total": t,
        "se": float(np.sqrt(t)),
        "riv": riv,
        "lambda": lam,
        "df": float(df),
        "fmi": float(fmi),
    }


def _pool_fits(tables: list[pd.DataFrame], n: int, level: float) -> pd.DataFrame:
    """One coefficient table from m (same rows), by Rubin's rules with ν_com = n - k (as mice
    does for a glm: its residual degrees of freedom)."""
    first = tables[0]
    k = len(first) + 1
    rows = []
    for i in range(len(first)):
        beta = np.array([t["beta"].iat[i] for t in tables], float)
        se = np.array([t["se"].iat[i] for t in tables], float)
        row = {"variable": first["variable"].iat[i], "level": first["level"].iat[i]}
        bad = ~np.isfinite(beta) | ~np.isfinite(se)
        if bad.any():
            warning = next((str(t["warning"].iat[i]) for t in tables if str(t["warning"].iat[i])), "not estimable")
            rows.append(
                {
                    **row,
                    **{c: np.nan for c in POOLED_COLUMNS[2:]},
                    "warning": f"{warning} (in {int(bad.sum())} of {len(tables)} imputations)",
                }
            )
            continue
        pooled = rubin(beta, se**2, dfcom=max(n - k, 1))
        z = pooled["estimate"] / pooled["se"]
        half = stats.t.ppf(0.5 + level / 2, pooled["df"]) * pooled["se"]
        rows.append(
            {
                **row,
                "beta": pooled["estimate"],
                "se": pooled["se"],
                "z": z,
                "p_value": float(2 * stats.t.sf(abs(z), pooled["df"])),
                "or": np.exp(pooled["estimate"]),
                "or_ci_low": np.exp(pooled["estimate"] - half),
                "or_ci_high": np.exp(pooled["estimate"] + half),
                "warning": "",
                "df": pooled["df"],
                "fmi": pooled["fmi"],
            }
        )
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)


def table2_pooled(
    frames: list[pd.DataFrame],
    outcome: str,
    variables: Sequence[str],
    categorical: Sequence[str] = (),
    entry_p: float = 0.05,
    level: float = 0.95,
    reference_levels: dict | None = None,
) -> pd.DataFrame:
    """Table 2 over m completed data sets: each univariate and the multivariate logistic regression
    fitted on every imputation and pooled by Rubin's rules (t-based p and OR CI, df and fmi per
    row). A variable enters the multivariate model when the median of its m univariate Wald p-values
    (joint over a categorical variable's levels) is below `entry_p`: the median-P rule (Eekhout, van
    de Wiel & Heymans, BMC Med Res Methodol 2017;17:129)."""
    parts, entered = [], []
    for var in variables:
        fits = [
            fit_logistic(f, outcome, [var], categorical=categorical, reference_levels=reference_levels) for f in frames
        ]
        parts.append(_pool_fits([f.table for f in fits], len(frames[0]), level).assign(analysis="univariate"))
        if np.nanmedian([f.variable_p[var] for f in fits]) < entry_p:
            entered.append(var)
    if entered:
        fits = [
            fit_logistic(f, outcome, entered, categorical=categorical, reference_levels=reference_levels)
            for f in frames
        ]
        parts.append(_pool_fits([f.table for f in fits], len(frames[0]), level).assign(analysis="multivariate"))
    return pd.concat(parts, ignore_index=True)[["analysis", *POOLED_COLUMNS]]
