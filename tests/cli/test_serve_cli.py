"""The CLI as a user runs it: a real `codegen-graph serve` and `codegen-graph` subprocesses."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegen_graph import CodegenClient
from codegen_graph.cli._common import LOCAL_NOTICE
from codegen_graph.local import LocalServer

from .conftest import FOREVER, SCALE, Cli, seed_run, stderr_lines

TOKEN = "serve-canary-token-5f1e"
ORG = "4242"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with LocalServer(token=TOKEN, org_id=int(ORG), time_scale=1000) as server:
        yield server.base_url


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "GITHUB_"))}


def _cli(
    base_url: str, *args: str, token: str = TOKEN, org: str = ORG
) -> subprocess.CompletedProcess[str]:
    env = _clean_env()
    env["CODEGEN_API_TOKEN"] = token
    cmd = [sys.executable, "-m", "codegen_graph", *args, "--base-url", base_url]
    cmd += ["--org-id", org]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_bad_token_is_one_clear_line(base_url: str) -> None:
    result = _cli(base_url, "runs", "list", token="wrong-token-7c2d")
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: HTTP 401") and "token" in lines[0].lower()
    assert lines[1].startswith("hint: ") and "CODEGEN_API_TOKEN" in lines[1]
    assert "Traceback" not in result.stderr
    assert "wrong-token-7c2d" not in result.stderr + result.stdout


def test_create_wait_and_json_against_serve(base_url: str) -> None:
    created = _cli(base_url, "runs", "create", "Add a /health endpoint", "--wait", "--json")
    assert created.returncode == 0, created.stderr
    run = json.loads(created.stdout)
    assert run["status"] == "COMPLETE"
    assert "embedded local backend" not in created.stderr  # a token is set: the real server
    listed = _cli(base_url, "runs", "list", "--json")
    assert run["id"] in [r["id"] for r in json.loads(listed.stdout)]
    got = _cli(base_url, "runs", "get", str(run["id"]))
    assert got.returncode == 0 and "COMPLETE" in got.stdout
    assert TOKEN not in got.stdout + got.stderr + created.stdout + created.stderr


def test_stop_against_serve(tmp_path: Path) -> None:
    """`runs stop` in a subprocess against a real server: the running run ends STOPPED."""
    scenario = tmp_path / "forever.json"
    scenario.write_text(json.dumps({"rules": [{"attempts": [{"duration": FOREVER}]}]}))
    with LocalServer(token=TOKEN, org_id=int(ORG), time_scale=1000, scenario=str(scenario)) as srv:
        with CodegenClient(TOKEN, int(ORG), base_url=srv.base_url) as client:
            run = client.agent_runs.create("Add a /health endpoint")
            assert not client.agent_runs.get(run.id).status.is_terminal  # type: ignore[union-attr]
            stopped = _cli(srv.base_url, "runs", "stop", str(run.id), "--json")
            assert stopped.returncode == 0, stopped.stderr
            assert json.loads(stopped.stdout)["status"] == "STOPPED"
            assert client.agent_runs.get(run.id).status == "STOPPED"
        missing = _cli(srv.base_url, "runs", "stop", "424242")
    assert missing.returncode == 3 and missing.stderr.startswith("error: HTTP 404")
    assert TOKEN not in stopped.stdout + stopped.stderr + missing.stderr


#: Real seconds before the child counts as hung: a bound for a hang, not a speed expectation
#: (on a loaded machine the CLI alone takes tens of seconds to import and start).
HUNG = 600.0


@pytest.mark.timeout(2 * HUNG)
def test_ctrl_c_while_waiting_exits_130_and_says_how_to_go_on(
    cli: Cli, sigint_reaches_children: None
) -> None:
    run_id = seed_run(cli, status="COMPLETE", duration=FOREVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "GITHUB_"))}
    env["CODEGEN_LOCAL_DB"] = str(cli.db)
    cmd = [sys.executable, "-m", "codegen_graph", "runs", "wait", str(run_id)]
    proc = subprocess.Popen(
        [*cmd, "--time-scale", SCALE], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    # the notice is printed inside the command's error handling; the wait follows at once
    assert proc.stderr.readline().strip() == LOCAL_NOTICE
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=HUNG)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [
        "interrupted",
        f"hint: the run goes on; wait again with: codegen-graph runs wait {run_id}",
    ]


def test_serve_strips_the_token_variable_like_the_client(tmp_path: object) -> None:
    """`export CODEGEN_LOCAL_TOKEN=$(cat file)` keeps the trailing newline; it is stripped."""
    import time

    import httpx

    from codegen_graph.local import free_loopback_port

    port = free_loopback_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "GITHUB_"))}
    env["CODEGEN_LOCAL_TOKEN"] = "  serve-strip-token-91ab\n"
    cmd = [sys.executable, "-m", "codegen_graph", "serve", "--port", str(port), "--org-id", "77"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # a real process binding a real socket: wait for it to answer
            try:
                httpx.get(f"{base}/_local/stats", timeout=1.0)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.05)
        headers = {"Authorization": "Bearer serve-strip-token-91ab"}
        r = httpx.get(f"{base}/v1/organizations/77/agent/runs", headers=headers, timeout=5.0)
        assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "is empty"), ("tok en", "contains a space"), ("tok\x1b[31m", "control character")],
)
def test_serve_refuses_a_malformed_token(value: str, message: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "GITHUB_"))}
    env["CODEGEN_LOCAL_TOKEN"] = value
    proc = subprocess.run(
        [sys.executable, "-m", "codegen_graph", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.startswith("error: --token (or CODEGEN_LOCAL_TOKEN)") and message in proc.stderr
    )
    if value.strip():
        assert value not in proc.stderr


def test_a_serve_whose_owner_is_gone_stops_itself_and_unwinds(tmp_path: object) -> None:
    """A server started for an owner that has died (SIGKILL: no atexit) stops on its own,
    by SIGTERM to itself, after the SIGTERM handler is in place: it exits 143 through
    ``close()`` (which saves the clock of a ``--db``), never killed on the spot (-15)."""
    from codegen_graph.local import free_loopback_port
    from codegen_graph.local._server import PARENT_PID_ENV_VAR

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "GITHUB_"))}
    env[PARENT_PID_ENV_VAR] = str(gone.pid)
    port = str(free_loopback_port())
    cmd = [sys.executable, "-m", "codegen_graph", "serve", "--port", port, "--org-id", "77"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr


def _served_exports(proc: subprocess.Popen[str]) -> tuple[list[str], str]:
    """The lines `serve` prints before serving: its address, three variables, one export."""
    assert proc.stdout is not None
    lines = [proc.stdout.readline().rstrip("\n") for _ in range(5)]
    assert lines[0].startswith("codegen-graph local backend: http://127.0.0.1:"), lines
    assert [line.split("=", 1)[0] for line in lines[1:4]] == [
        "CODEGEN_API_BASE_URL",
        "CODEGEN_API_TOKEN",
        "CODEGEN_ORG_ID",
    ]
    assert lines[4].startswith("export "), lines
    return lines, lines[4]


def _pasted(export: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``codegen-graph ARGS`` in a shell where the printed export line was pasted."""
    command = f"{export} && exec {shlex.quote(sys.executable)} -m codegen_graph "
    command += shlex.join(args)
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.timeout(HUNG)
def test_the_printed_export_line_points_the_next_command_at_the_server() -> None:
    import httpx

    cmd = [sys.executable, "-m", "codegen_graph", "serve", "--port", "0", "--time-scale", "1000"]
    proc = subprocess.Popen(cmd, env=_clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        lines, export = _served_exports(proc)
        base = lines[1].removeprefix("CODEGEN_API_BASE_URL=")
        assert not base.endswith(":0")  # the port actually bound
        created = _pasted(
            export, "runs", "create", "Add a /health endpoint", "--wait", "--json", env=_clean_env()
        )
        assert created.returncode == 0, created.stderr
        assert "embedded local backend" not in created.stderr
        run = json.loads(created.stdout)
        listed = _pasted(export, "runs", "list", env=_clean_env())
        assert listed.returncode == 0, listed.stderr
        assert str(run["id"]) in listed.stdout
        # the links the served backend hands out open: 200 HTML at its own address
        links = [run["web_url"], *(pr["url"] for pr in run["github_pull_requests"])]
        assert len(links) == 2 and all(link.startswith(base + "/") for link in links)
        for link in links:
            page = httpx.get(link, timeout=30)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        got = _pasted(export, "runs", "get", str(run["id"]), env=_clean_env())
        assert all(link in got.stdout for link in links)  # served: the links are printed
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.timeout(HUNG)
def test_a_given_token_is_never_printed_and_the_export_line_names_its_variable() -> None:
    token = "serve-given-token-3b7e"
    env = {**_clean_env(), "CODEGEN_LOCAL_TOKEN": token}
    cmd = [sys.executable, "-m", "codegen_graph", "serve", "--port", "0", "--org-id", "77"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines, export = _served_exports(proc)
        assert lines[2] == 'CODEGEN_API_TOKEN="$CODEGEN_LOCAL_TOKEN"'
        assert token not in "\n".join(lines)
        listed = _pasted(export, "runs", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == []
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.parametrize("args", [("runs", "list"), ("runs", "create", "Add a /health endpoint")])
def test_a_wrong_org_id_is_the_same_403_on_both_backends(
    base_url: str, cli: Cli, args: tuple[str, ...]
) -> None:
    served = _cli(base_url, *args, org="7")
    embedded = cli.local(*args, "--org-id", "7")
    assert served.returncode == embedded.exit_code == 3, embedded.output
    assert served.stderr.splitlines()[0].startswith("error: HTTP 403")
    assert served.stderr.splitlines()[1] == (
        "hint: the token has no access here: check CODEGEN_ORG_ID (or --org-id)"
    )
    assert stderr_lines(embedded) == [LOCAL_NOTICE, *served.stderr.splitlines()]
    assert cli.json("runs", "list") == []  # nothing was created in another organization


def test_the_embedded_backends_own_org_id_is_accepted(cli: Cli) -> None:
    from codegen_graph.local import LocalCodegen

    run_id = seed_run(cli, status="COMPLETE")
    with LocalCodegen(db=cli.db) as local:
        org = local.org_id
    listed = cli.json("runs", "list", "--org-id", str(org))
    assert [r["id"] for r in listed] == [run_id]
    assert all(r["organization_id"] == org for r in listed)
