"""`codegen-graph review-mr` and the GitLab CI template, against the local backend (in
process, and served by `codegen-graph serve`) and a stand-in GitLab API on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codegen_graph.cli._gitlab import GitLabClient, resolve_gitlab_api_url
from codegen_graph.local import LocalServer

from .conftest import (
    INSTALL_CASES,
    Cli,
    FakeForge,
    run_install_step,
    serve_forge,
    stderr_lines,
)

GL_TOKEN = "glpat-canary-0123456789"
NOTE_ID = 301
PROJECT = "group/sub/demo"
NOTES = "/api/v4/projects/group%2Fsub%2Fdemo/merge_requests/17/notes"
TEMPLATE = Path(__file__).resolve().parents[2] / "examples/gitlab-ci/codegen-review.yml"


@pytest.fixture
def gitlab() -> Iterator[FakeForge]:
    def answer(path: str) -> dict[str, Any]:  # GitLab's note: an id, no web URL
        return {"id": NOTE_ID, "noteable_type": "MergeRequest", "noteable_iid": 17}

    with serve_forge(answer, {"message": "403 Forbidden"}) as fake:
        yield fake


def _mr_env(gitlab: FakeForge, **extra: str) -> dict[str, str]:
    """What a GitLab merge request pipeline sets (and the GITLAB_TOKEN variable)."""
    return {
        "GITLAB_TOKEN": GL_TOKEN,
        "CI_API_V4_URL": f"{gitlab.url}/api/v4",
        "CI_MERGE_REQUEST_PROJECT_PATH": PROJECT,
        "CI_PROJECT_ID": "4242",
        "CI_MERGE_REQUEST_IID": "17",
        **extra,
    }


def test_review_posts_one_note(cli: Cli, gitlab: FakeForge) -> None:
    result = cli.local("review-mr", "--local", env=_mr_env(gitlab))
    assert result.exit_code == 0, result.output

    assert len(gitlab.requests) == 1
    request = gitlab.requests[0]
    assert request["path"] == NOTES
    assert request["headers"]["PRIVATE-TOKEN"] == GL_TOKEN
    assert "Authorization" not in request["headers"]
    body = request["json"]["body"]
    assert body.startswith(f"## Codegen review of {PROJECT}!17\n")
    assert "Simulated by codegen-graph's embedded local backend (--local)" in body

    run = cli.json("runs", "list")[0]
    assert run["status"] == "COMPLETE"
    assert run["metadata"]["gitlab_project"] == PROJECT and run["metadata"]["gitlab_mr"] == 17
    assert run["result"].strip() in body and str(run["id"]) in body
    prompt = cli.json("runs", "logs", str(run["id"]))[0]["thought"]
    assert "merge request !17" in prompt and PROJECT in prompt and "GitLab" in prompt

    assert body in result.stdout
    assert f"note: {gitlab.url}/{PROJECT}/-/merge_requests/17#note_{NOTE_ID}" in result.stdout
    assert GL_TOKEN not in result.output


def test_review_json_with_a_numeric_project(cli: Cli, gitlab: FakeForge) -> None:
    env = _mr_env(gitlab)
    result = cli.local("review-mr", "--project", "42", "--mr", "5", "--local", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert [r["path"] for r in gitlab.requests] == ["/api/v4/projects/42/merge_requests/5/notes"]
    doc = json.loads(result.stdout)
    assert doc["run"]["status"] == "COMPLETE"
    assert doc["review"] == gitlab.requests[0]["json"]["body"]
    assert doc["review"].startswith("## Codegen review of 42!5\n")
    assert doc["note_url"] is None  # no path to build the note's URL from
    assert "step_summary" not in doc


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [(403, 3, "GITLAB_TOKEN (or --gitlab-token)"), (404, 3, "--project"), (502, 4, "try again")],
)
def test_gitlab_refusal(cli: Cli, gitlab: FakeForge, status: int, code: int, hint: str) -> None:
    gitlab.status = status
    result = cli.local("review-mr", "--local", env=_mr_env(gitlab))
    assert result.exit_code == code
    lines = stderr_lines(result)
    error = next(line for line in lines if line.startswith("error:"))
    assert f"GitLab answered HTTP {status}" in error and "403 Forbidden" in error
    assert lines[-1].startswith("hint: ") and hint in lines[-1]
    assert GL_TOKEN not in result.output


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (None, "No GitLab token"),
        ("", "No GitLab token"),
        ("   ", "No GitLab token"),
        ("glpat-abc\ndef0123", "GITLAB_TOKEN (or --gitlab-token) contains"),
        ("glpat-abcédef0123", "GITLAB_TOKEN (or --gitlab-token) contains"),
    ],
)
def test_a_missing_or_bad_gitlab_token_fails_before_any_agent_run(
    cli: Cli, gitlab: FakeForge, token: str | None, says: str
) -> None:
    env: dict[str, Any] = _mr_env(gitlab) | {"GITLAB_TOKEN": token}  # None: unset
    result = cli.local("review-mr", "--local", env=env)
    assert result.exit_code == 2
    error = next(line for line in stderr_lines(result) if line.startswith("error:"))
    assert says in error and "GITLAB_TOKEN" in error
    assert "def0123" not in result.output
    assert gitlab.requests == [] and cli.json("runs", "list") == []


#: Environments where a silent fallback to the embedded backend would post a made-up
#: review: a missing masked variable in GitLab CI reads as an empty one.
NO_REAL_TOKEN = {
    "missing token, GitLab CI": {"GITLAB_CI": "true", "CI": "true"},
    "missing token, GITLAB_CI with an org id": {"GITLAB_CI": "true", "CODEGEN_ORG_ID": "12345"},
    "missing token, no CI": {},
    "empty token, GitLab CI": {"GITLAB_CI": "true", "CI": "true", "CODEGEN_API_TOKEN": ""},
    "blank token, CI": {"CI": "true", "CODEGEN_API_TOKEN": "   "},
    "blank token, GITLAB_CI": {"GITLAB_CI": "true", "CODEGEN_API_TOKEN": "\t "},
    "empty token, no CI": {"CODEGEN_API_TOKEN": "", "CODEGEN_ORG_ID": "12345"},
    "empty CODEGEN_TOKEN, CI": {"CI": "1", "CODEGEN_TOKEN": ""},
    # a CI job that exports the local switch for its tests still posts nothing made up
    "CODEGEN_GRAPH_LOCAL=1, GitLab CI": {"GITLAB_CI": "true", "CODEGEN_GRAPH_LOCAL": "1"},
}


@pytest.mark.parametrize("case", sorted(NO_REAL_TOKEN))
def test_review_never_posts_from_the_embedded_backend_unasked(
    cli: Cli, gitlab: FakeForge, case: str
) -> None:
    result = cli("review-mr", env=_mr_env(gitlab, **NO_REAL_TOKEN[case]))
    assert result.exit_code == 2, result.output
    assert gitlab.requests == [], "nothing may reach GitLab"
    error = next(line for line in stderr_lines(result) if line.startswith("error:"))
    variable = "CODEGEN_TOKEN" if "CODEGEN_TOKEN" in NO_REAL_TOKEN[case] else "CODEGEN_API_TOKEN"
    assert variable in error and "--local" in error
    assert "using the embedded local backend" not in result.stderr
    assert cli.json("runs", "list") == [], "no agent run was started either"
    assert GL_TOKEN not in result.output


def test_a_retried_ci_job_reuses_its_review_run(cli: Cli, gitlab: FakeForge) -> None:
    def review(pipeline: str, *extra: str) -> Any:
        env = _mr_env(gitlab, CI_PIPELINE_ID=pipeline)
        return cli.local("review-mr", "--local", *extra, env=env)

    first, again = review("700"), review("700")  # "Retry": the same pipeline
    assert first.exit_code == 0 and again.exit_code == 0, again.output
    assert "already exists for this CI run: reusing it" in again.stderr
    assert len(cli.json("runs", "list")) == 1
    review("701")  # a new push: a new pipeline, a new review
    assert len(cli.json("runs", "list")) == 2
    review("701", "--idempotency-key", "mine")  # an explicit key wins
    assert len(cli.json("runs", "list")) == 3


def test_no_note_and_a_bad_project(cli: Cli, gitlab: FakeForge) -> None:
    result = cli.local("review-mr", "--project", "7", "--mr", "3", "--no-note", "--local")
    assert result.exit_code == 0 and "## Codegen review of 7!3" in result.stdout
    assert gitlab.requests == []
    bad = cli.local("review-mr", "--project", "../x", "--mr", "3", "--no-note", "--local")
    assert bad.exit_code == 2 and "--project must be" in bad.stderr
    assert cli.local("review-mr", "--project", "7", "--local").exit_code == 2  # no --mr


def test_the_gitlab_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CI_API_V4_URL", "CI_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_gitlab_api_url(None) == "https://gitlab.com/api/v4"
    monkeypatch.setenv("CI_SERVER_URL", "https://git.example/")
    assert resolve_gitlab_api_url(None) == "https://git.example/api/v4"
    monkeypatch.setenv("CI_API_V4_URL", "https://git.example:8443/api/v4")
    assert resolve_gitlab_api_url(None) == "https://git.example:8443/api/v4"
    assert resolve_gitlab_api_url("http://[::1]:9/api/v4/") == "http://[::1]:9/api/v4"
    with pytest.raises(ValueError, match="clear text"):
        resolve_gitlab_api_url("http://git.example/api/v4")
    with pytest.raises(ValueError, match="credentials"):
        resolve_gitlab_api_url("https://user:pw@git.example/api/v4")
    client = GitLabClient(GL_TOKEN, PROJECT, 1)
    assert GL_TOKEN not in repr(client) and "git.example:8443" in repr(client)
    client.close()


# -- the template --------------------------------------------------------------------------
def _job() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert list(doc) == ["codegen-review"]
    job: dict[str, Any] = doc["codegen-review"]
    return job


def _script(job: dict[str, Any], word: str) -> str:
    return next(line for line in job["script"] if word in line)


def test_the_template_runs_review_mr_on_merge_requests(cli: Cli) -> None:
    job = _job()
    draft, review = job["rules"]  # drafts are skipped; merge requests of the project reviewed
    assert draft == {"if": '$CI_MERGE_REQUEST_DRAFT == "true"', "when": "never"}
    assert review["if"].startswith('$CI_PIPELINE_SOURCE == "merge_request_event" && ')
    assert "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_MERGE_REQUEST_PROJECT_ID" in review["if"]
    # the secrets come from the project's CI/CD settings, never from the file
    assert not {"CODEGEN_API_TOKEN", "CODEGEN_ORG_ID", "GITLAB_TOKEN"} & set(job["variables"])
    assert "CODEGEN_API_TOKEN" in TEMPLATE.read_text() and "GITLAB_TOKEN" in TEMPLATE.read_text()
    words = _script(job, "review-mr").split()
    assert words[:2] == ["codegen-graph", "review-mr"]
    options = [w for w in words if w.startswith("--")]
    assert {"--project", "--mr"} <= set(options) and "--local" not in options
    helptext = cli("review-mr", "--help").stdout
    assert all(option in helptext for option in options)


@pytest.mark.parametrize(("commit", "repository", "installs"), INSTALL_CASES)
def test_the_template_installs_only_a_pinned_commit_of_the_repository(
    tmp_path: Path, commit: str | None, repository: str | None, installs: bool
) -> None:
    """The install script, run by a POSIX sh (GitLab runs whatever shell the image has)."""
    job = _job()
    script = _script(job, "pip install")
    proc, pip = run_install_step(script, job["variables"], tmp_path, commit, repository, shell="sh")
    if not installs:
        assert proc.returncode == 2 and "ERROR: set CODEGEN_GRAPH_" in proc.stderr
        assert pip is None, "nothing may be installed from an unpinned source"
        return
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert pip == ["install", f"codegen-graph @ git+{repository}@{commit}"]


@pytest.mark.parametrize("commit", ["0123456789abcdef0123456789abcdef0123456\n7", "A" * 40])
def test_the_template_refuses_a_commit_that_only_looks_pinned(tmp_path: Path, commit: str) -> None:
    job = _job()
    script = _script(job, "pip install")
    repository = "https://github.com/acme/codegen-graph"
    proc, pip = run_install_step(script, job["variables"], tmp_path, commit, repository, shell="sh")
    assert proc.returncode == 2 and pip is None


SERVED_TOKEN = "served-canary-token-88aa"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `codegen-graph serve` whose review of MR !99 fails."""
    scenario = tmp_path_factory.mktemp("scenario") / "review.json"
    rule = {"match": "merge request !99 ", "attempts": [{"status": "FAILED", "result": "boom"}]}
    scenario.write_text(json.dumps({"name": "one failing review", "rules": [rule]}))
    with LocalServer(
        token=SERVED_TOKEN, org_id=4242, time_scale=1000, scenario=str(scenario)
    ) as server:
        yield server.base_url


