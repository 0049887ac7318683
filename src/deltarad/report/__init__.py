"""The report a person opens: one self-contained HTML page with the figures and tables of a run."""
from deltarad.report.html import build_report

__all__ = ["build_report"]
