"""Secret redaction for everything that leaves the process: traces, logs, audit lines, state.

A :class:`Redactor` knows two kinds of secrets:

* **known values** (the Codegen API token, the LangSmith key, ...): every occurrence is
  replaced, wherever it sits in a string;
* **patterns** (bearer tokens, ``sk-...``, ``ghp_...``/``github_pat_...``, AWS keys,
  ``CODEGEN_API_TOKEN=...``, ``api_key: ...``): a pattern with a group named ``secret``
  replaces only that group (``Bearer [REDACTED]``), any other pattern its whole match.

Dict values under sensitive keys (``authorization``, ``api_key``, ``password``, ...) are
replaced whole. Redaction is pure: the input is never modified, a new value is returned.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from ._exceptions import ConfigurationError

__all__ = [
    "DEFAULT_SECRET_ENV_VARS",
    "DEFAULT_SECRET_PATTERNS",
    "DEFAULT_SENSITIVE_KEYS",
    "REDACTED",
    "Redactor",
    "mask_url",
]

#: What every secret is replaced with.
REDACTED = "[REDACTED]"

#: The shortest known secret value accepted: shorter ones would shred ordinary text.
MIN_SECRET_LENGTH = 4

#: Patterns of well-known credential shapes.
DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    # PEM private keys, whole block.
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    # HTTP authorization schemes.
    r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
    r"(?i)\bbasic\s+(?P<secret>[A-Za-z0-9+/=]{12,})",
    # OpenAI / Anthropic style keys.
    r"\bsk-[A-Za-z0-9_-]{16,}",
    # GitHub tokens (classic and fine-grained).
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    # LangSmith keys.
    r"\blsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}",
    # Slack tokens.
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    # AWS access key ids and secret access keys.
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    r"(?i)aws_secret_access_key[\"']?\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})",
    # JSON web tokens.
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    # Environment assignments: CODEGEN_API_TOKEN=..., LANGSMITH_API_KEY="...".
    r"\b[A-Z0-9_]*(?:API_TOKEN|API_KEY|SECRET_KEY|SECRET|PASSWORD|ACCESS_TOKEN|AUTH_TOKEN)"
    r"\s*=\s*[\"']?(?P<secret>[^\s\"'&;]+)",
    # Generic key/value: api_key: ..., "access_token": "...", password=...
    r"(?i)\b(?:api[_-]?key|api[_-]?token|access[_-]?token|auth[_-]?token|secret[_-]?key"
    r"|client[_-]?secret|password)[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\s\"',;}&]{4,})",
)

#: Dict keys whose (string or number) values are secrets whatever they look like.
DEFAULT_SENSITIVE_KEYS: tuple[str, ...] = (
    r"(?i)^(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key"
    r"|api[_-]?key|api[_-]?token|access[_-]?token|auth[_-]?token|refresh[_-]?token"
    r"|secret|secret[_-]?key|client[_-]?secret|password|passwd|token)$",
)

#: Environment variables whose values :meth:`Redactor.from_env` treats as known secrets.
DEFAULT_SECRET_ENV_VARS: tuple[str, ...] = (
    "CODEGEN_API_TOKEN",
    "CODEGEN_TOKEN",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
)

_T = TypeVar("_T")


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigurationError(f"invalid redaction pattern {pattern!r}: {exc}") from exc


class Redactor:
    """Replace secrets with ``[REDACTED]`` in strings and, recursively, in containers.

    Args:
        secrets: Known secret values (for example the API token). Empty values are ignored;
            values shorter than 4 characters raise :class:`ConfigurationError`.
        patterns: Regular expressions of secret shapes; defaults to
            :data:`DEFAULT_SECRET_PATTERNS`. A named group ``secret`` limits what is replaced.
        sensitive_keys: Regular expressions matched against dict keys; a matching key's
            string or number value is replaced whole.
        replacement: The replacement text.

    Examples:
        >>> r = Redactor(secrets=["s3cr3t-token"])
        >>> r("token is s3cr3t-token; Authorization: Bearer abcdefghijkl")
        'token is [REDACTED]; Authorization: Bearer [REDACTED]'
        >>> r({"api_key": "x1y2", "n": 1})
        {'api_key': '[REDACTED]', 'n': 1}
    """

    __slots__ = ("_key_patterns", "_patterns", "_replacement", "_secret_re", "_secrets")

    def __init__(
        self,
        secrets: Iterable[str] = (),
        patterns: Iterable[str | re.Pattern[str]] = DEFAULT_SECRET_PATTERNS,
        *,
        sensitive_keys: Iterable[str | re.Pattern[str]] = DEFAULT_SENSITIVE_KEYS,
        replacement: str = REDACTED,
    ) -> None:
        values = sorted({s for s in secrets if s}, key=lambda s: (-len(s), s))
        for value in values:
            if len(value) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    f"a known secret must be at least {MIN_SECRET_LENGTH} characters long "
                    f"(got one of {len(value)}); pass a pattern instead"
                )
            if value in replacement:
                raise ConfigurationError(
                    "a known secret occurs inside the replacement text; choose another replacement="
                )
        self._secrets = tuple(values)
        self._secret_re = re.compile("|".join(re.escape(v) for v in values)) if values else None
        self._patterns = tuple(_compile(p) for p in patterns)
        self._key_patterns = tuple(_compile(p) for p in sensitive_keys)
        self._replacement = replacement

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        names: Iterable[str] = DEFAULT_SECRET_ENV_VARS,
        secrets: Iterable[str] = (),
        patterns: Iterable[str | re.Pattern[str]] = DEFAULT_SECRET_PATTERNS,
    ) -> Redactor:
        """A redactor that knows the values of the usual credential variables.

        Values shorter than 4 characters are skipped (they cannot be told from text).

        Args:
            env: The environment to read; ``os.environ`` by default.
            names: The variables whose values are secrets.
            secrets: More known values.
            patterns: Secret patterns, as for the constructor.
        """
        source = os.environ if env is None else env
        found = [source.get(name, "") for name in names]
        known = [v for v in (*found, *secrets) if len(v) >= MIN_SECRET_LENGTH]
        return cls(known, patterns)

    def with_secrets(self, *secrets: str) -> Redactor:
        """A copy of this redactor that also knows ``secrets``."""
        return Redactor(
            (*self._secrets, *secrets),
            self._patterns,
            sensitive_keys=self._key_patterns,
            replacement=self._replacement,
        )

    def __repr__(self) -> str:
        # Never the secrets themselves.
        return (
            f"Redactor(secrets=<{len(self._secrets)} known>, patterns=<{len(self._patterns)}>, "
            f"sensitive_keys=<{len(self._key_patterns)}>)"
        )

    def __call__(self, value: _T) -> _T:
        """Same as :meth:`redact`; lets a redactor serve as LangSmith's ``anonymizer``."""
        return self.redact(value)

    def redact_text(self, text: str) -> str:
        """Return ``text`` with every known secret and pattern match replaced."""
        if not text:
            return text
        out = text
        if self._secret_re is not None:
            # Replacing can glue text into a new occurrence ("ab" + "[REDACTED]" ...);
            # repeat until nothing matches. Each extra pass consumes original text, so
            # the loop ends.
            for _ in range(len(text) + 1):
                replaced = self._secret_re.sub(self._replacement, out)
                if replaced == out:
                    break
                out = replaced
        for pattern in self._patterns:
            out = pattern.sub(self._replace_match, out)
        return out

    def _replace_match(self, match: re.Match[str]) -> str:
        if "secret" in match.re.groupindex and match.group("secret") is not None:
            start, end = match.span("secret")
            base = match.start()
            whole = match.group(0)
            return whole[: start - base] + self._replacement + whole[end - base :]
        return self._replacement

    def is_sensitive_key(self, key: str) -> bool:
        """Whether values under ``key`` are replaced whole."""
        return any(p.search(key) for p in self._key_patterns)

    def redact(self, value: _T) -> _T:
        """Return a redacted copy of ``value``.

        Strings are scanned; dicts, lists, tuples and sets are walked (keys too); pydantic
        models are dumped to JSON-able dicts first (so a model comes back as a ``dict``);
        bytes that decode as UTF-8 are scanned and re-encoded; anything else is returned as
        is.
        """
        return self._redact(value, set())  # type: ignore[no-any-return]

    def _redact(self, value: Any, seen: set[int]) -> Any:
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, (bool, int, float)) or value is None:
            return value
        if isinstance(value, BaseModel):
            return self._redact(value.model_dump(mode="json"), seen)
        if isinstance(value, (bytes, bytearray)):
            try:
                decoded = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                return value
            return self.redact_text(decoded).encode("utf-8")
        if isinstance(value, (Mapping, list, tuple, set, frozenset)):
            if id(value) in seen:
                return "[CYCLE]"
            seen.add(id(value))
            try:
                return self._redact_container(value, seen)
            finally:
                seen.discard(id(value))
        return value

    def _redact_container(self, value: Any, seen: set[int]) -> Any:
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self.redact_text(key) if isinstance(key, str) else key
                if (
                    isinstance(key, str)
                    and isinstance(item, (str, int, float))
                    and not isinstance(item, bool)
                    and item != ""
                    and self.is_sensitive_key(key)
                ):
                    out[new_key] = self._replacement
                else:
                    out[new_key] = self._redact(item, seen)
            return out
        items = [self._redact(item, seen) for item in value]
        if isinstance(value, tuple):
            return tuple(items)
        if isinstance(value, (set, frozenset)):
            return type(value)(items)
        return items


