"""Grouped inner folds make the optimism bootstrap mimic the procedure on new patients.

The nested reference comes from the generator itself: the same procedure fitted on fresh
training sets of the same size, each measured on a large independent test set, gives how many
features the procedure really selects and its real expected optimism (apparent AUC minus the
AUC on new patients). A bootstrap resample should behave like such a fresh set. With copies of
one patient on both sides of the LASSO's inner folds it does not: the CV error is optimistic,
the penalty smaller, more noise features enter, and the optimism is overstated.
"""

import numpy as np
import pytest

from deltarad.cohort import load_cohort_cases
from deltarad.config import load_study
from deltarad.modeling.pipeline import fit_model
from deltarad.modeling.validation import _model_performance, _quiet, validate_procedure
from deltarad.simulate import generate_feature_study
from deltarad.workflow import delta_features, load_features

RADSCORES = ("radscore_dir", "radscore_dpr")


def _table(path, n, seed):
    study = load_study(generate_feature_study(path, n_patients=n, n_features=40, n_planted=3, effect=0.8, seed=seed))
    study = study.model_copy(update={"selection": study.selection.model_copy(update={"lasso_folds": 3})})
    cohort, failures = load_cohort_cases(study)
    features, _ = load_features(study, cohort, path)
    delta, info, _ = delta_features(features, cohort, failures)
    return study, cohort, delta, info


def _fit(table):
    study, cohort, delta, info = table
    return fit_model(study, cohort, delta, info, list(cohort["patient_id"]))[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Features selected per region and AUC optimism per radscore, averaged over 8 fresh
    training sets of 130 patients measured on 3000 new ones."""
    _, big, big_delta, _ = _table(tmp_path_factory.mktemp("big"), 3000, 999)
    n_selected, optimism = [], []
    with _quiet():
        for seed in range(100, 108):
            table = _table(tmp_path_factory.mktemp(f"fresh{seed}"), 130, seed)
            model = _fit(table)
            apparent = _model_performance(model, table[1], table[2], "outcome")
            new = _model_performance(model, big, big_delta, "outcome")
            n_selected.append(np.mean([len(p["features"]) for p in model["radscores"].values()]))
            optimism.append([apparent[m]["auc"] - new[m]["auc"] for m in RADSCORES])
    return float(np.mean(n_selected)), np.mean(optimism, axis=0)


def test_grouped_folds_move_selection_and_optimism_toward_the_nested_reference(tmp_path, reference):
    ref_selected, ref_optimism = reference
    study, cohort, delta, info = table = _table(tmp_path, 130, 100)
    model, train = _fit(table), list(cohort["patient_id"])
    runs = {
        grouped: validate_procedure(
            study, cohort, delta, info, model, train, bootstrap=10, workers=1, grouped_folds=grouped
        )
        for grouped in (False, True)
    }
    selected = {g: v.frequency.groupby("region")["bootstrap_frequency"].sum().mean() for g, v in runs.items()}
    optimism = {
        g: v.table[v.table["metric"] == "auc"].set_index("model").loc[list(RADSCORES), "optimism"].to_numpy()
        for g, v in runs.items()
    }
    # leaky folds select about 50% more features than the procedure does on fresh patients
    assert selected[False] > 1.2 * ref_selected
    assert abs(selected[True] - ref_selected) < abs(selected[False] - ref_selected)
    assert np.all(optimism[True] < optimism[False])
    assert abs(optimism[True].mean() - ref_optimism.mean()) < abs(optimism[False].mean() - ref_optimism.mean())
