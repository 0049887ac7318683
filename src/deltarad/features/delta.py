"""Delta radiomics: relative change of each feature from baseline to the early exam."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from deltarad.errors import DeltaradError

KEYS = ["patient_id", "timepoint", "region", "reader"]
DELTA_KEYS = ["patient_id", "region", "reader"]
TIMEPOINTS = ("baseline", "early")
REGIONS = ("intratumoral", "peritumoral")

log = logging.getLogger(__name__)


def feature_columns(table: pd.DataFrame, keys: list[str] = KEYS) -> list[str]:
    return [c for c in table.columns if c not in keys]


def check_feature_table(table: pd.DataFrame, source: str = "feature table") -> pd.DataFrame:
    """Validate the long-form layout; return it with typed keys."""
    missing = [k for k in KEYS if k not in table.columns]
    if missing:
        raise DeltaradError(f"missing column(s) {', '.join(missing)}", file=source)
    table = table.copy()
    table["patient_id"] = table["patient_id"].astype(str)
    table["reader"] = pd.to_numeric(table["reader"], errors="coerce")
    for col, allowed in (("timepoint", TIMEPOINTS), ("region", REGIONS), ("reader", (1, 2))):
        bad = ~table[col].isin(allowed)
        if bad.any():
            row = table.loc[bad].iloc[0]
            raise DeltaradError(
                f"{col} must be one of {list(allowed)}, got {row[col]!r}", patient=row["patient_id"], file=source
            )
    table["reader"] = table["reader"].astype(int)
    dup = table.duplicated(KEYS)
    if dup.any():
        row = table.loc[dup].iloc[0]
        raise DeltaradError(
            f"more than one row for {row['timepoint']}/{row['region']}/reader {row['reader']}",
            patient=row["patient_id"],
            file=source,
        )
    feats = feature_columns(table)
    if not feats:
        raise DeltaradError("no feature columns after patient_id, timepoint, region, reader", file=source)
    values = table[feats].apply(pd.to_numeric, errors="coerce")
    nonnum = values.isna() & table[feats].notna()
    if nonnum.any().any():
        r, c = np.argwhere(nonnum.to_numpy())[0]
        raise DeltaradError(
            f"non-numeric value {table[feats].iat[r, c]!r} in feature {feats[c]}",
            patient=table["patient_id"].iat[r],
            file=source,
        )
    table[feats] = values.astype(float)
    present = table[feats].notna().groupby(table["timepoint"]).any()
    if len(present) == 2 and not present.all(axis=0).all():
        only = {tp: [f for f in feats if present.loc[tp, f] and not present.drop(tp).iloc[0][f]] for tp in present.index}
        detail = "; ".join(f"{len(v)} only at {tp} (e.g. {v[0]})" for tp, v in only.items() if v)
        raise DeltaradError(f"feature columns differ between timepoints: {detail}", file=source)
    return table


def compute_delta(features_long: pd.DataFrame, *, drop_undefined: bool = True) -> tuple[pd.DataFrame, dict]:
    """delta = (early - baseline) / baseline per patient, region and reader.

    A feature whose baseline is 0 (or not finite) for any patient in a region is dropped for that
    region (its delta is undefined); the study kept 816 of 851 intratumoral and 845 peritumoral
    features this way. This filter uses no outcome, so it is applied to the whole cohort as in the
    study. Patients lacking one of the two timepoints for a (region, reader) are left out and listed.

    With drop_undefined=False (scoring new patients with a frozen model) nothing is dropped: an
    undefined delta stays NaN or infinite for that patient alone, who is then left out, so one
    patient cannot remove a feature the model needs from the whole new cohort.

    Returns (delta table: patient_id, region, reader, one column per feature with NaN where the
    feature was dropped for that region; info: per region n_features, dropped, kept lists and
    incomplete patients).
    """
    table = check_feature_table(features_long)
    feats = feature_columns(table)
    base = table[table["timepoint"] == "baseline"].set_index(DELTA_KEYS)[feats]
    early = table[table["timepoint"] == "early"].set_index(DELTA_KEYS)[feats]
    both = base.index.intersection(early.index)
    incomplete = sorted(set(base.index.symmetric_difference(early.index).get_level_values("patient_id")))
    base, early = base.loc[both].sort_index(), early.loc[both].sort_index()

    info: dict = {"incomplete_patients": incomplete, "regions": {}}
    parts = []
    for region in REGIONS:
        in_region = base.index.get_level_values("region") == region
        if not in_region.any():
            continue
        b, e = base[in_region], early[in_region]
        undefined = ((b == 0) | ~np.isfinite(b)).any(axis=0) & drop_undefined
        kept = [f for f in feats if not undefined[f]]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = (e[kept] - b[kept]) / b[kept]
        d = d.reindex(columns=feats).copy()
        parts.append(d)
        info["regions"][region] = {
            "n_features": len(feats),
            "n_kept": len(kept),
            "dropped_zero_baseline": [f for f in feats if undefined[f]],
            "kept": kept,
        }
        log.info("delta %s: %d of %d features kept (%d with a zero baseline dropped)",
                 region, len(kept), len(feats), len(feats) - len(kept))
    if not parts:
        raise DeltaradError("no patient has both a baseline and an early exam")
    delta = pd.concat(parts).copy().reset_index()
    delta = delta.sort_values(DELTA_KEYS, kind="stable").reset_index(drop=True)
    return delta, info


def region_matrix(delta: pd.DataFrame, region: str, reader: int, features: list[str]) -> pd.DataFrame:
    """Patients x features of one region and reader, indexed by patient_id."""
    rows = delta[(delta["region"] == region) & (delta["reader"] == reader)]
    return rows.set_index("patient_id")[features]
