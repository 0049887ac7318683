"""The study's random split, reproduced bit for bit without torch.

torch.utils.data.random_split(range(n), [validation_fraction, 1 - validation_fraction],
generator=torch.Generator().manual_seed(seed)) gives the validation set first. torch's CPU
randperm is a Fisher-Yates shuffle driven by the raw 32-bit outputs of MT19937 seeded with the
classic init_genrand(seed), which numpy's RandomState reproduces exactly.

torch takes any seed in [-2^63, 2^64): `Generator.manual_seed` reads it as a uint64 (a negative
one as its two's complement) and at::mt19937 initialises its state from the low 32 bits
(`state_[0] = seed & 0xffffffff`, ATen/core/MT19937RNGEngine.h), so seed and seed mod 2^32 give
the same permutation; here likewise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: The seeds torch.Generator().manual_seed accepts: int64 or uint64.
TORCH_SEED_MIN, TORCH_SEED_END = -(2**63), 2**64


def torch_randperm(n: int, seed: int) -> np.ndarray:
    """torch.randperm(n, generator=torch.Generator().manual_seed(seed)) on the CPU."""
    seed = int(seed)
    if not TORCH_SEED_MIN <= seed < TORCH_SEED_END:
        raise ValueError(f"seed {seed} is outside what torch's manual_seed takes: -2^63 <= seed < 2^64")
    raw = np.random.RandomState(seed % 2**32)._bit_generator.random_raw(max(n - 1, 0))
    perm = np.arange(n, dtype=np.int64)
    for i in range(n - 1):
        j = i + int(raw[i]) % (n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def random_split_lengths(n: int, fractions: tuple[float, ...]) -> list[int]:
    """Subset lengths as torch computes them from fractions (floors, remainder round-robin)."""
    lengths = [math.floor(n * f) for f in fractions]
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    return lengths


def random_split(n: int, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Indices of each subset, as torch.utils.data.random_split returns them."""
    perm = torch_randperm(n, seed)
    bounds = np.cumsum([0, *random_split_lengths(n, fractions)])
    return [perm[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def study_split(patient_ids: pd.Series | list[str], validation_fraction: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """split.csv: patient_id, set (training | validation), over the cohort in file order."""
    ids = list(patient_ids)
    validation, _ = random_split(len(ids), (validation_fraction, 1 - validation_fraction), seed)
    sets = np.full(len(ids), "training", dtype=object)
    sets[validation] = "validation"
    return pd.DataFrame({"patient_id": ids, "set": sets})
