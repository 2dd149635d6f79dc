"""`codegen-graph review-pr` against the local backend and a fake GitHub API on loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codegen_graph.cli._github import GitHubClient, resolve_github_api_url
from codegen_graph.cli._review import render_review
from codegen_graph.models import AgentRunResponse

from .conftest import INSTALL_CASES, Cli, FakeForge, run_install_step, serve_forge, stderr_lines

GH_TOKEN = "ghs_canary_0123456789"


@pytest.fixture
def github() -> Iterator[FakeForge]:
    def answer(path: str) -> dict[str, Any]:
        return {"id": 1, "html_url": f"https://github.test{path}#c1"}

    with serve_forge(answer, {"message": "Resource not accessible by integration"}) as fake:
        yield fake


def _review(cli: Cli, github: FakeForge, summary: Path, *extra: str) -> Any:
    env = {"GITHUB_TOKEN": GH_TOKEN, "GITHUB_STEP_SUMMARY": str(summary)}
    args = ["review-pr", "--repo", "octo/demo", "--pr", "17", "--github-api-url", github.url]
    return cli.local(*args, "--local", *extra, env=env)


def test_review_posts_the_comment_and_the_step_summary(
    cli: Cli, github: FakeForge, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    result = _review(cli, github, summary)
    assert result.exit_code == 0, result.output

    assert len(github.requests) == 1
    request = github.requests[0]
    assert request["path"] == "/repos/octo/demo/issues/17/comments"
    assert request["headers"]["Authorization"] == f"Bearer {GH_TOKEN}"
    assert request["headers"]["Accept"] == "application/vnd.github+json"
    body = request["json"]["body"]
    assert body.startswith("## Codegen review of octo/demo#17\n")
    assert "Simulated by codegen-graph's embedded local backend (--local)" in body

    run = cli.json("runs", "list")[0]
    assert run["status"] == "COMPLETE"
    assert run["metadata"]["github_repo"] == "octo/demo" and run["metadata"]["github_pr"] == 17
    assert run["result"] in body and str(run["id"]) in body
    prompt = cli.json("runs", "logs", str(run["id"]))[0]["thought"]
    assert "#17" in prompt and "octo/demo" in prompt

    # appended after what an earlier step wrote, identical to the comment
    assert summary.read_text(encoding="utf-8") == "# earlier step\n" + body
    assert "comment: https://github.test/repos/octo/demo/issues/17/comments#c1" in result.stdout
    assert GH_TOKEN not in result.output


def test_review_json(cli: Cli, github: FakeForge, tmp_path: Path) -> None:
    result = _review(cli, github, tmp_path / "s.md", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["run"]["status"] == "COMPLETE" and doc["step_summary"] is True
    assert doc["review"] == github.requests[0]["json"]["body"]
    assert doc["comment_url"].endswith("#c1")


def test_github_refusal_is_an_api_error(cli: Cli, github: FakeForge, tmp_path: Path) -> None:
    github.status = 403
    result = _review(cli, github, tmp_path / "s.md")
    assert result.exit_code == 3
    lines = stderr_lines(result)
    error = next(line for line in lines if line.startswith("error:"))
    assert "HTTP 403" in error and "Resource not accessible" in error
    assert lines[-1].startswith("hint: ") and "pull-requests: write" in lines[-1]
    assert GH_TOKEN not in result.output
    # the review itself was still written to the step summary
    assert (tmp_path / "s.md").read_text(encoding="utf-8").startswith("## Codegen review")


def test_missing_github_token_fails_before_any_agent_run(cli: Cli, github: FakeForge) -> None:
    args = ["review-pr", "--repo", "octo/demo", "--pr", "3", "--github-api-url", github.url]
    result = cli.local(*args, "--local")
    assert result.exit_code == 2 and "GITHUB_TOKEN" in result.stderr
    assert cli.json("runs", "list") == [] and github.requests == []
    assert cli.local("review-pr", "--repo", "not-a-repo", "--pr", "3", "--local").exit_code == 2


@pytest.mark.parametrize(
    "repo", ["../demo", "octo/..", "./demo", "octo/.", "octo/demo/x", " /demo"]
)
def test_a_repo_that_is_not_owner_name_posts_nothing(
    cli: Cli, github: FakeForge, repo: str
) -> None:
    """A dot segment would send the comment to another API path than the repository's."""
    args = ["review-pr", "--repo", repo, "--pr", "3", "--github-api-url", github.url]
    result = cli.local(*args, "--local", env={"GITHUB_TOKEN": "ghp_x"})
    assert result.exit_code == 2 and "OWNER/NAME" in result.stderr, result.stderr
    assert cli.json("runs", "list") == [] and github.requests == []


