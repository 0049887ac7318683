"""Dask execution: worker count and cluster kind do not change a byte of the features."""

import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.errors import CaseError, DeltaradError
from deltarad.parallel import ParallelSettings, UnitFailure, map_units
from deltarad.workflow import extract_features

BIN = Path(sys.executable).parent


def test_one_and_two_workers_give_the_same_bytes(tiny_cohort, reference_features, tmp_path):
    study = load_study(tiny_cohort)
    features, failures = extract_features(
        study, load_cohort(study, require_outcome=False), tmp_path, progress=False, parallel=ParallelSettings(workers=2)
    )
    assert failures.empty
    assert len(features) == 16 and features.shape[1] == 4 + 851
    assert (tmp_path / "features.csv").read_bytes() == reference_features


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_existing_cluster_of_scheduler_and_worker_processes(tiny_cohort, reference_features, tmp_path):
    """A real `dask scheduler` and `dask worker` on loopback run the cohort through --scheduler."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    address.rsplit(":", 1)[1],
                    "--no-dashboard",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(logs / "scheduler.log", "w"),
                start_new_session=True,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    "loopback-worker",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(logs / "worker.log", "w"),
                start_new_session=True,
            )
        )
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        out = tmp_path / "out"
        run = subprocess.run(
            [BIN / "deltarad", "extract", tiny_cohort, "--out", out, "--scheduler", address],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        assert f"Dask scheduler {address}: 1 worker(s)" in run.stderr
        assert "embedded Dask cluster" not in run.stderr
        assert (out / "features.csv").read_bytes() == reference_features
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    import dask

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(DeltaradError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:"),
    ):
        map_units(
            abs,
            [1],
            ["one"],
            lambda i, v: None,
            settings=ParallelSettings(scheduler=f"tcp://127.0.0.1:{_free_port()}"),
            progress=False,
        )
    with pytest.raises(DeltaradError, match="tcp://HOST:PORT"):
        ParallelSettings(scheduler="127.0.0.1:8786")


def _square_or_fail(x: int) -> int:
    if x == 2:
        raise CaseError("mask is empty", patient="P2")
    if x == 3:
        raise ZeroDivisionError("division by zero")
    return x * x


def test_failing_units_are_recorded_and_the_others_go_on(caplog):
    got = {}
    with caplog.at_level(logging.INFO, logger="deltarad.parallel"):
        failures = map_units(
            _square_or_fail,
            [0, 1, 2, 3, 4],
            ["u0", "u1", "u2", "u3", "u4"],
            got.__setitem__,
            settings=ParallelSettings(workers=0),
            stage="extract",
        )
    assert got == {0: 0, 1: 1, 4: 16}
    assert failures == [
        UnitFailure(2, "u2", "unit", "patient P2: mask is empty"),
        UnitFailure(3, "u3", "unit", "ZeroDivisionError: division by zero"),
    ]
    last = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO][-1]
    assert last.startswith("extract: 5/5 done (u4), 2 failed, elapsed ") and "ETA 0m00s" in last
