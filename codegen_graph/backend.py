"""Which backend a command talks to: the real Codegen API or the embedded local one.

One rule for every entry point (the CLI's commands, the Studio factories), so they never
disagree about when the stand-in is used:

1. asked for explicitly (``--local``, or :data:`LOCAL_ENV_VAR` set to a true value, which
   does not count for a command that writes outside): the embedded local backend;
2. a token given (argument, ``CODEGEN_API_TOKEN``/``CODEGEN_TOKEN``) or a base URL
   (argument, ``CODEGEN_API_BASE_URL``): the real API (a missing token is then the
   client's error, never a quiet switch to the stand-in);
3. a token variable that is set but empty or blank: an error naming it (in CI a missing
   secret reads as an empty string);
4. a command whose result leaves the machine (``review-pr`` posts to GitHub,
   ``review-mr`` to GitLab): an error, the stand-in's made-up output must never reach a
   real system unasked;
5. in CI (``CI``, ``GITHUB_ACTIONS`` or ``GITLAB_CI`` set): an error, nothing falls back
   silently there;
6. otherwise, on a developer's machine: the embedded local backend, announced with the
   exact reason.

The embedded backend is a stand-in: nothing it produces reaches GitHub or any other real
system unless the user asked for it by name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._config import BASE_URL_ENV_VAR, env_token
from ._exceptions import ConfigurationError

if TYPE_CHECKING:
    from .local import LocalCodegen

__all__ = [
    "CI_ENV_VARS",
    "DEFAULT_TIME_SCALE",
    "LOCAL_ENV_VAR",
    "BackendChoice",
    "choose_backend",
    "in_ci",
    "local_backend_class",
]

#: Simulated seconds per real second on the embedded backend when nothing else is said.
DEFAULT_TIME_SCALE = 60.0

#: Environment variable: ``1``/``true`` asks for the embedded local backend explicitly.
LOCAL_ENV_VAR = "CODEGEN_GRAPH_LOCAL"

#: Variables whose presence means "running in CI" (GitHub Actions and GitLab CI set two).
CI_ENV_VARS = ("CI", "GITHUB_ACTIONS", "GITLAB_CI")

_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class BackendChoice:
    """The outcome of :func:`choose_backend`.

    Attributes:
        local: ``True`` for the embedded local backend, ``False`` for the real API.
        reason: why, in a few words (``"--local given"``, ``"CODEGEN_API_TOKEN is set"``).
    """

    local: bool
    reason: str

    @property
    def notice(self) -> str:
        """The line that announces the embedded backend: ``"<reason>: using ..."``."""
        return f"{self.reason}: using the embedded local backend"


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE


def in_ci(environ: Mapping[str, str] | None = None) -> str | None:
    """The first CI variable that is set (``"CI"``, ``"GITHUB_ACTIONS"``...), or ``None``."""
    env = os.environ if environ is None else environ
    return next((name for name in CI_ENV_VARS if _truthy(env.get(name))), None)


def choose_backend(
    *,
    token: str | None = None,
    base_url: str | None = None,
    local: bool = False,
    writes_outside: str | None = None,
    local_flag: str = "--local",
    environ: Mapping[str, str] | None = None,
) -> BackendChoice:
    """Decide between the real Codegen API and the embedded local backend (see the module
    docstring for the rule).

    Args:
        token: a token given explicitly (``--token``); checked later by the client.
        base_url: a base URL given explicitly (``--base-url``).
        local: the embedded backend was asked for explicitly (``--local``).
        writes_outside: for a command whose result leaves the machine, what it writes
            (``"posts the review to GitHub"``): it then never falls back on its own.
        local_flag: how the caller spells "ask for it explicitly", for messages.
        environ: the environment to read (default ``os.environ``).

    Raises:
        ConfigurationError: the choice would be a silent fallback where it must not be,
            or the options contradict each other; the message names the variable.
    """
    env = os.environ if environ is None else environ
    # For a command that writes outside, only the flag typed for it counts: a CI job that
    # exports CODEGEN_GRAPH_LOCAL=1 for its tests must not post a made-up review.
    explicit = local or (writes_outside is None and _truthy(env.get(LOCAL_ENV_VAR)))
    if explicit:
        if token is not None or base_url is not None:
            given = "--token" if token is not None else "--base-url"
            raise ConfigurationError(
                f"{local_flag} asks for the embedded local backend, {given} for a real API: "
                "pass one of them"
            )
        return BackendChoice(True, f"{local_flag} given" if local else f"{LOCAL_ENV_VAR} is set")
    if token is not None:
        return BackendChoice(False, "a token was given")
    try:
        found = env_token(env)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{exc} Nothing falls back to the embedded local backend silently: pass "
            f"{local_flag} to use it on purpose."
        ) from None
    if found is not None:
        return BackendChoice(False, f"{found.name} is set")
    if base_url is not None or env.get(BASE_URL_ENV_VAR, "").strip():
        return BackendChoice(False, "a base URL was given")
    if writes_outside is not None:
        raise ConfigurationError(
            f"CODEGEN_API_TOKEN is not set, and this command {writes_outside}: it never "
            "falls back to the embedded local backend, whose output is made up. Set "
            f"CODEGEN_API_TOKEN and CODEGEN_ORG_ID, or pass {local_flag} to use the "
            f"embedded backend on purpose ({LOCAL_ENV_VAR} does not count for it)."
        )
    ci = in_ci(env)
    if ci is not None:
        raise ConfigurationError(
            f"CODEGEN_API_TOKEN is not set and {ci} is: in CI nothing falls back to the "
            "embedded local backend silently. Pass the secret to this step as "
            f"CODEGEN_API_TOKEN (and CODEGEN_ORG_ID), or pass {local_flag} to use the "
            "embedded backend on purpose."
        )
    return BackendChoice(True, "no CODEGEN_API_TOKEN set")


def local_backend_class() -> type[LocalCodegen]:
    """:class:`~codegen_graph.local.LocalCodegen`, or a clear error without the extra.

    Raises:
        ConfigurationError: the ``local`` extra (FastAPI, uvicorn) is not installed.
    """
    try:
        from .local import LocalCodegen
    except ImportError:
        raise ConfigurationError(
            "The embedded local backend is not installed: set CODEGEN_API_TOKEN and "
            "CODEGEN_ORG_ID for the real API, or install the local extra (pip install '.[local]' "
            "in a checkout of codegen-graph)"
        ) from None
    return LocalCodegen