#: Environments where a silent fallback to the embedded backend used to post a made-up
#: review: a missing secret in GitHub Actions reads as an empty variable.
NO_REAL_TOKEN = {
    "missing token, GitHub Actions": {"GITHUB_ACTIONS": "true", "CI": "true"},
    "missing token, CI with an org id": {"CI": "true", "CODEGEN_ORG_ID": "12345"},
    "missing token, no CI": {},
    "empty token, GitHub Actions": {"GITHUB_ACTIONS": "true", "CODEGEN_API_TOKEN": ""},
    "blank token, CI": {"CI": "true", "CODEGEN_API_TOKEN": "   "},
    "empty token, no CI": {"CODEGEN_API_TOKEN": "", "CODEGEN_ORG_ID": "12345"},
    "empty CODEGEN_TOKEN, CI": {"CI": "1", "CODEGEN_TOKEN": ""},
    # a CI job that exports the local switch for its tests still posts nothing made up
    "CODEGEN_GRAPH_LOCAL=1, GitHub Actions": {"GITHUB_ACTIONS": "true", "CODEGEN_GRAPH_LOCAL": "1"},
}


@pytest.mark.parametrize("case", sorted(NO_REAL_TOKEN))
def test_review_never_posts_from_the_embedded_backend_unasked(
    cli: Cli, github: FakeForge, tmp_path: Path, case: str
) -> None:
    summary = tmp_path / "summary.md"
    env = {
        "GITHUB_TOKEN": GH_TOKEN,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_API_URL": github.url,
        **NO_REAL_TOKEN[case],
    }
    result = cli("review-pr", "--repo", "acme/app", "--pr", "7", env=env)
    assert result.exit_code == 2, result.output
    assert github.requests == [], "nothing may reach GitHub"
    assert not summary.exists(), "nothing may reach the step summary"
    error = next(line for line in stderr_lines(result) if line.startswith("error:"))
    variable = "CODEGEN_TOKEN" if "CODEGEN_TOKEN" in NO_REAL_TOKEN[case] else "CODEGEN_API_TOKEN"
    assert variable in error and "--local" in error
    assert "using the embedded local backend" not in result.stderr
    assert cli.json("runs", "list") == [], "no agent run was started either"


