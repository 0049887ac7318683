"""Tumour shrinkage as a confounder of delta radiomics: how closely each selected delta feature
follows the tumour's volume change (Spearman rank correlation over patients)."""

from __future__ import annotations

import math

import pandas as pd
from scipy.stats import spearmanr

MIN_PATIENTS = 3  # fewer pairs give no correlation


def volume_correlations(delta: pd.DataFrame, selected: pd.DataFrame, volume: pd.Series) -> pd.DataFrame:
    """Spearman rho (and its two-sided p) of each selected feature's delta with the volume change.

    `delta`: one reader's delta features [patient_id, region, <features>...]; `selected`: the
    features [region, feature]; `volume`: the volume change per patient_id (any unit: ranks only).
    Patients missing either value are left out of that feature's pair. Returns [region, feature,
    n, spearman_rho, p_value] (n = 0 and NaN when the feature is not in `delta`)."""
    rows = []
    for r in selected.itertuples():
        part = delta[delta["region"] == r.region].set_index("patient_id")
        if r.feature not in part.columns:
            rows.append(
                {"region": r.region, "feature": r.feature, "n": 0, "spearman_rho": math.nan, "p_value": math.nan}
            )
            continue
        both = pd.concat([part[r.feature], volume.rename("volume")], axis=1, join="inner").dropna()
        rho, p = spearmanr(both.iloc[:, 0], both["volume"]) if len(both) >= MIN_PATIENTS else (math.nan, math.nan)
        rows.append(
            {"region": r.region, "feature": r.feature, "n": len(both), "spearman_rho": float(rho), "p_value": float(p)}
        )
    return pd.DataFrame(rows)
