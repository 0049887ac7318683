"""The forked worker pool (the embedded default): results, raised errors and dead workers."""

import os

from deltarad.parallel import ParallelSettings, UnitFailure, map_units


def _square_or_die(x: int) -> int:
    if x == 2:
        os._exit(3)  # the worker dies as if killed: no exception crosses back
    if x == 3:
        raise ValueError("bad unit")
    return x * x


def test_a_dying_worker_costs_only_its_own_unit():
    got = {}
    failures = map_units(
        _square_or_die,
        list(range(7)),
        [f"u{i}" for i in range(7)],
        got.__setitem__,
        settings=ParallelSettings(workers=2),
        stage="extract",
        progress=False,
    )
    assert got == {0: 0, 1: 1, 4: 16, 5: 25, 6: 36}
    assert [(f.index, f.stage) for f in failures] == [(2, "worker"), (3, "unit")]
    assert failures[1] == UnitFailure(3, "u3", "unit", "ValueError: bad unit")
    assert "died" in failures[0].error


def test_units_run_in_other_processes():
    got = {}
    assert (
        map_units(
            _pid, [0, 1, 2], ["a", "b", "c"], got.__setitem__, settings=ParallelSettings(workers=2), progress=False
        )
        == []
    )
    assert os.getpid() not in got.values() and len(got) == 3


def _pid(_: int) -> int:
    return os.getpid()


def _smoothed_sum(seed: int) -> float:
    import numpy as np
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.random.default_rng(seed).random((24, 32, 32)).astype(np.float32))
    return float(
        sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(image, 2.0)).sum()
    )  # a copy: the result is a temporary


def test_workers_forked_after_the_parent_ran_itk_on_several_threads():
    """ITK's thread pool and BLAS register fork handlers: a parent that ran a multi-threaded ITK
    filter forks workers that run ITK filters too (no deadlock), with the parent's results."""
    import SimpleITK as sitk

    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    try:
        expected = {i: _smoothed_sum(i) for i in range(4)}
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
    got = {}
    assert (
        map_units(
            _smoothed_sum,
            list(range(4)),
            list("abcd"),
            got.__setitem__,
            settings=ParallelSettings(workers=2),
            progress=False,
        )
        == []
    )
    assert got.keys() == expected.keys()
    assert all(abs(got[i] - expected[i]) <= 1e-6 * abs(expected[i]) for i in got)
