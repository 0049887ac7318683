"""Declared codings: how a table spells each level of a column (the study file's `coding:`).

    coding:
      aln_pcr: {1: [pCR, "yes"], 0: [non-pCR, "no"]}
      ultrasound: {1: positive, 0: negative}
      er: {positive: [pos, "+"], negative: [neg, "-"]}

A cell matches a spelling after stripping whitespace and case-folding ("  PCR " is pCR); numbers
match by value (1, 1.0, "1"); a level matches itself too, unless the coding gives that value to
another level: `outcome: {1: [2], 0: [1]}` reads a table coded 2 = pCR, 1 = non-pCR (as SPSS
exports often are). A present value that matches no spelling is reported (the caller leaves that
patient out, naming the value), never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from deltarad.encoding import Level, label, level_of, shown


def spelling_key(value: object) -> Level | None:
    """What a cell is compared by: its level (deltarad.encoding.level_of), text case-folded."""
    lvl = level_of(value)
    return lvl.casefold() if isinstance(lvl, str) else lvl


def check_not_boolean(column: str, levels: Mapping) -> None:
    """YAML turns unquoted yes/no/true/false/on/off into booleans, which no longer say how the
    table spells them: a ValueError asking for quotes (run on the study file as read)."""
    for value in [*levels, *(s for spellings in levels.values() for s in spellings)]:
        if isinstance(value, bool):
            raise ValueError(f'{column}: YAML reads unquoted yes/no/true/false/on/off as booleans; quote them ("yes")')


def check_coding(column: str, levels: Mapping, *, binary: bool) -> None:
    """A ValueError naming the column unless every spelling belongs to one level (and, for the
    outcome and the ultrasound read, the levels are 0 and 1)."""
    keys = {level_of(lvl) for lvl in levels}
    if None in keys:
        raise ValueError(f"{column}: a level is blank")
    if binary and keys != {0, 1}:
        raise ValueError(
            f"{column}: the outcome and the ultrasound read are coded with levels 0 and 1, "
            f"got {', '.join(map(label, sorted(keys, key=str)))}"
        )
    seen: dict = {}
    for lvl, spellings in levels.items():
        for s in spellings:
            key = spelling_key(s)
            if key is None:
                raise ValueError(f"{column}: a blank spelling of level {label(level_of(lvl))}")
            if seen.setdefault(key, level_of(lvl)) != level_of(lvl):
                raise ValueError(f"{column}: {s!r} spells both {label(seen[key])} and {label(level_of(lvl))}")


class Coding:
    """One column's declared coding (validated by check_coding when the study file is read)."""

    def __init__(self, column: str, levels: Mapping):
        self.column = column
        self.levels = {level_of(lvl): [lvl, *spellings] for lvl, spellings in levels.items()}
        itself = {spelling_key(lvl): level_of(lvl) for lvl in levels}
        declared = {spelling_key(s): level_of(lvl) for lvl, spellings in levels.items() for s in spellings}
        self._lookup = {**itself, **declared}  # a declared spelling wins over another level's own value

    def describe(self) -> str:
        return "; ".join(
            f"{', '.join(dict.fromkeys(label(level_of(s)) for s in spellings[1:]))} = {label(lvl)}"
            if len(spellings) > 1
            else label(lvl)
            for lvl, spellings in self.levels.items()
        )

    def read(self, values: pd.Series) -> tuple[pd.Series, dict[int, str]]:
        """The levels of `values` (missing stays missing) and, by row position, the problem of each
        present value that the coding does not name."""
        out: list = []
        problems: dict[int, str] = {}
        for i, value in enumerate(values):
            key = spelling_key(value)
            if key is None:
                out.append(None)
            elif key in self._lookup:
                out.append(self._lookup[key])
            else:
                out.append(None)
                problems[i] = f"column '{self.column}': {shown(value)} is none of its coded values ({self.describe()})"
        levels = pd.Series(out, index=values.index, dtype=object)
        if all(isinstance(lvl, (int, float)) for lvl in self.levels):
            levels = pd.to_numeric(levels)
        return levels, problems
