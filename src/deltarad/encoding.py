"""One encoder of categories, used by the combined model's fit, the model file, scoring and Table 2:
`Encoding` codes one variable, `design_columns` builds a design (without intercept) from encodings.

Categories are compared by value, not by their text: a number is the same level however a table
writes it (1, 1.0, "1", " 1 "), numbers are ordered as numbers (9 before 10) and before text, and
text is compared after stripping surrounding whitespace (case-folding belongs to a declared
coding, applied when the cohort is read). The reference level is the first in value order, as R's
sorted factor levels make it, unless the study names another. Levels keep their JSON type in the
model file: numbers as numbers, text as text, the reference first.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deltarad.errors import DeltaradError

Level = int | float | str

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def level_of(value: object) -> Level | None:
    """The canonical level of one cell: None when missing (NaN, None, blank), a number (an int
    when integral) for a number or a text that is a number, else the stripped text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (numbers.Number, np.number)) and not isinstance(value, complex):
        number = float(value)  # type: ignore[arg-type]  # a real number (complex excluded above)
        if math.isnan(number):
            return None
        return int(number) if number.is_integer() else number
    text = str(value).strip()
    if text == "":
        return None
    if _NUMBER.fullmatch(text):
        return level_of(float(text))
    return text


def sort_key(level: Level) -> tuple:
    """Value order: numbers by value first, then text (by code point, as R's C locale)."""
    return (0, level, "") if isinstance(level, (int, float)) else (1, 0, level)


def levels_in(values: Iterable) -> list[Level]:
    """The distinct levels of `values` (missing ones left out), in value order."""
    return sorted({lvl for lvl in map(level_of, values) if lvl is not None}, key=sort_key)


def label(level: Level | None) -> str:
    """A level as it is shown and named in design columns: 1, 1.5, luminal A (a number in its
    shortest exact form, so two levels never share a name)."""
    return str(level)


def shown(value: object) -> str:
    """A raw cell for an error message: 'text', a number as written, or missing."""
    lvl = level_of(value)
    if lvl is None:
        return "missing"
    return repr(str(value).strip()) if isinstance(value, str) else label(lvl)


@dataclass(frozen=True)
class Encoding:
    """How one variable becomes design columns: numeric (levels None), or categorical with one
    0/1 column `name[level]` per level other than the reference, which is `levels[0]`.

    `levels` are kept as stored (a model file of deltarad 0.1 stored them as text, e.g. '1.0'),
    and matched by value, so the same stored levels score 1, 1.0 and '1' alike.
    """

    name: str
    levels: tuple | list | None = None

    @classmethod
    def categorical(cls, name: str, values: Iterable, reference: object = None) -> Encoding:
        """Levels of `values` in value order, with `reference` (default the first) moved first."""
        levels = levels_in(values)
        if reference is not None:
            ref = level_of(reference)
            if ref not in levels:
                raise DeltaradError(
                    f"reference level {label(ref) if ref is not None else 'missing'!r} of "
                    f"'{name}' is not among its levels ({', '.join(map(label, levels))})"
                )
            levels = [ref, *(lvl for lvl in levels if lvl != ref)]
        return cls(name, tuple(levels))

    @classmethod
    def from_dict(cls, name: str, stored: Mapping) -> Encoding:
        """The encoding a model file stores: {"type": "numeric"} or {"type": "categorical", "levels": [...]}."""
        return cls(name, None if stored["type"] == "numeric" else tuple(stored["levels"]))

    @property
    def _keys(self) -> list[Level | None]:
        return [level_of(lvl) for lvl in self.levels or ()]

    def _label(self, stored: object) -> str:
        return stored if isinstance(stored, str) else label(level_of(stored))

    @property
    def columns(self) -> list[str]:
        if self.levels is None:
            return [self.name]
        return [f"{self.name}[{self._label(lvl)}]" for lvl in self.levels[1:]]

    @property
    def level_labels(self) -> list[str]:
        """Each level as shown, the reference first."""
        return [self._label(lvl) for lvl in self.levels] if self.levels is not None else []

    def unseen(self, values: pd.Series) -> pd.Series:
        """True where a present value cannot be encoded: a level not among `levels`, or for a
        numeric variable a value that is not a number."""
        if self.levels is None:
            return pd.Series(
                [not (lvl is None or isinstance(lvl, (int, float))) for lvl in map(level_of, values)],
                index=values.index,
            )
        keys = set(self._keys)
        return pd.Series([(lvl is not None and lvl not in keys) for lvl in map(level_of, values)], index=values.index)

    def encode(self, values: pd.Series) -> pd.DataFrame:
        """The design columns of `values` (index kept); a missing value gives NaN in each column.
        A value that cannot be encoded (see `unseen`) is an error naming the row's index (the patient)."""
        unseen = self.unseen(values)
        if unseen.any():
            where = unseen.index[np.flatnonzero(unseen.to_numpy())[0]]
            raise DeltaradError(self.unseen_message(values[where]), patient=str(where))
        codes = [level_of(v) for v in values]
        if self.levels is None:
            return pd.DataFrame({self.name: [np.nan if c is None else float(c) for c in codes]}, index=values.index)
        columns = {
            col: [np.nan if c is None else float(c == key) for c in codes]
            for col, key in zip(self.columns, self._keys[1:])
        }
        return pd.DataFrame(columns, index=values.index, dtype=float)

    def unseen_message(self, value: object) -> str:
        if self.levels is None:
            return f"'{self.name}' = {shown(value)} is not a number"
        return f"'{self.name}' = {shown(value)} was not seen in training (levels: {', '.join(self.level_labels)})"

    def to_dict(self) -> dict:
        if self.levels is None:
            return {"type": "numeric"}
        return {"type": "categorical", "levels": [level_of(lvl) for lvl in self.levels]}


def encodings_for(
    df: pd.DataFrame,
    variables: Iterable[str],
    categorical: Iterable[str] = (),
    reference_levels: Mapping[str, object] | None = None,
) -> list[Encoding]:
    """Numeric columns stay numeric; text columns and those named `categorical` get their levels
    in value order, the reference first (`reference_levels[variable]`, else the first level)."""
    categorical, reference_levels = set(categorical), dict(reference_levels or {})
    out = []
    for v in variables:
        if v in categorical or not pd.api.types.is_numeric_dtype(df[v]):
            out.append(Encoding.categorical(v, df[v], reference_levels.get(v)))
        elif v in reference_levels:
            raise DeltaradError(f"a reference level is set for '{v}', which is numeric: list it under categorical")
        else:
            out.append(Encoding(v))
    return out


def design_columns(df: pd.DataFrame, encodings: Iterable[Encoding]) -> pd.DataFrame:
    """The design columns of `encodings` from the raw variables of `df` (index kept), in the
    encodings' order; no intercept column (the fitter adds it)."""
    parts = [e.encode(df[e.name]) for e in encodings]
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)
