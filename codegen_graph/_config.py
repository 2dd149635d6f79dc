"""Client settings: small frozen config objects and the token/org/base-URL resolution.

Every default lives here, next to the reason for it. Nothing in this module does I/O beyond
reading environment variables.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

import httpx

from ._exceptions import ConfigurationError
from ._redact import mask_url

__all__ = [
    "DEFAULT_BASE_URL",
    "AccessToken",
    "BucketName",
    "CircuitBreakerConfig",
    "EnvToken",
    "RateBudget",
    "RateBudgets",
    "RetryConfig",
    "TokenProvider",
    "TokenSource",
    "check_token",
    "env_token",
    "resolve_base_url",
    "resolve_org_id",
]

#: The public Codegen API.
DEFAULT_BASE_URL = "https://api.codegen.com"

TOKEN_ENV_VARS = ("CODEGEN_API_TOKEN", "CODEGEN_TOKEN")
ORG_ENV_VAR = "CODEGEN_ORG_ID"
BASE_URL_ENV_VAR = "CODEGEN_API_BASE_URL"

#: The rate-limit bucket a request draws from.
BucketName = Literal["create", "standard", "logs"]


@dataclass(frozen=True)
class RetryConfig:
    """How the client retries transient failures.

    Attributes:
        max_retries: retries after the first attempt (so ``2`` means up to 3 attempts).
        initial_delay: the first backoff in seconds; it doubles on every retry.
        max_delay: the cap on a computed backoff (a server's ``Retry-After`` has its own cap,
            :data:`codegen_graph._retry.MAX_RETRY_AFTER`).
        jitter: scale each computed backoff by a random factor in ``[0.75, 1.0]`` so many
            clients that failed together do not retry together.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigurationError("RetryConfig(max_retries=...) must be >= 0")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("RetryConfig delays must be >= 0 seconds")


@dataclass(frozen=True)
class RateBudget:
    """At most ``calls`` requests in any sliding window of ``period`` seconds.

    ``margin`` seconds are added to every window on our side: the server counts a request
    when it *arrives*, and one that travelled faster than its predecessor a window earlier
    would otherwise land inside the server's window and earn a 429.
    """

    calls: int
    period: float
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.margin < 0:
            raise ConfigurationError(f"RateBudget(margin={self.margin}) must be >= 0")
        if self.calls < 1 or self.period <= 0:
            raise ConfigurationError(
                f"RateBudget(calls={self.calls}, period={self.period}) needs calls >= 1 "
                "and period > 0"
            )


@dataclass(frozen=True)
class RateBudgets:
    """The client-side budgets, one per bucket; defaults are Codegen's documented limits.

    Attributes:
        create: ``POST /v1/organizations/{org_id}/agent/run`` (10 per 60 s).
        standard: every other endpoint (60 per 30 s).
        logs: ``GET /v1/alpha/.../logs`` (60 per 60 s).

    Each default window carries a 1-second margin for network latency (see
    :class:`RateBudget`); found necessary by ``tools/bench_wait.py``, where creates sent
    exactly one window apart still earned 429s.
    """

    create: RateBudget = field(default_factory=lambda: RateBudget(10, 60.0, margin=1.0))
    standard: RateBudget = field(default_factory=lambda: RateBudget(60, 30.0, margin=1.0))
    logs: RateBudget = field(default_factory=lambda: RateBudget(60, 60.0, margin=1.0))

    def for_bucket(self, bucket: BucketName) -> RateBudget:
        """The budget of one bucket."""
        budget: RateBudget = getattr(self, bucket)
        return budget


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """When the client stops calling a failing API for a while.

    Attributes:
        failure_threshold: consecutive transient failures (5xx, 408, timeouts, dropped
            connections; not 429, not 4xx) that open the circuit.
        cooldown: seconds the circuit stays open before one probe request is let through.
    """

    failure_threshold: int = 5
    cooldown: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.cooldown < 0:
            raise ConfigurationError(
                "CircuitBreakerConfig needs failure_threshold >= 1 and cooldown >= 0"
            )


@dataclass(frozen=True)
class EnvToken:
    """A token read from the environment, and the variable it came from (never shown)."""

    name: str
    value: str = field(repr=False)


def _describe_char(ch: str) -> str:
    kind = "a non-ASCII character" if ord(ch) > 0x7F else "a control character"
    if ch == " ":
        kind = "a space"
    return f"{kind} (U+{ord(ch):04X})"


