"""Surface: the report a person opens, one self-contained HTML page with the figures and tables of a
run folder (`deltarad.report.html.build_report`). Importing the package loads nothing."""
