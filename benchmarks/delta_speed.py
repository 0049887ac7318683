"""The delta table of a large cohort (issue 23 point 4): compute_delta on the long feature table
of 500, 1,000 and 2,000 generated patients x 851 features (two timepoints, two regions, reader 2
on half the patients: 3,000 to 12,000 rows), best of 3. Target: well under 1 s for 1,000 patients,
linear in patients. Measured on the shared 2-core machine: 0.12 s (500), 0.21 s (1,000), 0.47 s
(2,000 patients); the previous per-row pandas version took 21 s (500) and 37 s (1,000).

    python benchmarks/delta_speed.py [--patients 500 1000 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from deltarad.features.delta import compute_delta
from deltarad.simulate import generate_feature_study


def feature_table(n_patients: int, folder: Path) -> pd.DataFrame:
    generate_feature_study(folder, n_patients=n_patients, n_features=851)
    return pd.read_csv(folder / "features.csv", dtype={"patient_id": str})


def best_of(table: pd.DataFrame, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        compute_delta(table)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[500, 1000, 2000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.patients:
            table = feature_table(n, Path(tmp) / str(n))
            seconds = best_of(table)
            print(
                f"{n:5d} patients, {len(table):6d} rows x 851 features: {seconds:.3f} s "
                f"({1e6 * seconds / len(table):.0f} us per row)"
            )


if __name__ == "__main__":
    main()
