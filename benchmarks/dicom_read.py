"""DICOM reading at real size: an 8-phase breast DCE exam of 448 x 448 x 160 voxels per phase in
one folder (1,280 classic MR files, 16-bit), written once into a cache folder by the demo's
DICOM writer. Timed: deltarad's header pass over all 1,280 files plus the pixels of one phase
(160 files), then the same through read_exam (the path `deltarad extract` takes); the OS file
cache holds the files (they were just written or read). Target: under 3 s. Measured on the
shared 2-core machine (load average ~8): header pass 0.4-0.7 s + one phase 0.3-0.8 s, read_exam
0.7-1.2 s (pydicom's own header parse alone took 1.9-2.7 s).

    python benchmarks/dicom_read.py [--cache DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from deltarad.imaging.dicom.exam import exam_volumes
from deltarad.imaging.dicom.reading import read_volume
from deltarad.imaging.io import read_exam
from deltarad.synthetic.dicom_writer import ExamInfo, write_dce_series
from deltarad.synthetic.grid import Grid

SIZE = (448, 448, 160)  # columns, rows, slices
PHASES = 8
SPACING_MM = (0.8, 0.8, 1.0)


def exam_folder(cache: Path) -> Path:
    folder = cache / f"dce_{SIZE[0]}x{SIZE[1]}x{SIZE[2]}x{PHASES}"
    if folder.is_dir() and len(list(folder.iterdir())) == PHASES * SIZE[2]:
        return folder
    grid = Grid(SIZE, SPACING_MM, (-180.0, -180.0, -80.0))
    k, j, i = np.ogrid[: SIZE[2], : SIZE[1], : SIZE[0]]
    base = ((i * 3 + j * 5 + k * 7) % 1000).astype(np.uint16)
    phases = np.stack([base + np.uint16(100 * p) for p in range(PHASES)])
    info = ExamInfo(patient_id="BENCH01", age_years=50, exam="baseline", study_date="20240101", uid_seed="bench")
    write_dce_series(folder, phases, grid, [60.0 * p for p in range(PHASES)], info)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "deltarad-bench")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    folder = exam_folder(args.cache)
    print(f"exam: {folder} ({PHASES * SIZE[2]} files; ready in {time.perf_counter() - start:.1f} s)")
    for run in range(args.repeat):
        t0 = time.perf_counter()
        volumes, _ = exam_volumes(folder, patient="BENCH01")
        t1 = time.perf_counter()
        image = read_volume(volumes[3], "BENCH01")
        t2 = time.perf_counter()
        print(
            f"run {run + 1}: header pass {t1 - t0:.2f} s + phase 3 pixels {t2 - t1:.2f} s = {t2 - t0:.2f} s "
            f"({len(volumes)} phases, {image.GetSize()})"
        )
    t0 = time.perf_counter()
    image, _ = read_exam(folder, phase=3, patient="BENCH01")
    print(f"read_exam(phase=3): {time.perf_counter() - t0:.2f} s (target < 3 s)")
    expected = (
        np.arange(SIZE[0])[None, None, :] * 3
        + np.arange(SIZE[1])[None, :, None] * 5
        + np.arange(SIZE[2])[:, None, None] * 7
    ) % 1000 + 300
    from SimpleITK import GetArrayViewFromImage

    assert np.array_equal(GetArrayViewFromImage(image), expected), "phase 3 read back wrong"


if __name__ == "__main__":
    main()
