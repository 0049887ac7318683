"""`deltarad demo`: a generated cohort run through the whole method, and its report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deltarad.config import load_study
from deltarad.errors import DeltaradError
from deltarad.workflow import StudyRun, run_study


@dataclass
class DemoRun:
    study_file: Path  # the generated study file (out/cohort/)
    run: StudyRun  # the run (out/run/)
    report: Path


def run_demo(
    out: Path,
    *,
    patients: int = 187,
    seed: int = 0,
    effect: float = 1.0,
    bootstrap: int = 50,
    features_only: bool = False,
    design: str = "study",
    kinetics: bool | None = None,
) -> DemoRun:
    """Generate `patients` patients in out/cohort (DICOM DCE exams and two readers' NRRD masks, or
    with `features_only` a feature table with planted signal), run the study into out/run with
    `bootstrap` optimism-bootstrap resamples, and build its report. `design`: the study's, or
    "three-timepoint": three exams, two deltas, peritumoral bands (images:
    deltarad.synthetic.cohort.DESIGNS; a feature table: deltarad.simulate.DEMO_DESIGNS).
    `kinetics` (default: on where there are images): exams with contrast curves by tissue (7
    phases, 80 s apart), and a study file with `kinetics: {}` whose reference models are the
    ultrasound read, ΔFTV and the tumour-volume change (add_kinetics); off, the paper's design
    alone (4 phases, the ultrasound read the only reference)."""
    from deltarad.simulate import DEMO_DESIGNS

    if design not in DEMO_DESIGNS:
        raise DeltaradError(f"demo design must be one of {', '.join(DEMO_DESIGNS)}, got {design!r}")
    if features_only and kinetics:
        raise DeltaradError("the kinetics demo needs images: leave out --features-only")
    kinetics = not features_only if kinetics is None else kinetics
    if features_only:
        from deltarad.simulate import generate_feature_study

        study_file = generate_feature_study(
            out / "cohort",
            n_patients=patients,
            effect=effect,
            seed=seed,
            internal_validation=True,
            design=DEMO_DESIGNS[design],
        )
    else:
        from deltarad.synthetic.cohort import add_kinetics, generate_cohort

        study_file = generate_cohort(
            out / "cohort", n_patients=patients, seed=seed, effect=effect, design=design, tissue_kinetics=kinetics
        )
        if kinetics:
            add_kinetics(Path(study_file))
    run_dir = out / "run"
    study = load_study(study_file)
    study.validation.bootstrap = bootstrap
    run = run_study(study, run_dir)
    from deltarad.report.html import build_report

    return DemoRun(Path(study_file), run, build_report(run_dir))
