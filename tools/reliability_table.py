"""Render the bad-input table of docs/reliability.md from tests/security/test_bad_input_table.py.

The test module's ``CASES`` hold every row (the bad input and the exact error); the test runs
each row and also checks that the committed doc shows exactly what this script renders.

Usage::

    python tools/reliability_table.py           # print the table
    python tools/reliability_table.py --write   # replace the table in docs/reliability.md
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "security" / "test_bad_input_table.py"


def load_cases() -> ModuleType:
    """The test module (``CASES``, ``BEGIN``, ``END``, ``DOC``)."""
    spec = importlib.util.spec_from_file_location("bad_input_table", TESTS)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {TESTS}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bad_input_table"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _code(text: str) -> str:
    """Exact text inside a table cell: escaped, pipes kept, lines as <br>."""
    if not text:
        return "(nothing on stderr)"
    escaped = html.escape(text, quote=False).replace("|", "&#124;").replace("\n", "<br>")
    return f"<code>{escaped}</code>"


def render(cases: Sequence[Any]) -> str:
    """The Markdown table for ``cases``."""
    lines = [
        "| # | Where | Bad input | Error | Exact message |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for i, case in enumerate(cases):
        bad = case.bad_input.replace("|", "\\|")
        lines.append(f"| {i} | {case.area} | {bad} | `{case.error}` | {_code(case.message)} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the bad-input table.")
    parser.add_argument("--write", action="store_true", help="update docs/reliability.md")
    args = parser.parse_args(argv)
    module = load_cases()
    table = render(module.CASES)
    if not args.write:
        print(table, end="")
        return 0
    doc: Path = module.DOC
    text = doc.read_text(encoding="utf-8")
    head, rest = text.split(module.BEGIN, 1)
    _, tail = rest.split(module.END, 1)
    doc.write_text(f"{head}{module.BEGIN}\n\n{table}\n{module.END}{tail}", encoding="utf-8")
    print(f"wrote {len(module.CASES)} rows to {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
