"""A generic HTTP client (plain httpx, no project code) against `codegen-graph serve`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from codegen_graph.local import LocalCodegen, free_loopback_port

TOKEN = "srv-token"
ORG = 777
SCALE = "500"


@contextmanager
def serve(*extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_loopback_port()
    cmd = [sys.executable, "-m", "codegen_graph", "serve", "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/_local/stats", timeout=0.5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(proc.stderr.read() if proc.stderr else "no output") from None
                time.sleep(0.05)  # waiting for a real process to bind its socket
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def _wait_terminal(http: httpx.Client, run_id: int) -> dict[str, object]:
    for _ in range(400):
        body = http.get(f"/v1/organizations/{ORG}/agent/run/{run_id}").json()
        if body["status"] in ("COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"):
            return body  # type: ignore[no-any-return]
        time.sleep(0.02)  # 10 simulated seconds at time_scale 500
    raise AssertionError("run never finished")


def test_generic_client_create_poll_list_resume_logs(tmp_path: Path) -> None:
    faults = json.dumps(
        {"repos": {"drop_rate": 1.0}, "unban": {"timeout_rate": 1.0}, "timeout_hold": 300}
    )
    db = tmp_path / "srv.db"
    args = (
        "--token",
        TOKEN,
        "--org-id",
        str(ORG),
        "--time-scale",
        SCALE,
        "--db",
        str(db),
        "--faults",
        faults,
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serve(*args) as (base, proc), httpx.Client(base_url=base, headers=headers) as http:
        assert proc.stdout is not None
        printed = [proc.stdout.readline().strip() for _ in range(5)]
        assert printed[2] == "CODEGEN_API_TOKEN='<the --token value>'"  # given: never printed
        assert TOKEN not in "\n".join(printed)
        created = http.post(
            f"/v1/organizations/{ORG}/agent/run",
            json={"prompt": "Add a /health endpoint", "metadata": {"ticket": 7}},
        )
        assert created.status_code == 200
        run = created.json()
        assert run["status"] == "PENDING"
        assert run["web_url"] == f"{base}/agent/trace/{run['id']}"
        done = _wait_terminal(http, run["id"])
        assert done["status"] == "COMPLETE"
        assert done["github_pull_requests"]
        listing = http.get(f"/v1/organizations/{ORG}/agent/runs", params={"limit": 10}).json()
        assert [r["id"] for r in listing["items"]] == [run["id"]]
        assert listing["items"][0]["metadata"] == {"ticket": 7}
        resumed = http.post(
            f"/v1/organizations/{ORG}/agent/run/resume",
            json={"agent_run_id": run["id"], "prompt": "Add a test too"},
        )
        assert resumed.json()["status"] == "ACTIVE"
        _wait_terminal(http, run["id"])
        logs = http.get(f"/v1/alpha/organizations/{ORG}/agent/run/{run['id']}/logs").json()
        kinds = [e["message_type"] for e in logs["logs"]]
        assert kinds.count("FINAL_ANSWER") == 2
        assert "USER_MESSAGE" in kinds
        assert (
            http.get(
                f"/v1/organizations/{ORG}/agent/run/{run['id']}",
                headers={"Authorization": "Bearer wrong"},
            ).status_code
            == 401
        )
        assert (
            http.get(f"/v1/organizations/{ORG}/agent/runs", params={"limit": 101}).status_code
            == 422
        )
        # faults over a real socket: a dropped connection, and a response that never comes
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(f"/v1/organizations/{ORG}/repos")
        with pytest.raises(httpx.ReadTimeout):
            http.post(
                f"/v1/organizations/{ORG}/agent/run/unban",
                json={"agent_run_id": run["id"]},
                timeout=0.2,
            )
        stats = httpx.get(f"{base}/_local/stats").json()
        assert stats["faults"]["repos"] == {"drop": 1}
        assert stats["runs_created"] == 1
    # restart on the same database: every run and log is still served
    with serve(*args) as (base, _), httpx.Client(base_url=base, headers=headers) as http:
        again = http.get(f"/v1/alpha/organizations/{ORG}/agent/run/{run['id']}/logs").json()
        assert again["logs"] == logs["logs"]
        assert http.get(f"/v1/organizations/{ORG}/agent/runs").json()["total"] == 1


def test_sigterm_saves_the_clock_so_a_restart_never_shows_less(tmp_path: Path) -> None:
    # Regression: uvicorn re-raises SIGTERM after its graceful shutdown, which used to kill
    # the process before LocalCodegen.close() saved the simulated time; a restart on the
    # same --db then resumed the clock from the last *write* (the create), behind reads the
    # clients had already seen, and the FINAL_ANSWER they had read vanished for a while.
    db = tmp_path / "srv.db"
    args = ("--token", TOKEN, "--org-id", str(ORG), "--time-scale", SCALE, "--db", str(db))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serve(*args) as (base, proc), httpx.Client(base_url=base, headers=headers) as http:
        run = http.post(f"/v1/organizations/{ORG}/agent/run", json={"prompt": "Add /health"})
        run_id = run.json()["id"]
        assert _wait_terminal(http, run_id)["status"] == "COMPLETE"
        seen = http.get(f"/v1/alpha/organizations/{ORG}/agent/run/{run_id}/logs").json()
        assert seen["logs"][-1]["message_type"] == "FINAL_ANSWER"
    assert proc.returncode == 143  # shut down through close(), not killed by the signal
    # Reopen with a (nearly) frozen clock: it starts where the server's clock stopped, so
    # everything already served is served again, whatever the machine load.
    url = f"/v1/alpha/organizations/{ORG}/agent/run/{run_id}/logs"
    with LocalCodegen(TOKEN, ORG, db=db, time_scale=1e-9) as again, again.httpx_client() as http:
        assert http.get(url).json()["logs"] == seen["logs"]


def test_serve_generates_and_prints_credentials() -> None:
    with serve("--time-scale", SCALE, "--no-rate-limits") as (base, proc):
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(5)]
        assert lines[0] == f"codegen-graph local backend: {base} (time_scale={SCALE})"
        assert lines[1] == f"CODEGEN_API_BASE_URL={base}"
        token = lines[2].removeprefix("CODEGEN_API_TOKEN=")
        org = int(lines[3].removeprefix("CODEGEN_ORG_ID="))
        assert lines[4] == f"export {' '.join(lines[1:4])}"
        me = httpx.get(f"{base}/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        orgs = httpx.get(f"{base}/v1/organizations", headers={"Authorization": f"Bearer {token}"})
        assert orgs.json()["items"][0]["id"] == org


def test_serve_rejects_bad_faults_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codegen_graph", "serve", "--faults", "{nope"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --faults")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_long_inline_faults_are_json_and_paths_are_files(tmp_path: Path) -> None:
    from codegen_graph.local._server import parse_faults

    long_doc = {"routes": {f"route{i}": {"error_rate": 0.0} for i in range(400)}}
    raw = json.dumps(long_doc)
    assert len(raw) > 4096  # longer than any file name: the file system is never asked
    assert parse_faults(raw) == long_doc
    assert parse_faults("  " + raw) == long_doc
    path = tmp_path / "faults.json"
    path.write_text('{"seed": 3}', encoding="utf-8")
    assert parse_faults(str(path)) == {"seed": 3}
    with pytest.raises(ValueError, match="cannot read the file") as caught:
        parse_faults(str(tmp_path / "missing.json"))
    assert "No such file" in str(caught.value)
    with pytest.raises(ValueError, match="cannot read the file"):
        parse_faults("x" * 5000)  # a long non-JSON value: ENAMETOOLONG, reported plainly
    with pytest.raises(ValueError, match="is not valid JSON"):
        parse_faults("{" + "x" * 5000)


_OWNER = """
import sys
from codegen_graph.local import LocalServer
server = LocalServer(time_scale=60).start()
print(server._proc.pid, flush=True)  # the test's own look at the child
sys.stdin.read()  # until the test kills this process
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_a_local_server_stops_when_its_owner_is_sigkilled() -> None:
    """``langgraph dev`` or a test killed with SIGKILL leaves no ``serve`` process behind."""
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        assert _alive(child)
        owner.kill()
        owner.wait(timeout=60)
        deadline = time.monotonic() + 120  # a bound for a hung process, not a wait for luck
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a real process's exit
        assert not _alive(child), "the server outlived its owner"
    finally:
        if owner.poll() is None:
            owner.kill()
        owner.wait(timeout=60)
        for pipe in (owner.stdin, owner.stdout):
            if pipe is not None:
                pipe.close()
