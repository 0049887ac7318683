"""Beyond ΔFTV and shrinkage: the question a reviewer of a delta-radiomics pCR study asks first. On
the validation set, each radscore's AUC beside the kinetic reference models' (ΔFTV, the functional
tumour volume change of I-SPY, and the tumour-volume change), and the paired DeLong test of each
radscore against each of them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deltarad.formatting import format_p, format_value
from deltarad.kinetics import DELTA_FTV_PREFIX, VOLUME_CHANGE_PREFIX
from deltarad.report.page import Builder, Section
from deltarad.report.run import Unavailable
from deltarad.stats.roc import delong_ci, delong_test

SET = "validation"


def kinetic_references(design) -> list[str]:
    """The design's reference models on one kinetic variable (delta_ftv_<after>, volume_change_<after>)."""
    return [
        r.name
        for r in design.references
        if len(r.columns) == 1 and r.columns[0].startswith((DELTA_FTV_PREFIX, VOLUME_CHANGE_PREFIX))
    ]


def beyond_kinetics(b: Builder, sec: Section) -> None:
    run = b.run
    references = [m for m in kinetic_references(run.design) if m in run.predictions.columns]
    if not references:
        raise Unavailable(
            "the design has no ΔFTV or volume-change reference model (a study with `kinetics:` lists "
            "delta_ftv_<after> and volume_change_<after> under design.references)"
        )
    table = delong_against(
        run.predictions, run.outcome, [r for r in run.radscores if r in run.predictions.columns], references
    )
    labels = run.models
    shown = pd.DataFrame(
        {
            "Radscore": [labels.get(r, r) for r in table["radscore"]],
            "AUC": [format_value(v) for v in table["radscore_auc"]],
            "Against": [labels.get(r, r) for r in table["reference"]],
            "Its AUC": [format_value(v) for v in table["reference_auc"]],
            "Patients": table["n"],
            "DeLong P": [format_p(v) for v in table["delong_p"]],
        }
    )
    sec.intro = (
        "Does the radscore add anything to the breast field's own early-response biomarker, the change of "
        "functional tumour volume (ΔFTV, ACRIN 6657 / I-SPY), and to plain shrinkage? Each radscore against "
        "each kinetic reference model on the validation set: AUC with DeLong 95% CI and the paired DeLong "
        "test (patients with both scores)."
    )
    sec.items.append(
        b.table(
            shown,
            "Radscores against ΔFTV and tumour-volume change (validation)",
            "ΔFTV: relative change of reader 1's FTV; volume change: relative change of reader 1's "
            "tumour voxel volume (kinetics_deltas.csv). Logistic reference models on each.",
            source=table,
            name="beyond_kinetics",
        )
    )


def delong_against(
    predictions: pd.DataFrame, outcome: str, radscores: list[str], references: list[str]
) -> pd.DataFrame:
    """Per radscore and reference model, on the validation set (patients with both scores): each AUC
    (DeLong 95% CI) and the paired DeLong test's p."""
    rows = []
    valid = predictions[predictions["set"] == SET]
    for rs in radscores:
        for ref in references:
            both = valid[[outcome, rs, ref]].dropna()
            y = both[outcome].to_numpy(int)
            if len(np.unique(y)) < 2:
                rows.append(
                    {
                        "radscore": rs,
                        "reference": ref,
                        "n": len(both),
                        "radscore_auc": np.nan,
                        "radscore_low": np.nan,
                        "radscore_high": np.nan,
                        "reference_auc": np.nan,
                        "reference_low": np.nan,
                        "reference_high": np.nan,
                        "delong_z": np.nan,
                        "delong_p": np.nan,
                    }
                )
                continue
            a, a_lo, a_hi = delong_ci(y, both[rs].to_numpy(float))
            r, r_lo, r_hi = delong_ci(y, both[ref].to_numpy(float))
            z, p = delong_test(y, both[rs].to_numpy(float), both[ref].to_numpy(float))
            rows.append(
                {
                    "radscore": rs,
                    "reference": ref,
                    "n": len(both),
                    "radscore_auc": a,
                    "radscore_low": a_lo,
                    "radscore_high": a_hi,
                    "reference_auc": r,
                    "reference_low": r_lo,
                    "reference_high": r_hi,
                    "delong_z": z,
                    "delong_p": p,
                }
            )
    return pd.DataFrame(rows)
