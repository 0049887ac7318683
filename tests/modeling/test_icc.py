import numpy as np
import pandas as pd
import pytest

from deltarad.stats.icc import icc_2_1


def test_shrout_fleiss_1979_table2(shared_data):
    x = pd.read_csv(shared_data / "stats" / "shrout_fleiss_1979.csv").iloc[:, 1:].to_numpy(float)
    assert icc_2_1(x) == pytest.approx(0.28976, abs=5e-6)  # published 0.29, exact 0.28976
    expected = pd.read_csv(shared_data / "stats" / "shrout_fleiss_1979_icc_expected.csv").set_index("Type")
    assert icc_2_1(x) == pytest.approx(expected.loc["ICC(A,1)", "ICC"], rel=1e-9)


def test_pingouin_wine_icc_a1(shared_data):
    long = pd.read_csv(shared_data / "stats" / "pingouin_icc_wine.csv")
    x = long.pivot(index="Wine", columns="Judge", values="Scores").to_numpy(float)
    expected = pd.read_csv(shared_data / "stats" / "pingouin_icc_wine_expected.csv").set_index("Type")
    assert icc_2_1(x) == pytest.approx(expected.loc["ICC(A,1)", "ICC"], rel=1e-9)


def test_vectorised_over_features_equals_one_at_a_time(shared_data):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2, 5)) + rng.normal(size=(20, 1, 5)) * 3
    many = icc_2_1(x)
    assert np.allclose(many, [icc_2_1(x[:, :, j]) for j in range(5)])


def test_perfect_agreement_is_one_and_a_constant_shift_lowers_absolute_agreement():
    a = np.arange(10, dtype=float)
    assert icc_2_1(np.column_stack([a, a])) == pytest.approx(1.0)
    assert icc_2_1(np.column_stack([a, a + 5])) < 0.7
