"""The volume check of the selected delta features: how closely each follows the tumour's volume
change (tumour shrinkage confounds delta radiomics), shown in the selected-features section."""

from __future__ import annotations

import pandas as pd

from deltarad import runfolder
from deltarad.formatting import format_p, format_value
from deltarad.report.page import Builder, Section
from deltarad.report.run import Unavailable
from deltarad.report.sections.qc import cohort_qc
from deltarad.stats.volume import volume_correlations

VOLUME_FEATURES = ("original_shape_MeshVolume", "original_shape_VoxelVolume")
SHRINKAGE_RHO = 0.5  # |Spearman rho| from which a feature's change is called mostly the tumour's volume change


def volume_check(b: Builder, sec: Section) -> None:
    """Append the volume check to the selected-features section, or say in its intro why not."""
    try:
        _volume_check(b, sec)
    except Unavailable as exc:
        sec.add_to_intro(f"Volume check of the selected features not shown: {exc}.")


def _volume_check(b: Builder, sec: Section) -> None:
    run = b.run
    selected = run.coefficients()
    delta = run.csv(runfolder.DELTA_FEATURES, required=("patient_id", "region", "reader"))
    reader1 = delta[delta["reader"] == 1]
    if "delta" in reader1.columns:  # several deltas: the design's first
        reader1 = reader1[reader1["delta"] == run.design.deltas[0].name]
    region = run.design.tumour.name
    tumour = reader1[reader1["region"] == region].set_index("patient_id")
    source = next((c for c in VOLUME_FEATURES if c in tumour.columns), None)
    if source is not None:
        volume, what = tumour[source], f"the delta of {region} {source} (reader 1)"
    else:
        qc = cohort_qc(run).pivot(index="patient_id", columns="timepoint", values="tumour_ml")
        volume, what = qc["early"] / qc["baseline"] - 1, "the region QC's tumour volumes (reader 1)"
    table = volume_correlations(reader1, selected, volume)
    shrinking = table[table["spearman_rho"].abs() >= SHRINKAGE_RHO]
    sec.add_to_intro(
        f"Tumour shrinkage is a known confounder of delta radiomics: a delta feature that follows the "
        f"volume change tells little beyond it. Volume change: relative change from baseline to early "
        f"exam, from {what}. {len(shrinking)} of {len(table)} selected features have "
        f"|ρ| ≥ {SHRINKAGE_RHO:g}" + (f" ({', '.join(shrinking['feature'])})." if len(shrinking) else ".")
    )
    shown = pd.DataFrame(
        {
            "Region": table["region"],
            "Feature": table["feature"],
            "Patients": table["n"],
            "Spearman ρ with volume change": [format_value(v) for v in table["spearman_rho"]],
            "P": [format_p(v) for v in table["p_value"]],
            "Mostly volume change": ["yes" if abs(v) >= SHRINKAGE_RHO else "" for v in table["spearman_rho"].fillna(0)],
        }
    )
    sec.items.append(
        b.table(
            shown,
            "Selected delta features against the tumour's volume change",
            "Spearman rank correlation over all analysed patients (reader 1).",
            source=table,
            name="volume_check",
        )
    )
