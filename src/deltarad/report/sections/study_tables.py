"""Tables 1 and 2 of the study (tables/table1.csv, table2.csv): shown in the journal's layout
(deltarad.report.journal) when they are the long tables `deltarad run` writes, else cell by cell."""

from __future__ import annotations

from collections.abc import Callable

from deltarad import runfolder
from deltarad.formatting import journal_format
from deltarad.report.journal import journal_layout
from deltarad.report.page import Builder, Section
from deltarad.report.record import study_ultrasound
from deltarad.report.run import Unavailable, radscore_variable_labels


def study_table(name: str, caption: str) -> Callable[[Builder, Section], None]:
    """The section of tables/`name`.csv (name: table1, table2)."""

    def make(b: Builder, sec: Section) -> None:
        df = b.run.csv(f"{runfolder.TABLES}/{name}.csv")
        label = name.replace("table", "Table ")
        title = sec.title.removeprefix(f"{label}. ")
        try:
            labels = {**radscore_variable_labels(b.run.design), "n": "Patients, n"}
        except Unavailable:
            labels = None
        journal = journal_layout(name, df, study_ultrasound(b.run), labels)
        item = b.table(
            journal_format(df) if journal is None else journal, title, caption, label=label, source=df, name=name
        )
        if journal is not None:  # the journal's layout as a sheet too; tables/<name>.xlsx keeps the values
            item.files.append(b.xlsx(f"{name}_journal", journal, title))
        sec.items.append(item)

    return make


table1 = study_table(
    "table1",
    "Each characteristic by outcome within each set. Continuous: mean ± SD (t-test) or "
    "median (IQR) (Mann-Whitney U); categorical: n (%) (chi-square or Fisher's exact test).",
)
table2 = study_table(
    "table2",
    "Univariate and multivariate logistic regression: beta, SE, Z, P and OR (95% CI); "
    "categorical variables against a reference level.",
)
