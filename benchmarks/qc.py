"""Region QC alone: seconds per exam to compute the QC numbers and draw the PNG from a prepared
exam (extraction has already read, preprocessed and built the regions), on demo exams, and the
extrapolation to the demo's 374 exams. Run: PYTHONPATH=src python benchmarks/qc.py [n_patients]."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deltarad.cohort import load_cohort_cases
from deltarad.config import load_study
from deltarad.features.extract import prepare_timepoint
from deltarad.features.region_qc import exam_qc
from deltarad.imaging.preprocess import itk_threads
from deltarad.runfolder import write_exam_qc
from deltarad.synthetic.cohort import generate_cohort

DEMO_EXAMS = 374


def main(n_patients: int = 4) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        study = load_study(generate_cohort(Path(tmp) / "demo", n_patients=n_patients, seed=0, workers=1))
        cohort, _ = load_cohort_cases(study)
        seconds = []
        with itk_threads(1):
            for row in cohort.to_dict("records"):
                for tp in ("baseline", "early"):
                    exam = prepare_timepoint(row, tp, study.imaging)
                    start = time.perf_counter()
                    write_exam_qc(
                        Path(tmp) / "regions",
                        exam_qc(
                            exam.image,
                            exam.regions,
                            row["patient_id"],
                            tp,
                            study.imaging.ring_mm,
                            getattr(exam, "ring_stats", None),
                        ),
                    )
                    seconds.append(time.perf_counter() - start)
    s = np.array(seconds)
    print(
        f"region QC: {len(s)} demo exams, {s.mean():.3f} s per exam (median {np.median(s):.3f}, max {s.max():.3f}); "
        f"{DEMO_EXAMS} exams: {DEMO_EXAMS * s.mean():.0f} s on one core, {DEMO_EXAMS * s.mean() / 2:.0f} s on 2 workers"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
