"""The methods paragraph describes the run's design: its exams, deltas, radscores, references."""

from __future__ import annotations

from deltarad.design import DeltaPair, Design, Radscore, Reference, Region
from deltarad.report.methods import _deltas, _exams, _per, _radscores, _references

THREE = Design(
    timepoints=("baseline", "early", "post"),
    deltas=(DeltaPair("baseline", "early"), DeltaPair("baseline", "post", "log_ratio")),
    regions=(Region("intratumoral"), Region("ring_0_3", (0.0, 3.0)), Region("ring_3_6", (3.0, 6.0))),
    radscores=(
        Radscore("radscore_tumour", "Tumour", ("intratumoral",), "early_vs_baseline"),
        Radscore("radscore_bands", "Bands", ("ring_0_3", "ring_3_6"), "post_vs_baseline"),
    ),
    references=(Reference("clinical", "Clinical", ("er", "her2")),),
)


def test_the_study_design_reads_as_before() -> None:
    study = Design()
    assert _exams(study) == "the baseline and the early exam"
    assert _radscores(study) == "Radscore_DIR (intratumoral) and Radscore_DPR (peritumoral)"
    assert _references(study) == (
        "the ultrasound model was a logistic regression on the post-treatment ultrasound read (ultrasound)"
    )
    assert _deltas(study) == "" and _per(study) == "Per region"


def test_another_design_is_described_as_declared() -> None:
    assert _exams(THREE) == "the baseline, early and post exams"
    assert _radscores(THREE) == (
        "Radscore_Tumour (intratumoral, early_vs_baseline) and "
        "Radscore_Bands (ring_0_3 and ring_3_6, post_vs_baseline, pooled)"
    )
    assert _references(THREE) == "the Clinical model was a logistic regression on er, her2"
    assert _deltas(THREE) == (
        " Deltas: early_vs_baseline = (early - baseline) / baseline; post_vs_baseline = log(post / baseline)."
    )
    assert _per(THREE).startswith("Per radscore")
    assert _references(Design(references=())) == "no reference model was declared"
