"""No user input ends in a traceback: every command answers a wrong path, a damaged file or an
impossible table with one `error:` line and exit status 2."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.simulate import generate_feature_study

runner = CliRunner()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("no_tracebacks")
    study_file = generate_feature_study(d, n_patients=40, n_features=10, n_planted=2, seed=6)
    (d / "a_file").write_text("not a folder\n")
    return d, study_file


def _one_line_error(res, *fragments):
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    err = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(err) == 1, res.output
    for f in fragments:
        assert f in err[0], err[0]
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    "command",
    [
        ["run", "{study}"],
        ["predict", "{model}", "{study}"],
        ["validate", "{model}", "{study}"],
        ["extract", "{study}"],
        ["check", "{study}"],
        ["demo", "--features-only", "--patients", "20"],
    ],
)
def test_out_naming_an_existing_file(study, command):
    d, study_file = study
    args = [a.format(study=study_file, model=d / "model.json") for a in command]
    res = runner.invoke(app, [*args, "--out", str(d / "a_file")])
    _one_line_error(res, "a_file: --out names a file; give a folder")
    assert (d / "a_file").read_text() == "not a folder\n"


@pytest.mark.parametrize(
    "command",
    [
        ["table1", "{cohort}", "--outcome", "outcome"],
        ["logistic", "{cohort}", "--outcome", "outcome", "--vars", "age"],
        ["evaluate", "{cohort}", "--outcome", "outcome", "--score", "age"],
        ["report", "{d}"],
        ["index", "{d}"],
    ],
)
def test_out_naming_an_existing_folder_where_a_file_is_written(study, command):
    d, _ = study
    args = [a.format(cohort=d / "cohort.csv", d=d) for a in command]
    _one_line_error(runner.invoke(app, [*args, "--out", str(d)]), "--out names a folder; give a file name")


def test_out_inside_a_file_is_the_file_systems_one_line(study):
    d, study_file = study
    res = runner.invoke(app, ["run", str(study_file), "--out", str(d / "a_file" / "run")])
    _one_line_error(res, "Not a directory", "a_file")


def test_study_file_that_is_not_text(study, tmp_path):
    (tmp_path / "study.yaml").write_bytes(b"\xff\xfe\x00\x81 binary")
    _one_line_error(
        runner.invoke(app, ["run", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "o")]),
        "study.yaml",
        "not a UTF-8 text file",
    )


def test_model_file_without_the_parts_scoring_reads(study, tmp_path):
    _, study_file = study
    (tmp_path / "m.json").write_text(
        json.dumps(
            {
                "schema": "deltarad.model",
                "schema_version": 1,
                "outcome": "outcome",
                "ultrasound": "ultrasound",
                "radscores": {},
            }
        )
    )
    res = runner.invoke(app, ["predict", str(tmp_path / "m.json"), str(study_file), "--out", str(tmp_path / "p")])
    _one_line_error(res, "m.json", "lacks radscores.radscore_dir", "not written by deltarad run")


def test_cohort_where_no_patient_is_usable(study, tmp_path):
    d, study_file = study
    cohort = pd.read_csv(d / "cohort.csv", dtype={"patient_id": str})
    cohort.assign(outcome="unknown").to_csv(tmp_path / "cohort.csv", index=False)
    (tmp_path / "study.yaml").write_text(study_file.read_text().replace("features.csv", str(d / "features.csv")))
    _one_line_error(
        runner.invoke(app, ["run", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "o")]),
        "no usable patient: all 40 left out",
        "must be 0 or 1, got 'unknown'",
    )
    cohort.iloc[:0].to_csv(tmp_path / "cohort.csv", index=False)
    _one_line_error(
        runner.invoke(app, ["run", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "o")]),
        "cohort.csv",
        "the table has no patient rows",
    )


def test_a_score_column_of_text(study):
    d, _ = study
    res = runner.invoke(
        app,
        ["evaluate", str(d / "cohort.csv"), "--outcome", "outcome", "--score", "subtype", "--out", str(d / "t3.csv")],
    )
    _one_line_error(res, "cohort.csv", "score column(s) subtype hold text, not numbers")


def test_a_table_command_reads_a_semicolon_export(study):
    d, _ = study
    cohort = pd.read_csv(d / "cohort.csv", dtype={"patient_id": str})
    cohort.to_csv(d / "eu.csv", sep=";", decimal=",", index=False)
    res = runner.invoke(
        app, ["table1", str(d / "eu.csv"), "--outcome", "outcome", "--vars", "age,ca153", "--out", str(d / "t1.csv")]
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(d / "t1.csv")
    assert table["variable"].tolist() == ["n", "age", "ca153"] and table["test"].iloc[2] != ""


@pytest.mark.parametrize("key", ["selection.lasso_seed", "validation.seed", "missing.seed"])
def test_a_seed_numpy_cannot_take_is_refused_by_the_study_file_check(study, tmp_path, key):
    import yaml

    d, study_file = study
    settings = yaml.safe_load(study_file.read_text())
    section, name = key.split(".")
    settings.setdefault(section, {})[name] = 2**32
    seeded = d / f"study_{section}_seed.yaml"
    seeded.write_text(yaml.safe_dump(settings))
    res = runner.invoke(app, ["run", str(seeded), "--out", str(tmp_path / "o")])
    _one_line_error(res, name, "less than 4294967296")
