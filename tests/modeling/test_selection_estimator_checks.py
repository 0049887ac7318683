"""The selection steps keep scikit-learn's estimator contract: every check of
`sklearn.utils.estimator_checks` (array-likes in, arrays out; DataFrames keep their column names;
n_features_in_ / feature_names_in_; set_output; clone, pickle, unfitted errors, ...).

Where a check cannot apply it is named with the reason (`EXPECTED`): a step must accept a table
without columns, because an earlier step may keep no feature and the study's pipeline then goes on
to the intercept-only radscore (tests/modeling/test_selection.py). IccFilter is checked as it runs
without a second reader (every feature passes): with `reader2` it pairs patients by the
DataFrame's index, which arrays do not have, and it says so.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from deltarad.modeling.selection import CorrelationFilter, IccFilter, LassoSelector, TTestFilter, ZScore

ZERO_FEATURES = (
    "a table without columns is taken (an earlier step kept no feature: the pipeline goes on "
    "to the intercept-only radscore)"
)
STEPS = [
    IccFilter(),
    ZScore(),
    TTestFilter(),
    CorrelationFilter(),
    LassoSelector(folds=3, n_lambdas=12),
]  # fewer folds and penalties: the contract, in less time
EXPECTED = {type(step).__name__: {"check_estimators_empty_data_messages": ZERO_FEATURES} for step in STEPS}


@parametrize_with_checks(STEPS, expected_failed_checks=lambda step: EXPECTED[type(step).__name__])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "step", [ZScore(), TTestFilter(alpha=0.5), CorrelationFilter(corr_max=0.95), LassoSelector(folds=3)]
)
def test_arrays_give_arrays_and_dataframes_give_the_same_numbers_with_their_names(step):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    x = rng.normal(size=(60, 6)) + np.outer(y, [1.5, 1.0, 0, 0, 0, 0])
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(6)], index=[f"P{i}" for i in range(60)])
    on_array = step.__class__(**step.get_params()).fit(x, y)
    on_frame = step.__class__(**step.get_params()).fit(frame, y)
    out_array, out_frame = on_array.transform(x), on_frame.transform(frame)
    assert isinstance(out_array, np.ndarray) and isinstance(out_frame, pd.DataFrame)
    assert list(out_frame.columns) == list(on_frame.get_feature_names_out()) and list(out_frame.index) == list(
        frame.index
    )
    assert [f"x{name[1:]}" for name in out_frame.columns] == list(on_array.get_feature_names_out())
    assert np.array_equal(out_array, out_frame.to_numpy())
    assert not hasattr(on_array, "feature_names_in_") and list(on_frame.feature_names_in_) == list(frame.columns)
    as_pandas = step.__class__(**step.get_params()).set_output(transform="pandas").fit(x, y).transform(x)
    assert list(as_pandas.columns) == list(on_array.get_feature_names_out())


def test_icc_filter_with_a_second_reader_needs_patient_ids():
    x = np.random.default_rng(0).normal(size=(10, 3))
    reader2 = pd.DataFrame(x, index=[f"P{i}" for i in range(10)], columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="indexed by patient_id"):
        IccFilter(reader2).fit(x)
