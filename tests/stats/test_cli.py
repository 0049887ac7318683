"""The three table commands, end to end on aSAH through the real CLI."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from deltarad.cli import app

runner = CliRunner()


@pytest.fixture()
def asah_csv(tmp_path, stats_data):
    df = pd.read_csv(stats_data / "aSAH.csv").drop(columns=["outcome", "gos6"])
    df["split"] = ["validation" if i % 3 == 0 else "training" for i in range(len(df))]
    path = tmp_path / "asah.csv"
    df.to_csv(path, index=False)
    return path


def test_table1_command(asah_csv, tmp_path):
    out = tmp_path / "T1.csv"
    res = runner.invoke(app, ["table1", str(asah_csv), "--outcome", "poor", "--by", "split",
                              "--vars", "gender,age,wfns,s100b", "--categorical", "wfns", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    t1 = pd.read_csv(out)
    assert set(t1.set) == {"training", "validation"} and out.with_suffix(".xlsx").exists()
    assert t1[t1.variable == "wfns"].test.dropna().iloc[0] == "Fisher exact"


def test_logistic_command(asah_csv, tmp_path):
    out = tmp_path / "T2.csv"
    res = runner.invoke(app, ["logistic", str(asah_csv), "--outcome", "poor", "--vars", "gender,age,s100b",
                              "--entry-p", "0.05", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    t2 = pd.read_csv(out)
    assert t2[t2.analysis == "multivariate"].variable.tolist() == ["age", "s100b"]


def test_logistic_command_warns_on_separation(tmp_path):
    data = tmp_path / "sep.csv"
    pd.DataFrame({"y": [0, 0, 0, 1, 1, 1], "x": [1, 2, 3, 4, 5, 6]}).to_csv(data, index=False)
    res = runner.invoke(app, ["logistic", str(data), "--outcome", "y", "--out", str(tmp_path / "T2.csv")])
    assert res.exit_code == 0 and "separation" in res.output


def test_evaluate_command(asah_csv, tmp_path):
    out = tmp_path / "T3.csv"
    res = runner.invoke(app, ["evaluate", str(asah_csv), "--outcome", "poor", "--score", "s100b", "--score", "ndka",
                              "--by", "split", "--fit-set", "training", "--reference", "wfns", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    t3 = pd.read_csv(out)
    assert len(t3) == 6 and t3.set.tolist()[:3] == ["training"] * 3


def test_evaluate_without_by_matches_proc(asah_csv, tmp_path):
    out = tmp_path / "T3.csv"
    res = runner.invoke(app, ["evaluate", str(asah_csv), "--outcome", "poor", "--score", "ndka", "--out", str(out)])
    assert res.exit_code == 0, res.output
    row = pd.read_csv(out).iloc[0]
    assert row.set == "all" and round(row.auc_ci_low, 9) == 0.501244999


def test_missing_column_is_a_one_line_error(asah_csv, tmp_path):
    res = runner.invoke(
        app, ["evaluate", str(asah_csv), "--outcome", "poor", "--score", "nope", "--out", str(tmp_path / "x.csv")]
    )
    assert res.exit_code == 2
    assert "nope" in res.output and str(asah_csv) in res.output and "Traceback" not in res.output
