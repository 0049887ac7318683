"""Files on disk: rendering (report/) gives bytes, deltarad.outputs lays them out beside the
report, and no module but outputs (and the store and demo generators) writes a file itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from deltarad import outputs
from deltarad.report import figures
from deltarad.report.tables import xlsx_bytes

REPORT_PACKAGE = Path(figures.__file__).parent


def _roc_figure():
    pts = pd.DataFrame({"fpr": [0.0, 0.25, 1.0], "tpr": [0.0, 0.75, 1.0]})
    return figures.roc_curves({"validation": {"combined": pts}}, {"validation": {"combined": "Combined"}})


def test_a_figure_renders_to_the_same_bytes_twice_and_is_written_as_rendered(tmp_path):
    first, second = figures.render(_roc_figure()), figures.render(_roc_figure())
    assert first.png.startswith(b"\x89PNG") and first.svg.lstrip().startswith(b"<?xml")
    assert (first.png, first.svg) == (second.png, second.svg)  # no dates, fixed SVG ids
    assert first.width_px == round(4.6 * 96)  # one panel of 4.6 inches at 96 CSS pixels per inch
    links = outputs.write_figure(tmp_path, "roc", first.png, first.svg)
    assert links == ["figures/roc.png", "figures/roc.svg"]
    assert (tmp_path / links[0]).read_bytes() == first.png
    assert (tmp_path / links[1]).read_bytes() == first.svg
    assert not list((tmp_path / "figures").glob(".*.part"))  # atomic: no temporary left behind


def test_xlsx_bytes_hold_the_values_in_a_sheet_cut_to_excels_31_characters(tmp_path):
    df = pd.DataFrame({"feature": ["a", "b"], "coefficient": [0.125, -2.5]})
    sheet = "Selected features of the final model, both regions"
    link = outputs.write_report_xlsx(tmp_path, "selected", xlsx_bytes(df, sheet))
    assert link == "tables/selected.xlsx"
    back = pd.read_excel(tmp_path / link, sheet_name=None)
    assert list(back) == [sheet[:31]]
    pd.testing.assert_frame_equal(back[sheet[:31]], df)


def test_a_run_table_is_copied_only_beside_a_report_outside_the_run(tmp_path):
    run = tmp_path / "run"
    (run / "tables").mkdir(parents=True)
    (run / "tables" / "table3.csv").write_text("set,auc\nvalidation,0.8\n", encoding="utf-8")
    elsewhere = tmp_path / "supplement"
    assert outputs.copy_run_table(run, elsewhere, "table3") == "tables/table3.csv"
    assert (elsewhere / "tables" / "table3.csv").read_bytes() == (run / "tables" / "table3.csv").read_bytes()
    assert outputs.copy_run_table(run, run, "table3") == "tables/table3.csv"  # in place: the run's own file
    assert outputs.copy_run_table(run, elsewhere, "validation") is None
    assert not (elsewhere / "tables" / "validation.csv").exists()


def test_a_qc_image_is_linked_in_place_or_copied_into_qc_with_its_url_quoted(tmp_path):
    run = tmp_path / "run"
    image = run / "regions" / "P 01" / "qc_baseline.png"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\x89PNG not really")
    assert outputs.link_qc_image(run, run, "P 01/qc_baseline.png") == "regions/P%2001/qc_baseline.png"
    assert not (run / "qc").exists()
    elsewhere = tmp_path / "out"
    assert outputs.link_qc_image(run, elsewhere, "P 01/qc_baseline.png") == "qc/P%2001/qc_baseline.png"
    assert (elsewhere / "qc" / "P 01" / "qc_baseline.png").read_bytes() == image.read_bytes()


def test_the_report_defaults_into_the_run_folder_and_sheets_go_to_sheets(tmp_path):
    assert outputs.report_path(tmp_path) == tmp_path / "report.html"
    page = outputs.write_patient_sheet(tmp_path, "DEMO001", "<html>é</html>")
    assert page == tmp_path / "sheets" / "DEMO001.html"
    assert page.read_text(encoding="utf-8") == "<html>é</html>"


def test_write_check_writes_the_three_check_tables(tmp_path):
    class Result:  # the three tables of a preflight.StudyCheck
        exams = pd.DataFrame({"patient_id": ["P1"], "timepoint": ["baseline"], "tumour_ml": [1.5]})
        patients = pd.DataFrame({"patient_id": ["P1"], "status": ["ok"]})
        coding = pd.DataFrame({"column": ["us"], "value": ["1"], "maps_to": [1], "patients": [1]})

    written = outputs.write_check(tmp_path, Result())
    assert [p.name for p in written] == ["check.csv", "check_patients.csv", "check_coding.csv"]
    for path, table in zip(written, (Result.exams, Result.patients, Result.coding)):
        pd.testing.assert_frame_equal(pd.read_csv(path, dtype={"value": str}), table)


PACKAGE = REPORT_PACKAGE.parent
#: The modules that write files themselves: the outputs module and its atomic primitives, the
#: feature store (the resumable cache of finished exams) and the demo-data generators.
OWN_WRITERS = {
    "outputs.py",
    "runfolder.py",
    "atomic.py",
    "features/store.py",
    "simulate.py",
    "synthetic/cohort.py",
    "synthetic/dicom_writer.py",
    "synthetic/readers.py",
}
RENDERING_ONLY = sorted(p for p in PACKAGE.rglob("*.py") if str(p.relative_to(PACKAGE)) not in OWN_WRITERS)
WRITERS = {
    "write_text",
    "write_bytes",
    "write_csv",
    "write_json",
    "atomic_path",
    "copyfile",
    "to_csv",
    "to_excel",
    "to_parquet",
    "WriteImage",
    "savez",
}


@pytest.mark.parametrize("module", RENDERING_ONLY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_but_outputs_writes_a_file(module):
    """Every file of a run folder goes through deltarad.outputs; a savefig or to_excel into memory is rendering."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    named = {n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "") for n in calls}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not (named & (WRITERS - {"to_excel"})), f"{module.name} writes a file: {sorted(named & WRITERS)}"
    assert not imported & {"deltarad.atomic", "shutil"}
    assert "to_excel" not in named or module.name == "tables.py"  # report.tables.xlsx_bytes: into a BytesIO