def check_token(value: str, source: str) -> str:
    """A token as it may be sent: stripped, printable ASCII, no spaces inside.

    A token with a newline or a smart quote in it (a copy-paste accident) would otherwise
    reach httpx, whose error message and debug log show the whole header, token included.
    The error here says what is wrong and where, never the token itself.

    Args:
        value: the raw token.
        source: where it came from, for the message (``"token=..."``, a variable name).

    Raises:
        ConfigurationError: empty or blank, or a character that cannot be in a token.
    """
    token = value.strip()
    if not token:
        raise ConfigurationError(f"{source} is empty: it must hold a Codegen API token.")
    for index, ch in enumerate(token):
        if not "\x21" <= ch <= "\x7e":
            raise ConfigurationError(
                f"{source} contains {_describe_char(ch)} at position {index}: an API token is "
                "printable ASCII without spaces. Copy it again from the Codegen settings "
                "(the token is not shown here)."
            )
    return token


def env_token(environ: Mapping[str, str] | None = None) -> EnvToken | None:
    """The API token from the environment: the one rule the client, CLI and Studio share.

    The first of ``CODEGEN_API_TOKEN`` and ``CODEGEN_TOKEN`` that is *set* decides. A
    variable that is set but empty or blank is an error, not "no token": in CI a missing
    secret reads as an empty string, and treating it as unset would quietly switch to
    another backend or another variable.

    Returns:
        The token and its variable, or ``None`` when neither variable is set.

    Raises:
        ConfigurationError: the variable is set but empty/blank, or malformed (see
            :func:`check_token`); the message names the variable, never the value.
    """
    env = os.environ if environ is None else environ
    for name in TOKEN_ENV_VARS:
        raw = env.get(name)
        if raw is None:
            continue
        if not raw.strip():
            raise ConfigurationError(
                f"{name} is set but empty: set it to your Codegen API token, or unset it "
                "(in CI, a secret that is missing or not passed to this job reads as empty)."
            )
        return EnvToken(name, check_token(raw, name))
    return None


class AccessToken(NamedTuple):
    """What a token provider may return instead of a bare string: the token and when it
    expires (seconds since the epoch, on the client's clock), so the client fetches the
    next one *before* the API starts answering 401."""

    token: str
    expires_at: float | None = None


#: A provider of the API token: a zero-argument callable (sync or async) returning the
#: token, or an :class:`AccessToken` with its expiry (read from a vault, a file...).
TokenProvider = Callable[[], str | AccessToken | Awaitable[str | AccessToken]]

#: Seconds before a provided token expires that the client fetches the next one (at most a
#: tenth of the token's lifetime, so a 60-second token is fetched again after ~54 s).
TOKEN_REFRESH_AHEAD = 30.0


class TokenSource:
    """Holds the API token (or its provider) without ever showing it; no I/O.

    A string token is fixed. A provider's token is fetched on first use, again ahead of its
    expiry (:class:`AccessToken`), and once after a 401 (:meth:`expire`), by the client
    (one fetch at a time: ``_async/api.py``). Every token is checked where it enters
    (argument, environment, provider) by :func:`check_token`.
    """

    __slots__ = ("_expires_at", "_margin", "_provider", "_value")

    def __init__(self, token: str | TokenProvider | None) -> None:
        self._provider: TokenProvider | None = None
        self._value: str | None = None
        self._expires_at: float | None = None
        self._margin = 0.0
        if token is None:
            found = env_token()
            if found is None:
                raise ConfigurationError(
                    "No Codegen API token: pass token=... or set the CODEGEN_API_TOKEN "
                    "environment variable (CODEGEN_TOKEN is also read)."
                )
            self._value = found.value
        elif callable(token):
            self._provider = token
        elif isinstance(token, str) and token.strip():
            self._value = check_token(token, "token=...")
        else:
            raise ConfigurationError(
                "token=... must be a non-empty string or a zero-argument callable "
                "returning one (or set CODEGEN_API_TOKEN)."
            )

    @property
    def provider(self) -> TokenProvider | None:
        """The callable the token comes from (``None`` for a fixed token)."""
        return self._provider

    @property
    def value(self) -> str | None:
        """The token last fetched (``None`` before the first fetch)."""
        return self._value

    def stale(self, now: float) -> bool:
        """Whether the token must be fetched (again) before the next request."""
        if self._value is None:
            return True
        return self._expires_at is not None and now >= self._expires_at - self._margin

    def expire(self, rejected: str) -> None:
        """Forget the provided token the API rejected (unless another task has already
        replaced it): the next request fetches one."""
        if self._provider is not None and self._value == rejected:
            self._value = None

    def accept(self, got: object, now: float) -> str:
        """Check and keep what the provider returned; the token."""
        token, expires = (
            (got.token, got.expires_at) if isinstance(got, AccessToken) else (got, None)
        )
        if not isinstance(token, str) or not token.strip():
            what = "a blank str" if isinstance(token, str) else type(token).__name__
            if isinstance(got, AccessToken):
                what = f"an AccessToken holding {what}"
            raise ConfigurationError(
                "The token provider must return a non-empty str or an AccessToken; "
                f"it returned {what}."
            )
        if expires is not None and (
            not isinstance(expires, Real) or isinstance(expires, bool) or expires != expires
        ):
            raise ConfigurationError(
                "AccessToken.expires_at must be epoch seconds (an int or float, not NaN) or "
                f"None; got {type(expires).__name__}."
            )
        if expires is not None and expires <= now:
            raise ConfigurationError(
                f"The token provider returned an AccessToken that expired {now - expires:.0f} "
                "s ago: expires_at is epoch seconds on the client's clock (time.time() + the "
                "lease's seconds), not a lifetime."
            )
        self._value = check_token(token, "The token provider's value")
        self._expires_at = None if expires is None else float(expires)
        lifetime = 0.0 if expires is None else float(expires) - now
        self._margin = min(TOKEN_REFRESH_AHEAD, lifetime / 10)
        return self._value

    def __repr__(self) -> str:
        kind = "provider" if self._provider is not None else "static"
        return f"TokenSource({kind}, token=***)"


