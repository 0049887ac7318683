"""Cohort tables as Excel and LibreOffice write them: a European "CSV" export (semicolon, decimal
comma, cp1252, CRLF), CSV UTF-8 with a BOM, Unicode text (UTF-16, tab), XLSX and ODS with several
sheets; outcome and ultrasound as text with a declared coding. Each reads to the same cohort as
the plain CSV, says what it sniffed, and every problem is one line naming file, line or patient."""

import logging

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml

from deltarad.cohort import load_cohort_cases
from deltarad.config import load_study
from deltarad.errors import StudyFileError
from deltarad.simulate import generate_feature_study
from deltarad.tablefile import read_table_file
from deltarad.workflow import run_study

MODELLED = ["patient_id", "outcome", "ultrasound", "age", "ca153", "subtype", "ki67"]
CODING = {"outcome": {1: ["pCR", "yes"], 0: ["non-pCR", "no"]}, "ultrasound": {1: "positive", 0: "negative"}}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A generated study (plain comma CSV) and its cohort as deltarad reads it."""
    d = tmp_path_factory.mktemp("plain")
    study_file = generate_feature_study(d, n_patients=60, n_features=12, n_planted=2, effect=1.2, seed=8)
    settings = yaml.safe_load(study_file.read_text())
    settings["selection"] = {"lasso_folds": 3}
    study_file.write_text(yaml.safe_dump(settings))
    raw = pd.read_csv(d / "cohort.csv", dtype={"patient_id": str})
    cohort, failures = load_cohort_cases(load_study(study_file))
    assert failures.empty
    return d, settings, raw, cohort


def _study(d, settings, cohort, **extra):
    plain_settings = {k: v for k, v in settings.items() if k != "features_file"}
    (d / "study.yaml").write_text(
        yaml.safe_dump({**plain_settings, "cohort": cohort, "features": str(settings["features_file"]), **extra})
    )
    return load_study(d / "study.yaml")


@pytest.fixture()
def where(plain, tmp_path):
    """A folder with a study file factory pointing at the plain study's feature table."""
    d, settings, _, _ = plain
    return tmp_path, {**settings, "features_file": d / "features.csv"}


def _as_text(raw: pd.DataFrame) -> pd.DataFrame:
    """Outcome and ultrasound spelled out, as clinical sheets often have them."""
    return raw.assign(
        outcome=np.where(raw["outcome"] == 1, "pCR", "non-pCR"),
        ultrasound=np.where(raw["ultrasound"] == 1, "positive", "negative"),
    )


def _european_csv(raw: pd.DataFrame, encoding: str = "cp1252") -> bytes:
    """Excel's "CSV" in a European locale: ';', decimal comma, CRLF, the Windows code page; an
    empty row (';;;') as Excel writes one for a blank spreadsheet row."""
    lines = [";".join(raw.columns)]
    for i, row in enumerate(raw.itertuples(index=False)):
        lines.append(";".join(f"{v:g}".replace(".", ",") if isinstance(v, float) else str(v) for v in row))
        if i == 10:
            lines.append(";" * (len(raw.columns) - 1))
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _same_cohort(cohort: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        cohort[MODELLED].reset_index(drop=True), expected[MODELLED].reset_index(drop=True), check_dtype=False
    )


def test_european_excel_csv_export_reads_as_the_plain_csv(plain, where, caplog):
    tmp, settings = where
    _, _, raw, expected = plain
    text = _as_text(raw).assign(site=["Hôpital Nord", "Clínica Sur"] * 30)
    (tmp / "kohorte.csv").write_bytes(_european_csv(text))
    with caplog.at_level(logging.INFO, logger="deltarad.tablefile"):
        cohort, failures = load_cohort_cases(_study(tmp, settings, "kohorte.csv", coding=CODING))
    assert failures.empty
    _same_cohort(cohort, expected)
    assert cohort["site"].iloc[:2].tolist() == ["Hôpital Nord", "Clínica Sur"]
    said = [r.getMessage() for r in caplog.records if "kohorte.csv" in r.getMessage()]
    assert len(said) == 1, said
    for part in ("delimiter ';' (sniffed)", "cp1252", "decimal ',' (columns ca153)", "60 rows"):
        assert part in said[0], said[0]


