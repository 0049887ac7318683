"""N4 alone: SimpleITK's filter on 1, 2 and 8 threads against deltarad's N4, per exam: seconds and
the largest difference between the log bias fields (ITK's own result moves with its thread count:
its float32 sums are split differently)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.imaging.io import read_image
from deltarad.imaging.preprocess import body_mask, fit_bias_field, otsu_threshold
from extraction import itk_n4_threads

ITK_THREADS = (1, 2, 8)


def _log_field(
    image: sitk.Image, body: sitk.Image, settings, implementation: str, threads: int = 1
) -> tuple[np.ndarray, float]:
    with itk_n4_threads(threads):
        start = time.perf_counter()
        field = fit_bias_field(
            image, body, shrink=settings.n4_shrink, iterations=settings.n4_iterations, implementation=implementation
        )
        return sitk.GetArrayFromImage(field.log_field), time.perf_counter() - start


def compare_n4(study_path: Path, n_exams: int = 2, itk_threads: tuple[int, ...] = ITK_THREADS) -> list[dict]:
    """One row per exam (the first `n_exams` of the cohort, baseline then early); ITK on each of
    `itk_threads` (the first is the reference)."""
    study = load_study(study_path)
    cohort = load_cohort(study, require_outcome=False)
    rows = []
    for case in cohort.to_dict("records"):
        for timepoint in ("baseline", "early"):
            if len(rows) == n_exams:
                return rows
            image = read_image(case[f"{timepoint}_image"], phase=study.imaging.phase, patient=str(case["patient_id"]))
            body = body_mask(image, otsu_threshold(image))
            itk = {k: _log_field(image, body, study.imaging, "itk", k) for k in itk_threads}
            ours, ours_s = _log_field(image, body, study.imaging, "deltarad")
            reference = itk[itk_threads[0]][0]
            rows.append(
                {
                    "exam": f"{case['patient_id']}/{timepoint}",
                    "field_range": float(np.ptp(reference)),
                    **{f"itk_{k}t_s": s for k, (_, s) in itk.items()},
                    "deltarad_s": ours_s,
                    **{
                        f"itk_{k}t_vs_itk_{itk_threads[0]}t": float(np.abs(f - reference).max())
                        for k, (f, _) in itk.items()
                        if k != itk_threads[0]
                    },
                    **{f"deltarad_vs_itk_{k}t": float(np.abs(ours - f).max()) for k, (f, _) in itk.items()},
                }
            )
    return rows


if __name__ == "__main__":
    # python benchmarks/n4.py [N_EXAMS [ITK_THREADS ...]]: the study's setting (256 x 256 x 112
    # generated exams, shrink 4, 50/40/30 iterations) without the rest of `make bench`.
    import sys

    from run import realistic_cohort

    n_exams = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    threads = tuple(int(a) for a in sys.argv[2:]) or ITK_THREADS
    for row in compare_n4(realistic_cohort(1), n_exams, threads):
        ratio = row[f"itk_{threads[0]}t_s"] / row["deltarad_s"]
        print({k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in row.items()}, f"speed ratio {ratio:.1f}x")
