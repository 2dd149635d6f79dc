"""The notebooks run top to bottom offline, and are committed with their outputs.

The committed outputs are what a reader sees on GitHub (regenerate them with
``jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb`` after
``pip install -e '.[notebooks]'``). The tests execute each notebook again with nbclient on a
kernel that runs *this* interpreter (a kernelspec written to a temporary ``JUPYTER_PATH``,
so a system-wide ``python3`` kernel pointing elsewhere can never be picked up), in an empty
temporary working directory that must stay empty: a notebook writes no files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "codegen-graph-test"
CELL_TIMEOUT = 120


def _committed_notebooks() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "--", "notebooks/*.ipynb"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return NOTEBOOKS  # not a git checkout (an sdist): check what is there
    return [ROOT / line for line in out.splitlines() if line]


def test_the_four_notebooks_exist() -> None:
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01_quickstart", "02_feature_workflow", "03_tracing", "04_own_model"]


def _images(nb: Any) -> int:
    return sum(
        "image/png" in (o.get("data") or {}) for c in nb["cells"] for o in c.get("outputs", [])
    )


@pytest.mark.parametrize("path", _committed_notebooks(), ids=lambda p: p.name)
def test_committed_with_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    counts = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("execution_count") is not None, f"{path.name} cell {i} never ran"
        counts.append(cell["execution_count"])
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{path.name} cell {i} was committed with an error"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: run it top to bottom"
    assert any(cell.get("outputs") for cell in nb["cells"] if cell["cell_type"] == "code")
    if path.stem == "02_feature_workflow":
        assert _images(nb) == 2, "the graph and the timeline are pictures in the outputs"
        # the graph is drawn by the public helper, not by one the reader has to write
        code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert 'draw_graph(graph, "png")' in code and "graphviz" not in code


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec for the running interpreter under a private JUPYTER_PATH."""
    pytest.importorskip("nbclient", reason="notebook execution needs nbclient (test extra)")
    pytest.importorskip("ipykernel", reason="notebook execution needs ipykernel (test extra)")
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "codegen-graph tests", "language": "python"})
    )
    return jupyter


def _execute(path: Path, cwd: Path, jupyter: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    # Offline: no LangSmith tracing unless a notebook turns it on against its local sink.
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    return nb


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _texts(nb: Any) -> str:
    parts: list[str] = []
    for out in _outputs(nb):
        parts.append(out.get("text", ""))
        for value in (out.get("data") or {}).values():
            parts.append(value if isinstance(value, str) else "")
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(
    path: Path, tmp_path: Path, kernel_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path.stem == "02_feature_workflow" and shutil.which("dot") is None:
        pytest.skip("notebook 02 draws its graph with graphviz's `dot` (apt-get install graphviz)")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    nb = _execute(path, cwd, kernel_env, monkeypatch)
    assert not [o for o in _outputs(nb) if o.output_type == "error"]
    assert list(cwd.iterdir()) == [], "a notebook wrote files into its working directory"
    text = _texts(nb)
    if path.stem == "01_quickstart":
        assert "COMPLETE" in text and "local PR #1 (embedded backend: no page)" in text
        assert "/local/pull/" not in text  # no dead link (nothing serves it in process)
        assert "supervisor         The coder added the endpoint." in text
    elif path.stem == "02_feature_workflow":
        assert _images(nb) == 2, "the graph (graphviz) and the timeline (matplotlib)"
        # The timeline draws every segment of every run: code created + resumed, docs,
        # the failed tests run and the second one.
        assert "5 bars, one per run segment (5 segments in 4 runs)" in text
        assert "verdict: passed" in text
        assert "You are the" not in text  # summaries from the task, not the instructions
    elif path.stem == "03_tracing":
        assert "feature [chain]" in text
        assert "codegen.create_and_wait [chain] agent_run_id=" in text
        # the redaction check is said in words: where the canary is not, what arrived instead
        assert "The deploy key is in none of the 35 runs LangSmith received," in text
        assert "'Add a /health endpoint. Deploy key: [REDACTED]'" in text
    elif path.stem == "04_own_model":
        assert "Renamed the field to service_version" in text