def test_the_same_run_from_the_european_export_and_from_the_plain_csv(plain, where):
    tmp, settings = where
    d, plain_settings, raw, _ = plain
    (tmp / "kohorte.csv").write_bytes(_european_csv(_as_text(raw), "utf-8"))
    european, _ = run_study(_study(tmp, settings, "kohorte.csv", coding=CODING), tmp / "out")
    (tmp / "plain.csv").write_bytes((d / "cohort.csv").read_bytes())
    reference, _ = run_study(_study(tmp, settings, "plain.csv"), tmp / "plain_out")
    for part in ("radscores", "references", "combined", "thresholds"):
        assert european.model[part] == reference.model[part], part
    pd.testing.assert_frame_equal(european.predictions, reference.predictions)


def test_csv_utf8_with_bom_and_line_numbers_in_errors(plain, where):
    tmp, settings = where
    _, _, raw, expected = plain
    (tmp / "bom.csv").write_bytes(b"\xef\xbb\xbf" + raw.to_csv(index=False, lineterminator="\r\n").encode())
    cohort, _ = load_cohort_cases(_study(tmp, settings, "bom.csv"))
    _same_cohort(cohort, expected)

    broken = raw.copy()
    broken.loc[2, "patient_id"] = " "
    broken.loc[6, "patient_id"] = broken.loc[4, "patient_id"]
    (tmp / "bad.csv").write_bytes(b"\xef\xbb\xbf" + broken.to_csv(index=False).encode())
    with pytest.raises(StudyFileError, match=r"bad\.csv: empty patient_id on line 4$"):
        load_cohort_cases(_study(tmp, settings, "bad.csv"))
    broken.loc[2, "patient_id"] = "X"
    broken.to_csv(tmp / "bad.csv", index=False)
    with pytest.raises(StudyFileError, match=rf"duplicate patient_id: {broken.loc[4, 'patient_id']} \(lines 6, 8\)"):
        load_cohort_cases(_study(tmp, settings, "bad.csv"))


def test_unicode_text_export_utf16_tab_and_pipe_delimited(plain, where):
    tmp, settings = where
    _, _, raw, expected = plain
    (tmp / "unicode.txt").write_bytes(raw.to_csv(index=False, sep="\t", lineterminator="\r\n").encode("utf-16"))
    _same_cohort(load_cohort_cases(_study(tmp, settings, "unicode.txt"))[0], expected)
    raw.to_csv(tmp / "pipe.csv", index=False, sep="|")
    _same_cohort(load_cohort_cases(_study(tmp, settings, "pipe.csv"))[0], expected)


