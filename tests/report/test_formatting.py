"""deltarad.formatting, the one formatter of the XLSX/HTML table copies, the report and the patient
sheets: the cases where the two formatters it replaced disagreed, each decided one way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deltarad.formatting import format_p, format_value, is_p_column, journal_format


@pytest.mark.parametrize(
    "name", ["p", "P", "p_value", "P value", "p-value", "delong_p", "idi_p", "Univariate P", "p_adjusted"]
)
def test_p_columns_are_known_by_name_in_any_case(name) -> None:
    assert is_p_column(name)


@pytest.mark.parametrize("name", ["ppv", "npv", "pcr", "n", "spearman_rho", "group"])
def test_other_columns_are_not_p_columns(name) -> None:
    assert not is_p_column(name)


def test_text_stays_text_even_when_it_reads_as_a_number() -> None:
    assert format_value("007") == "007"  # a pseudonym, not the number 7
    assert format_p("<0.001") == "<0.001"  # already formatted: kept, not blanked
    assert format_value("49.1 ± 9.8") == "49.1 ± 9.8"


def test_integers_booleans_and_blanks() -> None:
    assert format_value(np.int64(130)) == "130" and format_value(10**16) == "10000000000000000"
    assert format_value(3.0) == "3.000"  # a real number that happens to be whole keeps its decimals
    assert format_value(np.True_) == "True" and format_value(False) == "False"
    assert format_value(None) == format_value(float("nan")) == format_value(pd.NA) == format_value(" ") == ""


def test_diverged_estimates_in_scientific_notation() -> None:
    assert format_value(219036155.9) == "2.19e+08"  # an odds ratio's upper bound under separation
    assert format_value(999999.4) == "999999.400"
    assert format_value(float("inf")) == "inf"  # said, not blanked


def test_journal_format_formats_each_cell_by_its_column() -> None:
    df = pd.DataFrame(
        {"model": ["a", "b"], "auc": [0.81234, np.nan], "tp": [3, 4], "p_value": [0.0001234, 0.25], "mixed": ["x", 0.5]}
    )
    shown = journal_format(df)
    assert shown.values.tolist() == [["a", "0.812", "3", "<0.001", "x"], ["b", "", "4", "0.250", "0.500"]]
