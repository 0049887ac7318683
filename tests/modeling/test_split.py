import numpy as np
import pytest

from deltarad.modeling.split import random_split, random_split_lengths, study_split, torch_randperm

from torch_reference import RANDPERM_300_SEED_123, VALIDATION_INDICES


def test_method_md_permutation_start():
    assert torch_randperm(187, 0)[:10].tolist() == [109, 124, 95, 59, 122, 126, 186, 170, 175, 184]


def test_study_sizes_57_130():
    assert random_split_lengths(187, (0.3, 0.7)) == [57, 130]


@pytest.mark.parametrize("n,seed", sorted(VALIDATION_INDICES))
def test_matches_torch_random_split(n, seed):
    validation, training = random_split(n, (0.3, 0.7), seed)
    assert validation.tolist() == VALIDATION_INDICES[(n, seed)]
    assert sorted(np.concatenate([validation, training]).tolist()) == list(range(n))


def test_matches_torch_randperm():
    assert torch_randperm(300, 123).tolist() == RANDPERM_300_SEED_123


def test_study_split_marks_validation_first_subset_in_file_order():
    ids = [f"P{i:03d}" for i in range(187)]
    split = study_split(ids, 0.3, 0)
    assert split["patient_id"].tolist() == ids
    assert (split["set"] == "validation").sum() == 57
    assert split.loc[109, "set"] == "validation"
    assert set(np.flatnonzero(split["set"] == "validation")) == set(VALIDATION_INDICES[(187, 0)])
