"""Imports point only down: a test keeps the architecture's layers honest.

Every import is checked: at module level, inside functions and methods, and under
``TYPE_CHECKING`` (an annotation that names an upper layer is a dependency too). The few
sanctioned exceptions are in :data:`ALLOWED`, each with the reason it is not a layer break;
an entry that no longer matches anything fails the suite, so the list stays short and true.

The layers, bottom up (``docs/concepts.md`` draws them):

* **wire**: the models, statuses, exceptions and clocks: pydantic and the standard library.
* **core**: what does no I/O of its own: config, retries, rate budgets, circuit, hooks,
  the caller's context, redaction, metrics and spans, request specs and the plan, the
  watcher's and handles' state, the protocols a coordination plug-in implements.
* **coordination** (``_coordination``): the Redis plug-in, on the core only.
* **API** (``_async``, and ``_sync`` generated from it): the requester, keyed creates and
  the watcher on it, run handles, batches, resources and the client, each module on the
  ones before it (:data:`API_ORDER`).
* **plugins** and **observability**: two peers on the client; they do not import each other.
  Only observability may load LangSmith (and LangChain's tracer flush).
* **tools** (LangChain tools) on the client, plugins and observability; **graph** (LangGraph
  nodes and workflows) on all of that.
* **compat**: the Codegen SDK's ``Agent`` on the client, like the tools but with no
  LangChain.
* **local**: the embedded backend shares only the wire layer.
* **cli** and **studio** on top.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "codegen_graph"

LANGCHAIN = ("langchain", "langchain_core")
LANGGRAPH = ("langgraph",)
LANGSMITH = ("langsmith",)
SERVER = ("fastapi", "uvicorn", "starlette")
FRAMEWORKS = (*LANGCHAIN, *LANGGRAPH, *LANGSMITH, *SERVER)

WIRE = (
    "models.py",
    "_status.py",
    "_exceptions.py",
    "_error_text.py",
    "_problems.py",
    "_timestamps.py",
    "clock.py",
    "_version.py",
    "_org_models.py",
)
#: The client's core: no I/O of its own (request specs and the plan, policies, the hooks
#: protocol, the watcher's and handles' state, the protocols a plug-in implements).
CORE = (
    "_config.py",
    "_retry.py",
    "_ratelimit.py",
    "_circuit.py",
    "_hooks.py",
    "_context.py",
    "_redact.py",
    "_metrics.py",
    "_otel.py",
    "_base_client.py",
    "_checks.py",
    "_specs.py",
    "_keys.py",
    "_watch.py",
    "_handle.py",
    "_output.py",
    "_shared.py",
    "_concurrency.py",
)
#: The API layer: written once (``_async``), generated (``_sync``).
API = ("_async", "_sync")
#: The API layer's modules, bottom up: each may import only those before it.
API_ORDER = (
    "requester",
    "api",
    "output",
    "keyed",
    "watcher",
    "runs",
    "batch",
    "resources",
    "client",
)


@dataclass(frozen=True)
class Layer:
    """Which parts of the package (entries of :data:`LAYERS`) and frameworks may be imported."""

    may_import: tuple[str, ...]
    frameworks: tuple[str, ...] = ()


_ON_CLIENT = (*WIRE, *CORE, *API, "resources")
# above the client, ``from codegen_graph import X`` (the package's face) is fine too
_ABOVE_CLIENT = (*_ON_CLIENT, "__init__.py")
_ON_PEERS = (*_ABOVE_CLIENT, "plugins", "observability")

LAYERS: dict[str, Layer] = {
    # wire: nothing of the package but the wire layer itself
    **{entry: Layer(WIRE) for entry in WIRE},
    # the core: the wire layer and itself
    **{entry: Layer((*WIRE, *CORE)) for entry in CORE},
    # the Redis plug-in implements the core's protocols, and knows nothing above them
    "_coordination": Layer((*WIRE, *CORE, "_coordination")),
    # the API layer: the core, and the plug-in it loads when coordination is asked for
    **{entry: Layer((*WIRE, *CORE, "_coordination", entry)) for entry in API},
    "resources": Layer(_ON_CLIENT),
    "__init__.py": Layer((*_ON_CLIENT, "_coordination")),
    # two peers on the client
    "plugins": Layer((*_ABOVE_CLIENT, "plugins")),
    "observability": Layer((*_ABOVE_CLIENT, "observability"), (*LANGSMITH, *LANGCHAIN)),
    # LangChain tools, then LangGraph graphs on top of them
    "tools": Layer((*_ON_PEERS, "tools"), (*LANGCHAIN, *LANGGRAPH)),
    "graph": Layer((*_ON_PEERS, "tools", "graph"), (*LANGCHAIN, *LANGGRAPH)),
    # the embedded backend shares only the wire models (LangChain for ChatModelBehavior)
    "local": Layer((*WIRE, "local"), (*LANGCHAIN, *SERVER)),
    # the top
    "cli": Layer((*_ON_PEERS, "tools", "graph", "local", "backend.py", "cli"), FRAMEWORKS),
    # the Codegen SDK's surface on the client (no LangChain: it is for code written without it)
    "compat.py": Layer(_ABOVE_CLIENT),
    "studio.py": Layer((*_ON_PEERS, "tools", "graph", "local", "backend.py"), FRAMEWORKS),
    "__main__.py": Layer(("cli",)),
    # the backend choice (CLI and Studio share it): the client's settings, and the local
    # backend it may build when asked for
    "backend.py": Layer((*_ON_CLIENT, "__init__.py", "local")),
}


@dataclass(frozen=True)
class Allowed:
    """A sanctioned import that the layer rules would refuse, and why it is not a break."""

    file: str
    imports: str
    why: str


ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        "local/_backend.py",
        "codegen_graph",
        "LocalCodegen.client() is a factory handing out a real client pointed at the "
        "embedded backend; the backend itself shares no client logic",
    ),
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, *, is_package: bool) -> str:
    """The absolute name of the module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    base = (module if is_package else module.rpartition(".")[0]).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def parse(source: str) -> ast.Module:
    """``ast.parse``, once more on CPython 3.11's spurious "AST constructor recursion depth
    mismatch" ``SystemError`` (python/cpython#106905): the AST builder keeps its depth
    counter per interpreter, so another thread building an AST at that moment trips it.
    The text is static, so a second parse is the same parse; any other error is raised."""
    for attempt in range(3):
        try:
            return ast.parse(source)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def imports_of(source: str, module: str, *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """Every ``(line, imported name)`` in ``source``, at any depth, relative ones resolved.

    ``from a.b import c`` yields both ``a.b`` and ``a.b.c`` (``c`` may be a module).
    """
    for node in ast.walk(parse(source)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = _resolve(node, module, is_package=is_package)
            yield node.lineno, name
            yield from ((node.lineno, f"{name}.{alias.name}") for alias in node.names)


def _entry_of(name: str) -> str | None:
    """The :data:`LAYERS` entry a ``codegen_graph...`` module name belongs to."""
    parts = name.split(".")
    if parts[0] != "codegen_graph":
        return None
    if len(parts) == 1:
        return "__init__.py"
    if (PKG / parts[1]).is_dir():
        return parts[1]
    if not (PKG / f"{parts[1]}.py").exists():  # a name from the package's face
        return "__init__.py"
    return f"{parts[1]}.py"


def _entry_of_file(rel: str) -> str:
    first = rel.split("/")[0]
    return first if first in LAYERS else rel


def _breaks(rel: str, name: str) -> bool:
    """Whether ``name`` imported in package file ``rel`` breaks its layer's rule."""
    layer = LAYERS[_entry_of_file(rel)]
    target = _entry_of(name)
    if target is not None:
        return target not in layer.may_import and target != _entry_of_file(rel)
    top = name.split(".")[0]
    return top in FRAMEWORKS and top not in layer.frameworks


def layer_breaks(rel: str, source: str) -> list[str]:
    """The imports of one file (``rel`` relative to the package) that break the rules."""
    path = PKG / rel
    allowed = {a.imports for a in ALLOWED if a.file == rel}
    found = imports_of(source, _module_name(path), is_package=path.name == "__init__.py")
    return [
        f"{rel}:{line} imports {name}"
        for line, name in sorted(found)
        if _breaks(rel, name) and not any(name == a or name.startswith(a + ".") for a in allowed)
    ]


def _package_files() -> list[str]:
    return sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*.py"))


def test_every_part_of_the_package_has_a_rule() -> None:
    assert [rel for rel in _package_files() if _entry_of_file(rel) not in LAYERS] == []


@pytest.mark.parametrize("entry", sorted(LAYERS))
def test_imports_point_down(entry: str) -> None:
    files = [rel for rel in _package_files() if _entry_of_file(rel) == entry]
    assert files, f"no file for {entry}"
    problems = [
        problem
        for rel in files
        for problem in layer_breaks(rel, (PKG / rel).read_text(encoding="utf-8"))
    ]
    assert problems == []


def test_every_allowance_is_still_needed_and_says_why() -> None:
    unused = []
    for allowed in (*ALLOWED, *PRIVATE_FRAMEWORK_USE, *PRIVATE_NAME_USE):
        assert len(allowed.why) > 20, allowed
        source = (PKG / allowed.file).read_text(encoding="utf-8")
        names = [n for _, n in imports_of(source, _module_name(PKG / allowed.file))]
        if not any(n == allowed.imports or n.startswith(allowed.imports + ".") for n in names):
            unused.append(allowed)
    assert unused == []


def test_the_rule_sees_imports_inside_functions() -> None:
    """A test of the test: an upward import hidden in a function body is found."""
    source = (
        "from __future__ import annotations\n"
        "def later():\n"
        "    class Inner:\n"
        "        def method(self):\n"
        "            from ..graph import feature_workflow\n"
        "            import langgraph.graph\n"
        "            return feature_workflow, langgraph.graph\n"
    )
    assert layer_breaks("_async/keyed.py", source) == [
        "_async/keyed.py:5 imports codegen_graph.graph",
        "_async/keyed.py:5 imports codegen_graph.graph.feature_workflow",
        "_async/keyed.py:6 imports langgraph.graph",
    ]
    # the same imports are fine where the layers allow them
    assert layer_breaks("cli/_run.py", source) == []


def test_the_rule_sees_type_checking_imports_and_the_local_backend() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .._async.runs import AsyncAgentRun\n"
        "from ..plugins import Plugin\n"
    )
    assert layer_breaks("local/_engine.py", source) == [
        "local/_engine.py:3 imports codegen_graph._async.runs",
        "local/_engine.py:3 imports codegen_graph._async.runs.AsyncAgentRun",
        "local/_engine.py:4 imports codegen_graph.plugins",
        "local/_engine.py:4 imports codegen_graph.plugins.Plugin",
    ]


# -- public names only across modules and packages --------------------------------------

#: Framework modules whose private parts one named module may use, and why.
PRIVATE_FRAMEWORK_USE: tuple[Allowed, ...] = (
    Allowed(
        "observability/_langsmith.py",
        "langsmith._internal",
        "langsmith.configure() has no getter: disable_tracing() restores the globals it "
        "wrote, and only this module reads them",
    ),
)


#: Private names another module of the same layer still imports, each with its reason.
#: (None left: the poller uses the watcher's public seam, the scenarios the behaviours'
#: public ``task_slug``/``task_title``.)
PRIVATE_NAME_USE: tuple[Allowed, ...] = ()


def _subpackage(name: str) -> str:
    """The subpackage a ``codegen_graph`` module belongs to (``""`` for the root's modules)."""
    parts = name.split(".")
    return parts[1] if len(parts) >= 2 and (PKG / parts[1]).is_dir() else ""


def private_uses(rel: str, source: str) -> list[str]:
    """Imports in package file ``rel`` of another module's private names.

    A private name is one with a leading underscore imported from another module, a private
    module of another subpackage (use its ``__init__``), or a framework's private module.
    The root's own modules (``codegen_graph._base_client``...) are the core every subpackage
    builds on and may be imported by their public names.
    """
    path = PKG / rel
    here = _module_name(path)
    mine = _subpackage(here) if path.name != "__init__.py" else here.partition(".")[2]
    allowed = {a.imports for a in PRIVATE_FRAMEWORK_USE if a.file == rel}
    shared = {a.imports for a in PRIVATE_NAME_USE if a.file == rel}
    tree = parse(source)
    problems: list[str] = []
    for line, name in sorted(imports_of(source, here, is_package=path.name == "__init__.py")):
        parts = name.split(".")
        if parts[0] != "codegen_graph":
            if any(p.startswith("_") and p != "__future__" for p in parts[1:]) and not any(
                name == a or name.startswith(a + ".") for a in allowed
            ):
                problems.append(f"{rel}:{line} imports {name}")
            continue
        sub = _subpackage(name)
        if sub and sub != mine and len(parts) > 2 and parts[2].startswith("_"):
            problems.append(f"{rel}:{line} imports {name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level or "codegen_graph" in (node.module or "")
        ):
            source_module = _resolve(node, here, is_package=path.name == "__init__.py")
            if source_module in shared:
                continue
            problems.extend(
                f"{rel}:{node.lineno} imports {a.name} from {'.' * node.level}{node.module or ''}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            )
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("__pregel_")
        ):
            problems.append(f"{rel}:{node.lineno} reads LangGraph's private {node.value}")
    return problems


@pytest.mark.parametrize("entry", sorted(LAYERS))
def test_only_public_names_cross_modules(entry: str) -> None:
    files = [rel for rel in _package_files() if _entry_of_file(rel) == entry]
    problems = [
        problem
        for rel in files
        for problem in private_uses(rel, (PKG / rel).read_text(encoding="utf-8"))
    ]
    assert problems == []


def test_the_private_name_rule_can_fail() -> None:
    source = (
        "from ._nodes import _recorded\n"
        "from ..tools._bridge import AsyncLogSink\n"
        "from ..tools import CodegenRunAgentTool\n"
        "def f(config):\n"
        "    from langsmith._internal import _context\n"
        "    return config['configurable']['__pregel_task_id']\n"
    )
    assert sorted(private_uses("graph/_delegate.py", source)) == [
        "graph/_delegate.py:1 imports _recorded from ._nodes",
        "graph/_delegate.py:2 imports codegen_graph.tools._bridge",
        "graph/_delegate.py:2 imports codegen_graph.tools._bridge.AsyncLogSink",
        "graph/_delegate.py:5 imports langsmith._internal",
        "graph/_delegate.py:5 imports langsmith._internal._context",
        "graph/_delegate.py:6 reads LangGraph's private __pregel_task_id",
    ]
    # inside tools/ its own private modules are fine
    assert private_uses("tools/_delegate.py", "from ._bridge import AsyncLogSink\n") == []


def _loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


UPPER = ("codegen_graph.plugins", "codegen_graph.observability", *LANGCHAIN, *LANGGRAPH)


@pytest.mark.parametrize(
    "statement",
    ["import codegen_graph", "import codegen_graph.local", "from codegen_graph import models"],
)
def test_the_client_loads_no_upper_layer(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert "codegen_graph" in loaded
    upper = sorted(
        m for m in loaded if any(m == u or m.startswith(u + ".") for u in (*UPPER, *LANGSMITH))
    )
    assert upper == []


def test_the_fresh_interpreter_check_can_fail() -> None:
    """A test of the test: the upper layers do show up once they are imported."""
    loaded = _loaded_after("import codegen_graph.graph")
    assert {"codegen_graph.plugins", "codegen_graph.observability", "langgraph"} <= loaded


# -- the API layer's own order, run-time cycles, aliases ------------------------------------


def _api_rank(name: str) -> int | None:
    """The place in :data:`API_ORDER` of a ``codegen_graph._async``/``_sync`` module."""
    parts = name.split(".")
    if len(parts) < 3 or parts[0] != "codegen_graph" or parts[1] not in API:
        return None
    return API_ORDER.index(parts[2]) if parts[2] in API_ORDER else None


def api_order_breaks(rel: str, source: str) -> list[str]:
    """Imports in an API-layer file of a module that comes later in :data:`API_ORDER`."""
    path = PKG / rel
    here = _module_name(path)
    mine = _api_rank(here)
    if mine is None:
        return []
    return [
        f"{rel}:{line} imports {name}"
        for line, name in sorted(imports_of(source, here, is_package=path.name == "__init__.py"))
        if (rank := _api_rank(name)) is not None and rank > mine
    ]


def test_the_api_layer_points_down_inside() -> None:
    files = [rel for rel in _package_files() if rel.split("/")[0] in API]
    assert len(files) > 10
    problems = [
        problem
        for rel in files
        for problem in api_order_breaks(rel, (PKG / rel).read_text(encoding="utf-8"))
    ]
    assert problems == []
    # a test of the test: the watcher may not build handles
    bad = "def f():\n    from .runs import AsyncAgentRun\n"
    assert api_order_breaks("_async/watcher.py", bad) == [
        "_async/watcher.py:2 imports codegen_graph._async.runs",
        "_async/watcher.py:2 imports codegen_graph._async.runs.AsyncAgentRun",
    ]


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (
        name == "codegen_graph" or (PKG / rel).is_dir() or (PKG / rel).with_suffix(".py").exists()
    )


def _runtime_imports(source: str, module: str, *, is_package: bool) -> set[str]:
    """The package modules ``source`` imports when it runs: at module level and inside
    functions, but not under ``if TYPE_CHECKING:`` (never executed)."""
    tree = parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = _resolve(node, module, is_package=is_package)
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return {n for n in found if n.startswith("codegen_graph") and _is_module(n)}


def import_graph(files: dict[str, str]) -> dict[str, set[str]]:
    """``{module: modules it imports at run time}`` for package files ``{rel: source}``."""
    graph: dict[str, set[str]] = {}
    for rel, source in files.items():
        path = PKG / rel
        module = _module_name(path)
        graph[module] = _runtime_imports(source, module, is_package=path.name == "__init__.py")
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_import_cycle_at_run_time() -> None:
    """No cycle among the package's modules, counting the imports made inside functions
    (a cycle hidden in a function body is a cycle all the same when it runs)."""
    files = {rel: (PKG / rel).read_text(encoding="utf-8") for rel in _package_files()}
    assert cycles(import_graph(files)) == []


def test_the_cycle_check_sees_imports_inside_functions() -> None:
    files = {
        "_async/watcher.py": "def f():\n    from .client import AsyncCodegenClient\n",
        "_async/client.py": "from .watcher import AsyncRunWatcher\n",
        "_async/keyed.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .client import X\n"
        ),
    }
    assert cycles(import_graph(files)) == [
        ["codegen_graph._async.client", "codegen_graph._async.watcher"]
    ]
    del files["_async/watcher.py"]
    assert cycles(import_graph(files)) == []


def aliases(source: str) -> list[str]:
    """Module-level ``Public = _private`` assignments: a private name made public under
    another name (only to pass :func:`test_only_public_names_cross_modules`)."""
    found = []
    for node in parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            for target in node.targets:
                if (
                    isinstance(target, ast.Name)
                    and not target.id.startswith("_")
                    and node.value.id.startswith("_")
                    and not node.value.id.startswith("__")
                ):
                    found.append(f"{target.id} = {node.value.id}")
    return found


def test_no_private_name_is_aliased_public() -> None:
    problems = {rel: aliases((PKG / rel).read_text(encoding="utf-8")) for rel in _package_files()}
    assert {rel: found for rel, found in problems.items() if found} == {}
    assert aliases("Waiter = _Waiter\nLOG = logging.getLogger()\n") == ["Waiter = _Waiter"]


def test_the_concepts_page_draws_this_table() -> None:
    """``docs/concepts.md`` draws the layers from this table: it names every wire and core
    module, and the API layer's modules in their order."""
    text = (PKG.parent / "docs" / "concepts.md").read_text(encoding="utf-8")
    words = set(re.findall(r"[A-Za-z_]+", text.replace("\\n", " ")))
    assert [e for e in (*WIRE, *CORE) if e.removesuffix(".py") not in words] == []
    assert ", ".join(f"`{m}`" for m in API_ORDER) in " ".join(text.split())


def test_import_codegen_graph_loads_no_coordination() -> None:
    """The Redis plug-in loads only when coordination is asked for."""
    loaded = _loaded_after("import codegen_graph; codegen_graph.CodegenClient")
    assert sorted(m for m in loaded if "_coordination" in m or m.split(".")[0] == "redis") == []
    assert "codegen_graph._coordination" in _loaded_after("from codegen_graph import Coordination")


def test_import_codegen_graph_loads_the_async_stack_on_first_use() -> None:
    """A program on the sync client never loads the async one (import time), and the async
    names still import as before."""
    loaded = _loaded_after("import codegen_graph; codegen_graph.CodegenClient")
    assert sorted(m for m in loaded if m.startswith("codegen_graph._async")) == []
    import codegen_graph

    assert {"AsyncCodegenClient", "AsyncAgentRun", "Coordination"} <= set(dir(codegen_graph))
    asked = _loaded_after("from codegen_graph import AsyncAgentRun, AsyncCodegenClient")
    assert {"codegen_graph._async.client", "codegen_graph._async.runs"} <= set(asked)
