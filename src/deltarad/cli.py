"""The `deltarad` command line: a thin Typer app; each area registers its commands."""

from __future__ import annotations

import importlib

import typer

from deltarad import __version__

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Delta dual-region DCE-MRI radiomics for axillary lymph node response after neoadjuvant therapy.",
)

# Each module in deltarad.commands defines register(app).
COMMAND_MODULES = ["modeling", "report", "extract", "stats", "demo", "validate", "check", "index"]

for _name in COMMAND_MODULES:
    importlib.import_module(f"deltarad.commands.{_name}").register(app)


@app.command()
def version() -> None:
    """Print the deltarad version."""
    typer.echo(__version__)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
