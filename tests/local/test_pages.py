"""The pages behind the local backend's links: a run's ``web_url`` and each pull request's
``url`` answer HTML (in process here, and under ``codegen-graph serve`` in headless Chromium)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from codegen_graph import CodegenClient
from codegen_graph.clock import ManualClock, ScaledClock
from codegen_graph.local import LocalCodegen, LocalServer

TASK = "Add a /health endpoint <b>now</b>"
CHROMIUM = shutil.which("chromium")


def _items(page: str, list_id: str) -> list[str]:
    """The text of the ``<li>`` items of the list with ``id=list_id``, tags stripped."""
    found = re.search(rf'id="{list_id}">(.*?)</[ou]l>', page, re.S)
    assert found, f"no list {list_id!r} in the page"
    items = re.findall(r"<li>(.*?)</li>", found[1], re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", li)) for li in items]


def test_the_run_page_shows_status_timeline_result_and_pull_requests() -> None:
    clock = ManualClock()
    with LocalCodegen(clock=clock) as backend, backend.client() as client:
        run = client.agent_runs.start(TASK)
        with backend.httpx_client() as http:
            early = http.get(run.web_url or "")
            assert early.status_code == 200
            assert early.headers["content-type"].startswith("text/html")
            assert 'id="status">PENDING<' in early.text
            assert 'http-equiv="refresh"' in early.text  # a running run's page refreshes
            clock.advance(600)
            data = run.refresh().data
            page = http.get(run.web_url or "").text
        logs = run.logs()
    assert 'id="status">COMPLETE<' in page and 'http-equiv="refresh"' not in page
    steps = _items(page, "timeline")
    assert len(steps) == len(logs)
    assert "PLAN_EVALUATION" in steps[0] and "FINAL_ANSWER" in steps[-1]
    edit = next(e for e in logs if e.tool_name == "edit_file")
    assert any(f'edit_file {{"path": "{(edit.tool_input or {})["path"]}"' in s for s in steps)
    result = re.search(r'<pre id="result">(.*?)</pre>', page, re.S)
    assert result and "Opened a pull request" in result[1]
    pr = data.github_pull_requests[0]
    assert f'<a href="/local/pull/{pr.id}">' in page
    assert _items(page, "prs") == [f"#{pr.id} {TASK} {pr.head_branch_name}"]
    assert "<b>now</b>" not in page and "&lt;b&gt;now&lt;/b&gt;" in page  # escaped


def test_the_pull_request_page_shows_files_and_the_runs_that_pushed() -> None:
    clock = ManualClock()
    with LocalCodegen(clock=clock) as backend, backend.client() as client:
        run = client.agent_runs.start(TASK)
        clock.advance(600)
        run.resume("Also add /ready")
        clock.advance(600)
        other = client.agent_runs.start("Something unrelated")
        clock.advance(600)
        pr = run.refresh().data.github_pull_requests[0]
        with backend.httpx_client() as http:
            page = http.get(pr.url or "")
    assert page.status_code == 200
    text = page.text
    assert f"<title>Pull request #{pr.id}: Add a /health endpoint &lt;b&gt;now&lt;/b&gt;" in text
    assert f"<code>{pr.head_branch_name}</code>" in text
    files = _items(text, "files")
    assert len(files) == 1 and re.fullmatch(r"src/\w+\.py \(\d+ lines changed\)", files[0])
    assert _items(text, "runs") == [f"run {run.id} COMPLETE: opened it, pushed 1 update"]
    assert f'href="/agent/trace/{run.id}"' in text and f"/agent/trace/{other.id}" not in text


async def test_unknown_ids_are_404_and_other_machines_403() -> None:
    with LocalCodegen(clock=ManualClock()) as backend:
        with backend.client() as client:
            run_id = client.agent_runs.create("Add a /health endpoint").id
        with backend.httpx_client() as http:
            assert http.get("/agent/trace/99999").status_code == 404
            assert http.get("/local/pull/99999").status_code == 404

        # A browser sends no token: only this machine may read the pages.
        async def get(client_ip: str) -> httpx.Response:
            transport = httpx.ASGITransport(app=backend.app, client=(client_ip, 4444))
            async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.9") as h:
                return await h.get(f"/agent/trace/{run_id}")

        refused = await get("10.1.2.3")
        assert refused.status_code == 403 and "Add a /health" not in refused.text
        assert (await get("10.0.0.9")).status_code == 200  # the server's own address


def test_links_follow_the_address_served_on_after_a_restart(tmp_path: Path) -> None:
    db, clock = tmp_path / "pages.db", ManualClock()
    with LocalCodegen(clock=clock, db=db, base_url="http://127.0.0.1:1111") as first:
        with first.client() as client:
            run_id = client.agent_runs.create("Add a /health endpoint").id
        clock.advance(600)
    again = LocalCodegen(clock=clock, db=db, base_url="http://127.0.0.1:2222")
    with again, again.client() as client:
        data = client.agent_runs.get(run_id)
    assert data.web_url == f"http://127.0.0.1:2222/agent/trace/{run_id}"
    assert [pr.url for pr in data.github_pull_requests] == ["http://127.0.0.1:2222/local/pull/1"]


def _chromium(url: str, shot: Path, profile: Path) -> str:
    """The DOM of ``url`` as headless Chromium renders it; a screenshot goes to ``shot``."""
    assert CHROMIUM is not None
    flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
    flags += " --disable-background-networking --disable-component-update --disable-sync"
    cmd = [CHROMIUM, *flags.split(), f"--user-data-dir={profile}", "--window-size=1000,800"]
    cmd += ["--dump-dom", f"--screenshot={shot}", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
@pytest.mark.timeout(600)  # a server and two browsers on a loaded machine; a bound, not a speed
def test_served_links_open_in_headless_chromium(tmp_path: Path) -> None:
    with (
        LocalServer(time_scale=1000, rate_limits=False) as server,
        CodegenClient(
            server.token, server.org_id, base_url=server.base_url, clock=ScaledClock(1000)
        ) as client,
    ):
        run = client.agent_runs.start("Add a /health endpoint")
        run.wait(timeout=3600)
        run.resume("Also add /ready").wait(timeout=3600)
        web_url, pr_url = run.web_url or "", run.pr_urls[0]
        # the links name the server's own address, and answer 200 HTML
        assert web_url == f"{server.base_url}/agent/trace/{run.id}"
        assert pr_url.startswith(f"{server.base_url}/local/pull/")
        for url in (web_url, pr_url):
            answer = httpx.get(url, timeout=30)
            assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
        run_dom = _chromium(web_url, tmp_path / "run.png", tmp_path / "profile")
        pr_dom = _chromium(pr_url, tmp_path / "pr.png", tmp_path / "profile")
    assert f"<h1>Agent run {run.id}</h1>" in run_dom and 'id="status">COMPLETE<' in run_dom
    steps = _items(run_dom, "timeline")
    assert [s for s in steps if "USER_MESSAGE" in s] == [
        next(s for s in steps if "Also add /ready" in s)
    ]
    assert pr_url.removeprefix(server.base_url) in run_dom  # the PR link, relative
    assert "<h1>Pull request #" in pr_dom and "Add a /health endpoint</h1>" in pr_dom
    assert _items(pr_dom, "files") and _items(pr_dom, "runs") == [
        f"run {run.id} COMPLETE: opened it, pushed 1 update"
    ]
    for shot in ("run.png", "pr.png"):
        png = (tmp_path / shot).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
