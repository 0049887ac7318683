"""Table 3 with a model that could not score every patient, and nested training-set comparisons
marked optimistic (aSAH, with pROC's published DeLong values as the anchor)."""

import numpy as np
import openpyxl
import pandas as pd
import pytest

from deltarad.outputs import write_table
from deltarad.report.tables import NESTED_MARK, table3_display
from deltarad.stats.roc import delong_test
from deltarad.stats.tables import NESTED_NOTE, table3


def test_a_model_is_evaluated_on_the_patients_it_scored_the_others_on_all(asah):
    df = asah.copy()
    df.loc[df.index[:10], "s100b"] = np.nan  # s100b could not score 10 patients
    t3 = table3(df, "poor", ["s100b", "ndka"], reference="wfns").set_index("model")
    # ndka and wfns keep all 113 patients: pROC's published values
    assert t3.loc["ndka", "auc"] == pytest.approx(0.611957994579946, abs=1e-12)
    assert t3.loc["ndka", "delong_p"] == pytest.approx(0.00514557970691098, rel=1e-9)
    counts = t3[["tp", "fp", "tn", "fn"]].sum(axis=1)
    assert counts.to_dict() == {"s100b": 103, "ndka": 113, "wfns": 113}
    rest = asah.iloc[10:]
    assert t3.loc["s100b", "delong_p"] == pytest.approx(
        delong_test(rest["poor"], rest["s100b"], rest["wfns"])[1], rel=1e-12
    )
    assert t3.loc["s100b", "delong_p"] != pytest.approx(0.0271757822291882, rel=1e-3)  # not all 113


def test_nested_training_comparisons_are_flagged_validation_ones_not(asah):
    df = asah.assign(split=np.where(np.arange(len(asah)) % 3 == 0, "validation", "training"))
    t3 = table3(df, "poor", ["s100b", "ndka"], by="split", reference="wfns", nested=["s100b"])
    flagged = t3.loc[t3["nested_optimistic"], ["set", "model"]].values.tolist()
    assert flagged == [["training", "s100b"]]
    assert "nested_optimistic" not in table3(df, "poor", ["s100b"], by="split", reference="wfns").columns
    shown = table3_display(t3.assign(model_key=t3["model"]), {})
    assert shown.loc[0, "DeLong p vs US"].endswith(NESTED_MARK) and shown.loc[0, "IDI (p)"].endswith(NESTED_MARK)
    assert not shown.loc[1:, "DeLong p vs US"].str.contains(NESTED_MARK).any()


def test_the_footnote_is_written_below_the_table_in_xlsx_and_html(tmp_path):
    df = pd.DataFrame({"model": ["a"], "delong_p": [0.2], "nested_optimistic": [True]})
    csv, xlsx, html = write_table(df, tmp_path / "t3.csv", "Table 3", notes=[NESTED_NOTE])
    assert "Demler" in NESTED_NOTE and "Pepe" in NESTED_NOTE
    cells = [c.value for row in openpyxl.load_workbook(xlsx).active.iter_rows() for c in row if c.value]
    assert cells[-1] == NESTED_NOTE
    assert "Demler, Pencina &amp; D&#x27;Agostino" in html.read_text()
    assert "Demler" not in csv.read_text()


def test_the_report_shows_each_model_n(asah):
    df = asah.copy()
    df.loc[df.index[:10], "s100b"] = np.nan
    t3 = table3(df, "poor", ["s100b"], reference="wfns")
    t3.insert(2, "n", t3[["tp", "fp", "tn", "fn"]].sum(axis=1))
    shown = table3_display(t3.assign(model_key=t3["model"]), {})
    assert shown["n"].tolist() == ["103", "113"]
