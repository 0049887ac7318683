"""The report a person opens: one self-contained HTML page with the figures and tables of a run.

`build_report` is imported on first use: importing deltarad.report loads no figure code."""

__all__ = ["build_report"]


def __getattr__(name: str):
    if name == "build_report":
        from deltarad.report.html import build_report

        return build_report
    raise AttributeError(f"module 'deltarad.report' has no attribute {name!r}")
