import numpy as np
import pytest
from torch_reference import RANDPERM_300_SEED_123, VALIDATION_INDICES

from deltarad.modeling.split import random_split, random_split_lengths, study_split, torch_randperm


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


@pytest.mark.parametrize(
    "n,seed,large",
    [(10, 0, 2**32), (57, 42, 2**33 + 42), (1000, 7, 2**64 - 2**32 + 7), (187, 1, -(2**32) + 1), (187, 0, -(2**63))],
)
def test_a_seed_beyond_32_bits_splits_as_torch_does(n, seed, large):
    """torch seeds its MT19937 with the low 32 bits of the uint64 seed (a negative seed as its two's
    complement: ATen/core/MT19937RNGEngine.h, torch/csrc/Generator.cpp): its recorded split for `seed`
    is its split for every seed with the same low 32 bits."""
    assert large % 2**32 == seed
    validation, _ = random_split(n, (0.3, 0.7), large)
    assert validation.tolist() == VALIDATION_INDICES[(n, seed)]


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1])
def test_a_seed_torch_refuses_is_refused_here_and_in_the_study_file(seed):
    from pydantic import ValidationError

    from deltarad.config import SplitSettings

    with pytest.raises(ValueError, match="-2\\^63 <= seed < 2\\^64"):
        random_split(10, (0.3, 0.7), seed)
    with pytest.raises(ValidationError):
        SplitSettings(seed=seed)
    assert SplitSettings(seed=seed - 1 if seed > 0 else seed + 1).seed == (seed - 1 if seed > 0 else seed + 1)
