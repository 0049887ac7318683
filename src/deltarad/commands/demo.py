"""`deltarad demo`: generate a cohort, run the whole method on it, build the report."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from deltarad.commands._common import DEBUG_OPTION, output_folder, user_errors


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def demo(
        out: Path = typer.Option(Path("demo-output"), "--out", help="output folder"),
        patients: int = typer.Option(187, "--patients", min=20, help="cohort size (the study had 187)"),
        seed: int = typer.Option(0, "--seed", help="seed of the generated cohort"),
        effect: float = typer.Option(1.0, "--effect", min=0.0, help="strength of the treatment-response signal"),
        bootstrap: int = typer.Option(
            50,
            "--bootstrap",
            min=0,
            help="optimism-bootstrap resamples (a run's default is 200; fewer keep the demo short)",
        ),
        features_only: bool = typer.Option(
            False, "--features-only", help="skip images: model a generated feature table with planted signal"
        ),
        design: str = typer.Option(
            "study",
            "--design",
            help="study: the study's two exams and one ring; three-timepoint: baseline, early "
            "and post exams, two deltas, peritumoral bands (images: 0-3, 3-6, 6-9 mm; --features-only: 0-3, 3-6 mm)",
        ),
        kinetics: bool | None = typer.Option(
            None,
            "--kinetics/--no-kinetics",
            help="exams with contrast curves by tissue and a study file with `kinetics: {}`: "
            "kinetics.csv, and ΔFTV and tumour-volume change as reference models beside the ultrasound read "
            "(default: on, except with --features-only)",
            show_default=False,
        ),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Generate a realistic longitudinal DCE-MRI cohort and run images -> report on it."""
        from deltarad.demo import run_demo

        output_folder(out)
        start = time.perf_counter()
        if features_only:
            typer.echo("demo: modelling a generated feature table (no images) with planted signal")
        else:
            typer.echo(
                f"demo: generating {patients} patients (DICOM DCE exams, two readers' NRRD masks) in {out / 'cohort'}"
                + ("" if kinetics is False else ", contrast curves by tissue")
                + ("" if design == "study" else f", {design} design")
            )
        done = run_demo(
            out,
            patients=patients,
            seed=seed,
            effect=effect,
            bootstrap=bootstrap,
            features_only=features_only,
            design=design,
            kinetics=kinetics,
        )
        typer.echo(
            f"demo: {len(done.run.fit.predictions)} patients modelled, {len(done.run.failures)} failed, "
            f"{time.perf_counter() - start:.0f} s"
        )
        aucs = validation_aucs(done.run.tables.table3.frame)
        if aucs:
            typer.echo(f"demo: validation AUC {aucs}")
        typer.echo(f"report: {done.report.resolve()}")


def validation_aucs(table3) -> str:
    """Each model's validation AUC from Table 3's numbers (the radscores beside the references)."""
    rows = table3[table3["set"] == "validation"]
    return ", ".join(f"{m} {a:.2f}" for m, a in zip(rows["model"], rows["auc"]))
