"""docs/tutorial.md runs: every ```python block, in order, in one namespace, in a temporary folder
(its own asserts check what it shows: the planted signal found, lambda.min keeping at least as
many features as lambda.1se, the PNG written, the JSON round trip scoring the same)."""

from __future__ import annotations

import re
import time
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of each ```python block."""
    return [(text[: m.start(1)].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_tutorial_blocks_run_in_order(tmp_path, monkeypatch):
    blocks = python_blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "tutorial"}
    start = time.perf_counter()
    for line, code in blocks:
        # padded so a traceback names the tutorial's own line numbers
        exec(compile("\n" * (line - 1) + code, str(TUTORIAL), "exec"), namespace)
    assert time.perf_counter() - start < 60
    assert (tmp_path / "roc_calibration.png").is_file() and (tmp_path / "model.json").is_file()


def test_the_block_reader_finds_blocks_and_their_lines():
    text = "# t\n\n```python\nx = 1\n```\n\n```text\nnot run\n```\n```python\ny = 2\n```\n"
    assert python_blocks(text) == [(4, "x = 1\n"), (11, "y = 2\n")]
