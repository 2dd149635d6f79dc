"""PromptGuard: screen text that flows from one agent's output into another agent's prompt.

What it catches: the *phrasing* of common prompt-injection attempts — "ignore (all)
previous instructions", "disregard the above", "you are now ...", requests to reveal the
system prompt or fake role headers, instructions to print or send environment variables,
tokens or keys, instructions hidden in HTML comments, and invisible Unicode control
characters.

Its limits, which matter:

* It is a pattern screen, not a defence. Paraphrases, other languages, encodings
  (base64, leetspeak), instructions split across lines or files, and text the agent reads
  *itself* (repository files, web pages, issue comments) all pass it.
* It has false positives: a code review that quotes an attack, or a README about
  prompt injection, will match. ``warn`` is the default for that reason.
* ``strip`` removes whole offending lines, which can remove legitimate content and can
  leave a partial instruction behind.
* The real controls are elsewhere: least-privilege tokens for the agents, human review of
  pull requests, no secrets in the agents' environment, and treating every agent output as
  untrusted data rather than instructions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .._exceptions import ConfigurationError
from .._redact import get_redactor
from ._base import Plugin, PluginContext, PluginVeto

__all__ = [
    "DEFAULT_INJECTION_PATTERNS",
    "InjectionFinding",
    "PromptGuard",
    "PromptInjectionError",
]

logger = logging.getLogger("codegen_graph.plugins.guard")

GuardMode = Literal["warn", "block", "strip"]

#: Named patterns of prompt-injection phrasing (compiled case-insensitively).
DEFAULT_INJECTION_PATTERNS: Mapping[str, str] = {
    "ignore_previous_instructions": (
        r"\b(?:ignore|disregard|forget|override|skip)\b[^\n]{0,40}?\b(?:all\s+|any\s+)?"
        r"(?:the\s+|your\s+|of\s+the\s+)?(?:previous|prior|above|earlier|preceding|original)"
        r"\s+(?:instructions?|prompts?|messages?|rules|context|directions|guidelines)"
    ),
    "disregard_the_above": (
        r"\b(?:disregard|ignore|forget)\s+(?:everything\s+|all\s+)?(?:the\s+)?above\b"
    ),
    "role_override": (
        r"\byou\s+are\s+now\b|\bfrom\s+now\s+on,?\s+(?:you|act|respond)\b"
        r"|\bnew\s+instructions?\s*:|\bact\s+as\s+(?:an?\s+)?(?:unrestricted|jailbroken|DAN)\b"
    ),
    "system_prompt": (
        r"\b(?:reveal|print|show|output|repeat|leak|dump)\b[^\n]{0,30}?\bsystem\s+prompt\b"
        r"|^\s*(?:#+\s*)?(?:system|developer)\s*(?:prompt|message)?\s*:"
        r"|<\|?(?:im_start|system|endoftext)\|?>"
    ),
    "secret_exfiltration": (
        r"\b(?:print|echo|cat|send|post|upload|exfiltrate|curl|wget|leak|reveal|dump|paste)\b"
        r"[^\n]{0,60}?(?:\benv(?:ironment)?\s+var(?:iable)?s?\b|\$\{?[A-Z_]*(?:TOKEN|KEY|SECRET)"
        r"|\bsecrets?\b|\bcredentials?\b|\bapi\s+keys?\b|\baccess\s+tokens?\b|\.env\b"
        r"|\bprintenv\b|\bos\.environ\b)"
    ),
    "hidden_html_comment": (
        r"<!--(?:(?!-->)[\s\S]){0,2000}?\b(?:instructions?|ignore|assistant|agent|AI|system"
        r"|you\s+must|do\s+not\s+(?:tell|mention))\b[\s\S]*?-->"
    ),
    "invisible_characters": (
        r"[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
    ),
}  # fmt: skip


@dataclass(frozen=True)
class InjectionFinding:
    """One pattern match: the pattern's name, the 1-based line and a short excerpt."""

    pattern: str
    line: int
    excerpt: str


