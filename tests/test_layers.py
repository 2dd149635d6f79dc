"""Imports point only down: a test keeps the architecture's layers honest.

Module-level imports only (imports inside functions or under ``TYPE_CHECKING`` are the
sanctioned way for a lower layer to hand out an upper one, e.g. ``LocalCodegen.client()``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "codegen_graph"

FRAMEWORKS = ("langchain", "langchain_core", "langgraph", "langsmith", "fastapi", "uvicorn")
UPPER_THAN_CLIENT = (
    "codegen_graph._runs",
    "codegen_graph._watcher",
    "codegen_graph._batch",
    "codegen_graph.graph",
    "codegen_graph.tools",
    "codegen_graph.cli",
    "codegen_graph.local",
    "codegen_graph.studio",
)
UPPER_THAN_RUNS = UPPER_THAN_CLIENT[3:]

LAYERS: dict[str, tuple[str, ...]] = {
    # wire models and friends: pydantic and the standard library only
    "models.py": (
        *FRAMEWORKS,
        "codegen_graph._client",
        "codegen_graph._base_client",
        *UPPER_THAN_CLIENT,
    ),
    "_status.py": (*FRAMEWORKS, "codegen_graph."),
    "_exceptions.py": (*FRAMEWORKS, "codegen_graph._client", *UPPER_THAN_CLIENT),
    "_clock.py": (*FRAMEWORKS, "codegen_graph."),
    # the HTTP client
    "_config.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT),
    "_retry.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT),
    "_ratelimit.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT),
    "_circuit.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT),
    "_hooks.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT),
    "_base_client.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT),
    "_client.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT),
    "resources": (*FRAMEWORKS, *UPPER_THAN_CLIENT),
    # coordination between processes: client layer, but for its shared poller (runs layer)
    "_coordination/__init__.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT, "codegen_graph.plugins"),
    "_coordination/_redis.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT, "codegen_graph.plugins"),
    "_coordination/_budget.py": (*FRAMEWORKS, *UPPER_THAN_CLIENT, "codegen_graph.plugins"),
    "_coordination/_poller.py": (*FRAMEWORKS, *UPPER_THAN_RUNS, "codegen_graph.plugins"),
    # runs and waiting
    "_runs.py": (*FRAMEWORKS, *UPPER_THAN_RUNS),
    "_watcher.py": (*FRAMEWORKS, *UPPER_THAN_RUNS),
    "_batch.py": (*FRAMEWORKS, *UPPER_THAN_RUNS),
    # tools and graph build on runs; neither knows the CLI
    "tools": ("codegen_graph.cli", "codegen_graph.local", "codegen_graph.studio"),
    "graph": ("codegen_graph.cli", "codegen_graph.local", "codegen_graph.studio"),
    # the local backend shares only the wire models
    "local": (
        "langgraph",
        "langsmith",
        "codegen_graph._client",
        "codegen_graph._base_client",
        "codegen_graph.resources",
        *UPPER_THAN_CLIENT[:-2],
        "codegen_graph.studio",
    ),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    name = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    name = node.module or ""
                found.append((node.lineno, name))
                found.extend((node.lineno, f"{name}.{a.name}") for a in node.names)
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(tree.body)
    return found


def _files(entry: str) -> list[Path]:
    target = PKG / entry
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("entry", sorted(LAYERS))
def test_imports_point_down(entry: str) -> None:
    forbidden = LAYERS[entry]
    problems = [
        f"{path.relative_to(PKG.parent)}:{line} imports {name}"
        for path in _files(entry)
        for line, name in _top_level_imports(path)
        if any(name == f or name.startswith(f if f.endswith(".") else f + ".") for f in forbidden)
    ]
    assert problems == []


def test_the_client_loads_no_framework() -> None:
    code = (
        "import sys, codegen_graph, codegen_graph.local;"
        "import codegen_graph.local as l;"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'langchain', 'langchain_core', 'langgraph', 'langsmith'});"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