def _run_template_job(
    gitlab: FakeForge, base_url: str, mr: str, **secrets: str
) -> subprocess.CompletedProcess[str]:
    """The template's review line, run by sh in the environment of a GitLab merge request
    pipeline (the CI/CD variables ``secrets`` among it), as the job would."""
    drop = ("CODEGEN_", "GITHUB_", "GITLAB_", "CI")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env |= _mr_env(gitlab, CI="true", GITLAB_CI="true", CI_MERGE_REQUEST_IID=mr, **secrets)
    env |= {"CODEGEN_API_BASE_URL": base_url, "CI_PIPELINE_ID": "9100"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    script = _script(_job(), "review-mr")
    return subprocess.run(
        ["sh", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=300
    )


def test_the_template_job_posts_one_real_review(gitlab: FakeForge, served: str) -> None:
    proc = _run_template_job(
        gitlab, served, "17", CODEGEN_API_TOKEN=SERVED_TOKEN, CODEGEN_ORG_ID="4242"
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["path"] for r in gitlab.requests] == [NOTES]
    body = gitlab.requests[0]["json"]["body"]
    assert body.startswith(f"## Codegen review of {PROJECT}!17\n")
    assert "posted by codegen-graph" in body and "Simulated" not in body
    assert "embedded local backend" not in proc.stderr
    assert GL_TOKEN not in proc.stdout + proc.stderr
    assert SERVED_TOKEN not in proc.stdout + proc.stderr


def test_the_template_job_posts_nothing_when_the_review_fails(
    gitlab: FakeForge, served: str
) -> None:
    proc = _run_template_job(
        gitlab, served, "99", CODEGEN_API_TOKEN=SERVED_TOKEN, CODEGEN_ORG_ID="4242"
    )
    assert proc.returncode == 1, proc.stderr
    assert gitlab.requests == []
    assert f"## Codegen review of {PROJECT}!99 (FAILED)" in proc.stdout and "boom" in proc.stdout


def test_the_template_job_with_an_empty_secret_writes_nothing(
    gitlab: FakeForge, served: str, tmp_path: Path
) -> None:
    proc = _run_template_job(
        gitlab,
        served,
        "17",
        CODEGEN_API_TOKEN="",
        CODEGEN_ORG_ID="4242",
        CODEGEN_LOCAL_DB=str(tmp_path / "local.db"),
    )
    assert proc.returncode == 2, proc.stderr
    assert "error: CODEGEN_API_TOKEN is set but empty" in proc.stderr
    assert gitlab.requests == []
    assert not (tmp_path / "local.db").exists(), "the embedded backend was never started"
    assert GL_TOKEN not in proc.stderr + proc.stdout