class PromptInjectionError(PluginVeto):
    """A :class:`PromptGuard` in ``block`` mode found prompt-injection phrasing.

    Attributes:
        findings: What matched, where.
        source: Where the text came from, when known.
    """

    def __init__(self, findings: list[InjectionFinding], source: str | None = None) -> None:
        self.findings = findings
        self.source = source
        where = f" from {source}" if source else ""
        what = ", ".join(f"{f.pattern} (line {f.line})" for f in findings)
        super().__init__(
            f"prompt-injection patterns in text{where}: {what}. The text was not sent; "
            "review it, or use PromptGuard(mode='strip') to drop the offending lines or "
            "mode='warn' to only log them."
        )


class PromptGuard(Plugin):
    """Screen untrusted text for prompt-injection phrasing: warn, block or strip.

    As a plugin, it screens prompts whose context is marked ``untrusted=True`` (a prompt
    carrying another agent's output); :meth:`check` screens any text directly, e.g. a
    tests agent's output before it goes into the code agent's resume prompt.

    Args:
        mode: ``"warn"`` logs and passes the text on, ``"block"`` raises
            :class:`PromptInjectionError`, ``"strip"`` removes the offending lines.
        patterns: Named regular expressions; defaults to :data:`DEFAULT_INJECTION_PATTERNS`.
            A plain iterable of strings is named ``pattern_1``, ``pattern_2``...
        screen_outputs: Also screen agent outputs in ``filter_output``.
    """

    def __init__(
        self,
        mode: GuardMode = "warn",
        patterns: Mapping[str, str] | Iterable[str] = DEFAULT_INJECTION_PATTERNS,
        *,
        screen_outputs: bool = False,
    ) -> None:
        if mode not in ("warn", "block", "strip"):
            raise ConfigurationError(
                f"PromptGuard mode must be 'warn', 'block' or 'strip', got {mode!r}"
            )
        self.mode: GuardMode = mode
        named = (
            dict(patterns)
            if isinstance(patterns, Mapping)
            else {f"pattern_{i}": p for i, p in enumerate(patterns, 1)}
        )
        try:
            self._patterns = {
                name: re.compile(p, re.IGNORECASE | re.MULTILINE) for name, p in named.items()
            }
        except re.error as exc:
            raise ConfigurationError(f"invalid PromptGuard pattern: {exc}") from exc
        self.screen_outputs = screen_outputs

    def _spans(self, text: str) -> list[tuple[str, int, int]]:
        return [
            (name, m.start(), m.end())
            for name, pattern in self._patterns.items()
            for m in pattern.finditer(text)
        ]

    def screen(self, text: str) -> list[InjectionFinding]:
        """Every match in ``text``, ordered by position."""
        findings = []
        for name, start, end in sorted(self._spans(text), key=lambda s: (s[1], s[0])):
            excerpt = get_redactor().redact_text(text[start:end][:80]).replace("\n", " ")
            findings.append(InjectionFinding(name, text.count("\n", 0, start) + 1, excerpt))
        return findings

    def check(self, text: str, *, source: str | None = None) -> str:
        """Apply the guard's mode to ``text`` and return the text to use."""
        spans = self._spans(text)
        if not spans:
            return text
        findings = self.screen(text)
        if self.mode == "block":
            raise PromptInjectionError(findings, source)
        where = f" from {source}" if source else ""
        summary = ", ".join(f"{f.pattern} (line {f.line})" for f in findings)
        if self.mode == "warn":
            logger.warning("possible prompt injection in text%s: %s", where, summary)
            return text
        lines = text.splitlines(keepends=True)
        drop: set[int] = set()
        for _, start, end in spans:
            first = text.count("\n", 0, start)
            last = text.count("\n", 0, max(start, end - 1))
            drop.update(range(first, last + 1))
        logger.warning("stripped %d line(s)%s: %s", len(drop), where, summary)
        return "".join(line for i, line in enumerate(lines) if i not in drop)

    def transform_prompt(self, prompt: str, ctx: PluginContext) -> str:
        """Screen the prompt when ``ctx.untrusted`` says it carries outside text."""
        if not ctx.untrusted:
            return prompt
        return self.check(prompt, source=ctx.source)

    def filter_output(self, text: str, ctx: PluginContext) -> str:
        """Screen agent outputs too when ``screen_outputs=True``."""
        if not self.screen_outputs:
            return text
        return self.check(text, source=ctx.source or (f"agent:{ctx.role}" if ctx.role else None))