def _workbook(raw: pd.DataFrame, path, numeric_ids: bool = False) -> None:
    """An XLSX as a clinician keeps it: numbers as numbers, a blank row, a codebook sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws.append(list(raw.columns))
    for i, row in enumerate(raw.itertuples(index=False)):
        values = [v.item() if hasattr(v, "item") else v for v in row]
        if numeric_ids:
            values[0] = 1000 + i
        ws.append(values)
        if i == 3:
            ws.append([])
    codebook = wb.create_sheet("Codebook")
    codebook.append(["column", "meaning"])
    codebook.append(["outcome", "pCR of the axillary nodes"])
    wb.save(path)


def test_xlsx_with_two_sheets_needs_the_sheet_named(plain, where, caplog):
    tmp, settings = where
    _, _, raw, expected = plain
    _workbook(_as_text(raw), tmp / "cohort.xlsx")
    with pytest.raises(
        StudyFileError,
        match=r"cohort\.xlsx: the cohort file has 2 sheets with data \('Patients', "
        r"'Codebook'\): name one with `sheet:`",
    ):
        load_cohort_cases(_study(tmp, settings, "cohort.xlsx", coding=CODING))
    with caplog.at_level(logging.INFO, logger="deltarad.tablefile"):
        cohort, failures = load_cohort_cases(
            _study(tmp, settings, {"path": "cohort.xlsx", "sheet": "Patients"}, coding=CODING)
        )
    assert failures.empty
    _same_cohort(cohort, expected)
    assert any("XLSX, sheet 'Patients'" in r.getMessage() for r in caplog.records)
    with pytest.raises(
        StudyFileError, match=r"no sheet 'Patient' in the cohort file \(sheets: 'Patients', 'Codebook'\)"
    ):
        load_cohort_cases(_study(tmp, settings, {"path": "cohort.xlsx", "sheet": "Patient"}, coding=CODING))


def test_xlsx_numeric_ids_are_text_and_rows_are_numbered_as_excel_shows_them(plain, where):
    tmp, settings = where
    _, _, raw, _ = plain
    _workbook(raw, tmp / "ids.xlsx", numeric_ids=True)
    cohort, _ = load_cohort_cases(_study(tmp, settings, {"path": "ids.xlsx", "sheet": 1}))
    assert cohort["patient_id"].iloc[:3].tolist() == ["1000", "1001", "1002"]
    wb = openpyxl.load_workbook(tmp / "ids.xlsx")
    wb["Patients"]["A8"] = 1000  # row 8 (after the blank row 6): the 6th patient gets the first one's id
    wb.save(tmp / "ids.xlsx")
    with pytest.raises(StudyFileError, match=r"duplicate patient_id: 1000 \(rows 2, 8\)"):
        load_cohort_cases(_study(tmp, settings, {"path": "ids.xlsx", "sheet": "Patients"}))


def test_libreoffice_ods_reads_as_the_plain_csv(plain, where, caplog):
    tmp, settings = where
    _, _, raw, expected = plain
    with pd.ExcelWriter(tmp / "cohort.ods", engine="odf") as ods:
        _as_text(raw).to_excel(ods, index=False, sheet_name="Kohorte")
    with caplog.at_level(logging.INFO, logger="deltarad.tablefile"):
        cohort, failures = load_cohort_cases(_study(tmp, settings, "cohort.ods", coding=CODING))
    assert failures.empty
    _same_cohort(cohort, expected)
    assert any("ODS, sheet 'Kohorte' (the only one with data)" in r.getMessage() for r in caplog.records)


def test_coded_values_case_insensitive_and_unknown_values_name_patient_column_and_value(plain, where):
    tmp, settings = where
    _, _, raw, expected = plain
    text = _as_text(raw)
    text.loc[0, "outcome"] = "  PCR "
    text.loc[1, "outcome"] = "Yes"
    text.loc[2, "outcome"] = "partial"
    text.loc[3, "ultrasound"] = None
    text.to_csv(tmp / "coded.csv", index=False)
    cohort, failures = load_cohort_cases(_study(tmp, settings, "coded.csv", coding=CODING))
    ids = raw["patient_id"]
    assert cohort.set_index("patient_id").loc[[ids[0], ids[1]], "outcome"].tolist() == [1, 1]
    assert failures.to_dict("records") == [
        {
            "patient_id": ids[2],
            "stage": "cohort",
            "error": "column 'outcome': 'partial' is none of its coded values (non-pCR, no = 0; pCR, yes = 1)",
        },  # as the (sorted) study file lists them
        {"patient_id": ids[3], "stage": "cohort", "error": "column 'ultrasound' is blank"},
    ]
    assert len(cohort) == len(expected) - 2


def test_a_text_value_in_a_decimal_comma_column_is_that_patients_problem(plain, where):
    tmp, settings = where
    _, _, raw, _ = plain
    text = raw.astype({"ca153": object})
    text.loc[5, "ca153"] = "n.d."
    (tmp / "nd.csv").write_bytes(_european_csv(text))
    cohort, failures = load_cohort_cases(_study(tmp, settings, "nd.csv"))
    assert failures.to_dict("records") == [
        {
            "patient_id": raw["patient_id"][5],
            "stage": "cohort",
            "error": "non-numeric value 'n.d.' in clinical column 'ca153' (list the column under categorical if it is a category)",
        }
    ]
    np.testing.assert_allclose(cohort["ca153"], raw["ca153"].drop(5), rtol=1e-12)


def test_two_possible_delimiters_are_refused_and_can_be_named(tmp_path):
    (tmp_path / "t.csv").write_text("a;b,c\n1;2,3\n4;5,6\n")
    with pytest.raises(
        StudyFileError, match=r"t\.csv: the table reads as a table with either delimiter \(',' and ';'\)"
    ):
        read_table_file(tmp_path / "t.csv", "table")
    table = read_table_file(tmp_path / "t.csv", "table", delimiter=";")
    assert table.frame.columns.tolist() == ["a", "b,c"] and table.frame["b,c"].tolist() == [2.3, 5.6]
    assert read_table_file(tmp_path / "t.csv", "table", delimiter=";", decimal=".").frame["b,c"].tolist() == [
        "2,3",
        "5,6",
    ]


@pytest.mark.parametrize(
    "content,problem",
    [
        (b"id;age;age\r\n1;2;3\r\n", r"column\(s\) 'age' appear more than once in the header \(line 1\)"),
        (b"id;;x\r\n1;5;2\r\n", "column 2 has values but no name in the header"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", r"the table is an old Excel \.xls workbook: save it as \.xlsx or CSV"),
        (b"PK\x03\x04broken", "cannot read the table"),
        (b"\r\n\r\n", "the table is empty"),
    ],
)
def test_files_that_cannot_be_read_are_one_line_naming_the_file(tmp_path, content, problem):
    (tmp_path / "t.csv").write_bytes(content)
    with pytest.raises(StudyFileError, match=rf"t\.csv: {problem}"):
        read_table_file(tmp_path / "t.csv", "table")


def test_id_columns_stay_text_as_written_and_blank_columns_are_dropped(tmp_path):
    (tmp_path / "t.csv").write_bytes(b"patient_id;age;\r\n007;45;\r\n010;50;\r\n")
    table = read_table_file(tmp_path / "t.csv", "table", text_columns=("patient_id",))
    assert table.frame.columns.tolist() == ["patient_id", "age"]
    assert table.frame["patient_id"].tolist() == ["007", "010"] and table.frame["age"].tolist() == [45, 50]
    with pytest.raises(StudyFileError, match="a sheet .* is named but the table is not a spreadsheet"):
        read_table_file(tmp_path / "t.csv", "table", sheet="Patients")


def test_excel_sep_line_sets_the_delimiter_and_counts_as_a_line(tmp_path):
    (tmp_path / "t.csv").write_bytes(b"sep=;\r\npatient_id;ca153\r\nP1;1,5\r\n;\r\n;2\r\n")
    with pytest.raises(StudyFileError, match="empty patient_id on line 5"):
        load_cohort_cases(load_study(_write(tmp_path, "cohort: t.csv\nclinical: [ca153]\n")))
    table = read_table_file(tmp_path / "t.csv", "table", text_columns=("patient_id",))
    assert table.read_as.startswith("delimiter ';' (Excel's sep= line)") and table.frame["ca153"].tolist() == [1.5, 2.0]


def _write(d, text):
    (d / "study.yaml").write_text(text)
    return d / "study.yaml"


@pytest.mark.parametrize(
    "text,problem",
    [
        ("coding: {outcome: {1: [pCR, yes], 0: [no]}}", r"quote them"),
        (
            "coding: {outcome: {1: pCR, 2: non-pCR}}",
            r"outcome: the outcome and the ultrasound read are coded with levels 0 and 1",
        ),
        ("coding: {er: {positive: [P], negative: [p]}}", r"er: 'p' spells both positive and negative"),
        (
            "clinical: [stage]\nreference_levels: {grade: 2}",
            r"'reference_levels': .*grade: not among the clinical variables",
        ),
        ("cohort: {path: c.xlsx, tab: 1}", r"unknown key 'cohort.tab'"),
    ],
)
def test_study_file_codings_and_references_are_checked(tmp_path, text, problem):
    body = text if text.startswith("cohort") else "cohort: c.csv\n" + text
    with pytest.raises(StudyFileError, match=problem):
        load_study(_write(tmp_path, body + "\n"))


def test_study_file_table_forms(tmp_path):
    plain = load_study(_write(tmp_path, "cohort: c.csv\nfeatures: f.csv\n"))
    assert plain.cohort_path == tmp_path / "c.csv" and plain.cohort.sheet is None
    assert plain.features_path == tmp_path / "f.csv"
    full = load_study(_write(tmp_path, "cohort: {path: c.ods, sheet: 2019}\ncoding: {outcome: {1: pCR, 0: non-pCR}}\n"))
    assert full.cohort_path == tmp_path / "c.ods" and full.cohort.sheet == 2019  # a sheet named 2019, else the 2019th
    assert full.coding == {"outcome": {1: ["pCR"], 0: ["non-pCR"]}}


def test_a_coding_may_give_a_levels_own_value_to_another_level(tmp_path):
    """SPSS-style 2 = pCR, 1 = non-pCR: `{1: [2], 0: [1]}` reads 1 as 0, since the declared
    spelling wins over level 1's own value; a value the coding does not name is refused."""
    (tmp_path / "c.csv").write_text("patient_id,outcome,ultrasound\nP1,2,1\nP2,1,0\nP3,3,0\nP4,2,0\n")
    study = load_study(_write(tmp_path, "cohort: c.csv\ncoding: {outcome: {1: [2], 0: [1]}}\n"))
    cohort, failures = load_cohort_cases(study)
    assert dict(zip(cohort["patient_id"], cohort["outcome"])) == {"P1": 1, "P2": 0, "P4": 1}
    assert failures["patient_id"].tolist() == ["P3"]
    assert "3 is none of its coded values (2 = 1; 1 = 0)" in failures["error"].iloc[0]