def resolve_org_id(org_id: int | str | None) -> int:
    """The organisation id from the argument or ``CODEGEN_ORG_ID``.

    Raises:
        ConfigurationError: missing, not an integer, or not positive.
    """
    raw: object = org_id
    if raw is None:
        raw = os.environ.get(ORG_ENV_VAR) or None
    if raw is None:
        raise ConfigurationError(
            "No Codegen organisation id: pass org_id=... or set the CODEGEN_ORG_ID "
            "environment variable."
        )
    if isinstance(raw, bool):
        raise ConfigurationError("org_id=... must be a positive integer, not a bool")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigurationError(
            f"org_id=... (or CODEGEN_ORG_ID) must be a positive integer, got {raw!r}"
        ) from None
    if value < 1:
        raise ConfigurationError(f"org_id=... (or CODEGEN_ORG_ID) must be positive, got {value}")
    return value


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (plain http is allowed only there)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown(url: str) -> str:
    """A URL for a message, without any credentials it carries."""
    return mask_url(url)


def _parse_problem(exc: Exception, url: str) -> str:
    """urllib's reason, unless the URL carries userinfo (its text may quote part of it)."""
    return "it could not be parsed" if "@" in url else str(exc)


def resolve_base_url(base_url: str | None) -> str:
    """The API root from the argument, ``CODEGEN_API_BASE_URL`` or the default.

    Checked completely here, at construction, so a bad URL is one clear error instead of
    an ``httpx.InvalidURL`` on every call: printable ASCII, an http(s) scheme, a host, a
    numeric port in 1..65535. Plain ``http://`` is accepted only for loopback hosts
    (``127.0.0.0/8``, ``::1``, ``localhost``): anywhere else it would send the token in
    clear text.

    Raises:
        ConfigurationError: not a valid http(s) URL, or ``http://`` to a non-loopback host.
    """
    url = (base_url or os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL).strip()
    bad = next((ch for ch in url if not "\x21" <= ch <= "\x7e"), None)
    if bad is not None:
        raise ConfigurationError(
            f"base_url=... (or CODEGEN_API_BASE_URL) contains {_describe_char(bad)}: a URL "
            "is printable ASCII without spaces (percent-encode a path; punycode for a host)"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range", non-numeric port
        raise ConfigurationError(
            f"base_url=... (or CODEGEN_API_BASE_URL) is not a valid URL "
            f"({_parse_problem(exc, url)}), "
            f"got {_shown(url)!r}"
        ) from None
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigurationError(
            f"base_url=... (or CODEGEN_API_BASE_URL) must be an http(s) URL, got {_shown(url)!r}"
        )
    if port == 0:
        raise ConfigurationError(
            f"base_url=... (or CODEGEN_API_BASE_URL) has port 0, got {_shown(url)!r}; use 1..65535"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            "base_url=... must not carry credentials, a query or a fragment; "
            "pass the token as token=..."
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"Refusing plain http:// to {host!r}: the API token would travel in clear text. "
            "Use https://, or http:// only for a loopback host (127.0.0.1, ::1, localhost)."
        )
    try:  # the client's own parser has the last word (IDNA, bracket rules...)
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ConfigurationError(
            f"base_url=... (or CODEGEN_API_BASE_URL) is not a valid URL "
            f"({_parse_problem(exc, url)}), "
            f"got {_shown(url)!r}"
        ) from None
    return url.rstrip("/")