# -- the redactor in force ----------------------------------------------------------------
# Kept here, beside Redactor, so that the client layer and the plugins can use it without
# importing the LangSmith integration.

_state_lock = threading.Lock()
_active: Redactor | None = None
_known: frozenset[str] = frozenset()


def register_secret(value: str) -> None:
    """Teach :func:`get_redactor` a secret (the clients register their API tokens).

    Values shorter than :data:`MIN_SECRET_LENGTH` are ignored (too short to redact safely).
    """
    global _known
    if len(value) < MIN_SECRET_LENGTH or value in _known:
        return
    with _state_lock:
        _known = _known | {value}


def swap_active_redactor(redactor: Redactor | None) -> Redactor | None:
    """Make ``redactor`` the one in force (``None``: back to the default); return the old."""
    global _active
    with _state_lock:
        previous, _active = _active, redactor
    return previous


@functools.lru_cache(maxsize=8)
def _env_redactor(values: tuple[str, ...]) -> Redactor:
    return Redactor([v for v in values if len(v) >= MIN_SECRET_LENGTH])


@functools.lru_cache(maxsize=32)
def _with_known(base: Redactor, known: frozenset[str]) -> Redactor:
    return base.with_secrets(*sorted(known))


def get_redactor() -> Redactor:
    """The redactor in force: the one given to ``enable_tracing``, else one from the env,
    plus every secret registered with :func:`register_secret` (the clients' tokens).

    The default knows the values of :data:`DEFAULT_SECRET_ENV_VARS` (``CODEGEN_API_TOKEN``,
    ``LANGSMITH_API_KEY``, ...) and the default secret patterns.
    """
    base = _active
    if base is None:
        base = _env_redactor(tuple(os.environ.get(n, "") for n in DEFAULT_SECRET_ENV_VARS))
    known = _known
    return _with_known(base, known) if known else base


#: Query parameters whose values are credentials (``redis://h/0?password=...``).
_SECRET_QUERY = re.compile(r"(?i)pass|secret|token|auth|key|credential")


def mask_url(url: str) -> str:
    """``url`` for a message or a repr, its credentials as ``***``.

    Everything between ``//`` and the last ``@`` before the query is userinfo here (so a
    password holding ``@`` or an unencoded ``/`` is hidden whole, and a URL ``urlsplit``
    would misread shows nothing of it); credential query values (``?password=...``) too.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    head, qmark, query = rest.partition("?")
    if "@" in head:
        head = "***@" + head[head.rindex("@") + 1 :]
    if query:
        query = "&".join(
            f"{name}=***" if eq and _SECRET_QUERY.search(name) else f"{name}{eq}{value}"
            for name, eq, value in (item.partition("=") for item in query.split("&"))
        )
    return f"{scheme}{sep}{head}{qmark}{query}"
