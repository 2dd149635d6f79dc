"""One rule picks the backend (codegen_graph.backend) for the CLI and Studio alike: the
embedded stand-in is used on purpose, or outside CI with no token variable at all, never as
a silent fallback for an empty secret, in CI, or where its output would leave the machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from codegen_graph import ConfigurationError, studio
from codegen_graph._config import EnvToken, env_token
from codegen_graph.backend import choose_backend
from codegen_graph.cli import app

TOKEN = "cg-choice-0123456789abcdef"


@pytest.mark.parametrize(
    ("environ", "kwargs", "local", "reason"),
    [
        ({}, {}, True, "no CODEGEN_API_TOKEN set"),
        ({"CODEGEN_API_TOKEN": TOKEN}, {}, False, "CODEGEN_API_TOKEN is set"),
        ({"CODEGEN_TOKEN": f" {TOKEN}\n"}, {}, False, "CODEGEN_TOKEN is set"),
        ({"CODEGEN_API_TOKEN": TOKEN}, {"local": True}, True, "--local given"),
        ({"CI": "true", "CODEGEN_API_TOKEN": ""}, {"local": True}, True, "--local given"),
        ({"CODEGEN_GRAPH_LOCAL": "1", "CI": "true"}, {}, True, "CODEGEN_GRAPH_LOCAL is set"),
        ({"CODEGEN_GRAPH_LOCAL": "0"}, {}, True, "no CODEGEN_API_TOKEN set"),
        ({"CI": "false"}, {}, True, "no CODEGEN_API_TOKEN set"),
        ({"CODEGEN_API_BASE_URL": "http://127.0.0.1:1"}, {}, False, "a base URL was given"),
        ({}, {"token": TOKEN}, False, "a token was given"),
        ({"CI": "true"}, {"token": ""}, False, "a token was given"),
        (
            {"CODEGEN_GRAPH_LOCAL": "1"},
            {"local": True, "writes_outside": "posts to GitHub"},
            True,
            "--local given",
        ),
    ],
)
def test_the_rule(
    environ: dict[str, str], kwargs: dict[str, object], local: bool, reason: str
) -> None:
    choice = choose_backend(environ=environ, **kwargs)  # type: ignore[arg-type]
    assert (choice.local, choice.reason) == (local, reason)
    if local:
        assert choice.notice == f"{reason}: using the embedded local backend"


@pytest.mark.parametrize(
    ("environ", "kwargs", "names"),
    [
        ({"CI": "true"}, {}, ("CODEGEN_API_TOKEN", "CI")),
        ({"GITHUB_ACTIONS": "true", "CODEGEN_ORG_ID": "12345"}, {}, ("GITHUB_ACTIONS",)),
        ({"GITLAB_CI": "true", "CODEGEN_ORG_ID": "12345"}, {}, ("GITLAB_CI",)),
        ({"CODEGEN_API_TOKEN": ""}, {}, ("CODEGEN_API_TOKEN is set but empty",)),
        ({"CODEGEN_API_TOKEN": " \t"}, {}, ("CODEGEN_API_TOKEN is set but empty",)),
        ({"CODEGEN_TOKEN": ""}, {}, ("CODEGEN_TOKEN is set but empty",)),
        ({}, {"writes_outside": "posts to GitHub"}, ("CODEGEN_API_TOKEN", "posts to GitHub")),
        # a command that writes outside counts only its own flag, not the variable a CI job
        # may export for its tests
        (
            {"CODEGEN_GRAPH_LOCAL": "1"},
            {"writes_outside": "posts to GitHub"},
            ("--local", "CODEGEN_GRAPH_LOCAL does not count"),
        ),
        ({}, {"local": True, "token": TOKEN}, ("--local", "--token")),
        ({}, {"local": True, "base_url": "https://x.example"}, ("--base-url",)),
    ],
)
def test_no_silent_fallback(
    environ: dict[str, str], kwargs: dict[str, object], names: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        choose_backend(environ=environ, **kwargs)  # type: ignore[arg-type]
    assert all(name in str(caught.value) for name in names), str(caught.value)


def test_env_token_is_the_one_rule() -> None:
    assert env_token({}) is None
    found = env_token({"CODEGEN_API_TOKEN": f"  {TOKEN}\n", "CODEGEN_TOKEN": "other"})
    assert found == EnvToken("CODEGEN_API_TOKEN", TOKEN)
    assert TOKEN not in repr(found)
    # the first variable that is set decides; an empty one is not skipped
    with pytest.raises(ConfigurationError, match="CODEGEN_API_TOKEN is set but empty"):
        env_token({"CODEGEN_API_TOKEN": "", "CODEGEN_TOKEN": TOKEN})
    with pytest.raises(ConfigurationError, match="CODEGEN_TOKEN contains a control character"):
        env_token({"CODEGEN_TOKEN": "cg-ab\x00cd"})


@pytest.fixture
def clean_studio(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("CODEGEN_API_TOKEN", "CODEGEN_TOKEN", "CODEGEN_ORG_ID", "CODEGEN_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    studio.reset_client()
    yield monkeypatch
    studio.reset_client()


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        ({"GITHUB_ACTIONS": "true"}, "GITHUB_ACTIONS is"),
        ({"CODEGEN_API_TOKEN": "  "}, "CODEGEN_API_TOKEN is set but empty"),
    ],
)
def test_studio_follows_the_same_rule(
    clean_studio: pytest.MonkeyPatch, environ: dict[str, str], match: str
) -> None:
    for key, value in environ.items():
        clean_studio.setenv(key, value)
    with pytest.raises(ConfigurationError, match=match) as caught:
        studio.client_from_env()
    assert "CODEGEN_GRAPH_LOCAL=1" in str(caught.value)


def test_studio_uses_the_embedded_backend_when_asked_in_ci(
    clean_studio: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_studio.setenv("CI", "true")
    clean_studio.setenv("CODEGEN_GRAPH_LOCAL", "1")
    client = studio.client_from_env()
    assert client.agent_runs.create("Add a /health endpoint").id > 0
    err = capsys.readouterr().err
    assert "codegen-graph: CODEGEN_GRAPH_LOCAL is set: using the embedded local backend" in err


def _cli(*args: str, **env: str) -> tuple[int, str]:
    names = ("CODEGEN_API_TOKEN", "CODEGEN_TOKEN", "CODEGEN_ORG_ID", "CODEGEN_API_BASE_URL")
    result = CliRunner().invoke(app, list(args), env={k: None for k in names} | env)
    return result.exit_code, result.stderr


def test_every_command_refuses_to_fall_back_in_ci(tmp_path: object) -> None:
    code, err = _cli("runs", "list", CI="true", CODEGEN_ORG_ID="12345")
    assert code == 2
    assert err.startswith("error: CODEGEN_API_TOKEN is not set and CI is: in CI nothing falls")
    assert "hint: the real API needs CODEGEN_API_TOKEN" in err and "--local" in err
    code, err = _cli("runs", "list", "--local", "--time-scale", "1000", CI="true")
    assert code == 0, err
    assert err.splitlines()[0] == "--local given: using the embedded local backend"


def test_an_empty_token_variable_is_never_no_token() -> None:
    code, err = _cli("runs", "list", CODEGEN_API_TOKEN="")
    assert code == 2 and err.startswith("error: CODEGEN_API_TOKEN is set but empty")
    assert "using the embedded local backend" not in err