def test_review_in_a_ci_process_with_an_empty_secret_writes_nothing(
    github: FakeForge, tmp_path: Path
) -> None:
    """The same in a real process, with the environment GitHub Actions gives a job."""
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "GITHUB_"))}
    env |= {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "CODEGEN_API_TOKEN": "",
        "CODEGEN_ORG_ID": "12345",
        "GITHUB_TOKEN": GH_TOKEN,
        "GITHUB_API_URL": github.url,
        "GITHUB_STEP_SUMMARY": str(summary),
        "CODEGEN_LOCAL_DB": str(tmp_path / "local.db"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "codegen_graph", "review-pr", "--repo", "acme/app", "--pr", "7"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "error: CODEGEN_API_TOKEN is set but empty" in proc.stderr
    assert github.requests == [] and not summary.exists()
    assert not (tmp_path / "local.db").exists(), "the embedded backend was never started"
    assert GH_TOKEN not in proc.stderr + proc.stdout


def test_no_comment_and_no_summary(cli: Cli, github: FakeForge) -> None:
    result = cli.local("review-pr", "--repo", "octo/demo", "--pr", "3", "--no-comment", "--local")
    assert result.exit_code == 0 and "## Codegen review of octo/demo#3" in result.stdout
    assert github.requests == []


def test_github_url_must_be_https_except_loopback() -> None:
    assert resolve_github_api_url(None) == "https://api.github.com"
    assert resolve_github_api_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert resolve_github_api_url("https://ghe.example/api/v3") == "https://ghe.example/api/v3"
    with pytest.raises(ValueError, match="clear text"):
        resolve_github_api_url("http://ghe.example/api/v3")
    with pytest.raises(ValueError, match="credentials"):
        resolve_github_api_url("https://user:pw@ghe.example")
    client = GitHubClient(GH_TOKEN, "octo/demo", 1, api_url="https://api.github.com")
    assert GH_TOKEN not in repr(client)
    client.close()


def test_render_review_of_a_failed_run() -> None:
    run = AgentRunResponse.model_validate(
        {"id": 9, "organization_id": 1, "status": "FAILED", "result": "sandbox crashed"}
    )
    text = render_review("octo/demo#5", run)
    assert text.startswith("## Codegen review of octo/demo#5 (FAILED)")
    assert "ended **FAILED**" in text and "sandbox crashed" in text


def test_the_example_workflow_runs_review_pr_with_the_secrets(cli: Cli) -> None:
    yaml = pytest.importorskip("yaml")
    root = Path(__file__).resolve().parents[2]
    doc = yaml.safe_load((root / "examples/github-actions/codegen-review.yml").read_text())
    assert "pull_request" in doc[True]  # YAML 1.1 reads the key `on` as True
    assert doc["permissions"]["pull-requests"] == "write"
    steps = doc["jobs"]["review"]["steps"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert "git+${CODEGEN_GRAPH_REPOSITORY}@${CODEGEN_GRAPH_COMMIT}" in install["run"]
    review = next(s for s in steps if "review-pr" in s.get("run", ""))
    assert set(review["env"]) == {"CODEGEN_API_TOKEN", "CODEGEN_ORG_ID", "GITHUB_TOKEN"}
    assert all("secrets." in v for v in review["env"].values())
    words = review["run"].split()
    assert words[:2] == ["codegen-graph", "review-pr"]
    options = [w for w in words if w.startswith("--")]
    assert {"--repo", "--pr"} <= set(options)
    helptext = cli("review-pr", "--help").stdout
    assert all(option in helptext for option in options)


def _install_step() -> tuple[str, dict[str, str]]:
    yaml = pytest.importorskip("yaml")
    root = Path(__file__).resolve().parents[2]
    doc = yaml.safe_load((root / "examples/github-actions/codegen-review.yml").read_text())
    job = doc["jobs"]["review"]
    step = next(s for s in job["steps"] if "pip install" in s.get("run", ""))
    return step["run"], job["env"]


@pytest.mark.parametrize(("commit", "repository", "installs"), INSTALL_CASES)
def test_the_template_installs_only_a_pinned_commit_of_the_repository(
    tmp_path: Path, commit: str | None, repository: str | None, installs: bool
) -> None:
    """The install step, run by bash with a stand-in pip that records its arguments."""
    script, job_env = _install_step()
    proc, pip = run_install_step(script, job_env, tmp_path, commit, repository, shell="bash")
    if not installs:
        assert proc.returncode == 2 and "::error::" in proc.stdout
        assert pip is None, "nothing may be installed from an unpinned source"
        return
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert pip == ["install", f"codegen-graph @ git+{repository}@{commit}"]


def test_no_doc_installs_codegen_graph_by_name_from_an_index() -> None:
    root = Path(__file__).resolve().parents[2]
    by_name = re.compile(r"pip install ['\"]?codegen-graph(\[[a-z,]+\])?(?![\[\w-])['\"]?(?! @)")
    # every doc, example, notebook and message of the package: a hint a user follows must
    # never install a name nobody of ours has published
    files = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    files += sorted((root / "examples").rglob("*.yml"))
    files += sorted((root / "notebooks").glob("*.ipynb"))
    files += sorted((root / "codegen_graph").rglob("*.py"))
    found = [
        f"{path.relative_to(root)}: {line.strip()}"
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if by_name.search(line)
    ]
    assert found == []


@pytest.mark.parametrize("bad", ["ghs_abc\ndef0123", "ghs_abcédef0123", "ghs abc def0123"])
def test_a_malformed_github_token_is_refused_before_anything(
    cli: Cli, github: FakeForge, bad: str
) -> None:
    env = {"GITHUB_TOKEN": bad, "GITHUB_API_URL": github.url}
    result = cli.local("review-pr", "--repo", "octo/demo", "--pr", "3", "--local", env=env)
    assert result.exit_code == 2
    assert "error: GITHUB_TOKEN (or --github-token) contains" in result.stderr
    assert "def0123" not in result.output
    assert github.requests == [] and cli.json("runs", "list") == []


def test_a_re_run_ci_job_reuses_its_review_run(cli: Cli, github: FakeForge, tmp_path: Path) -> None:
    def review(run_id: str, *extra: str) -> Any:
        env = {
            "GITHUB_TOKEN": GH_TOKEN,
            "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
            "GITHUB_RUN_ID": run_id,
        }
        args = ["review-pr", "--repo", "octo/demo", "--pr", "17", "--github-api-url", github.url]
        return cli.local(*args, "--local", *extra, env=env)

    first = review("9001")
    again = review("9001")  # "Re-run failed jobs": a new attempt of the same workflow run
    assert first.exit_code == 0 and again.exit_code == 0, again.output
    assert "already exists for this CI run: reusing it" in again.stderr
    assert len(cli.json("runs", "list")) == 1
    review("9002")  # a new push: a new workflow run, a new review
    assert len(cli.json("runs", "list")) == 2
    review("9002", "--idempotency-key", "mine")  # an explicit key wins
    assert len(cli.json("runs", "list")) == 3
