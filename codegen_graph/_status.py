"""Agent run statuses, normalised.

The real Codegen API answers uppercase statuses (``PENDING``, ``ACTIVE``, ``RUNNING``,
``COMPLETE``, ``FAILED``, ``ERROR``, ``CANCELLED``, ``STOPPED``, ...) while Codegen's own SDK
docs compare against lowercase ``"completed"`` / ``"failed"``. :class:`AgentRunStatus` accepts
both spellings (and any status the API adds later) and answers the questions callers actually
ask: is the run over, and did it succeed?
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

__all__ = ["AgentRunStatus"]

# Canonical names are the real API's uppercase spellings.
_ALIASES: dict[str, str] = {
    "PENDING": "PENDING",
    "QUEUED": "PENDING",
    "ACTIVE": "ACTIVE",
    "RUNNING": "RUNNING",
    "IN_PROGRESS": "RUNNING",
    "COMPLETE": "COMPLETE",
    "COMPLETED": "COMPLETE",
    "SUCCEEDED": "COMPLETE",
    "SUCCESS": "COMPLETE",
    "FAILED": "FAILED",
    "FAILURE": "FAILED",
    "ERROR": "ERROR",
    "ERRORED": "ERROR",
    "CANCELLED": "CANCELLED",
    "CANCELED": "CANCELLED",
    "STOPPED": "STOPPED",
}
_TERMINAL = frozenset({"COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"})
_FAILURE = frozenset({"FAILED", "ERROR", "CANCELLED"})


def _canonical(raw: str) -> str:
    key = raw.strip().upper().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(key, key)


class AgentRunStatus(str):
    """A run status as the server sent it, with a normalised view.

    It is a ``str`` (the raw value, so it serialises unchanged) whose equality and hash use
    the canonical uppercase name: ``AgentRunStatus("completed") == "COMPLETE"`` is true.
    An unknown status is kept as-is and is treated as non-terminal, so a waiter keeps waiting
    rather than mistaking a new state for the end.

    Examples:
        >>> s = AgentRunStatus("completed")
        >>> s.canonical, s.is_terminal, s.is_success
        ('COMPLETE', True, True)
        >>> AgentRunStatus("EVALUATING").is_known
        False
    """

    PENDING: ClassVar[AgentRunStatus]
    ACTIVE: ClassVar[AgentRunStatus]
    RUNNING: ClassVar[AgentRunStatus]
    COMPLETE: ClassVar[AgentRunStatus]
    FAILED: ClassVar[AgentRunStatus]
    ERROR: ClassVar[AgentRunStatus]
    CANCELLED: ClassVar[AgentRunStatus]
    STOPPED: ClassVar[AgentRunStatus]

    __slots__ = ("canonical",)
    canonical: str

    def __new__(cls, raw: str) -> AgentRunStatus:
        if isinstance(raw, AgentRunStatus):
            return raw
        if not isinstance(raw, str):
            raise TypeError(f"an agent run status must be a string, got {type(raw).__name__}")
        obj = super().__new__(cls, raw)
        obj.canonical = _canonical(raw)
        return obj

    @property
    def raw(self) -> str:
        """The status exactly as the server sent it."""
        return str.__str__(self)

    @property
    def is_known(self) -> bool:
        """Whether this status is one codegen-graph knows."""
        return self.canonical in _ALIASES.values()

    @property
    def is_terminal(self) -> bool:
        """The run is over (successfully or not) and will not change unless resumed."""
        return self.canonical in _TERMINAL

    @property
    def is_success(self) -> bool:
        """The run finished successfully (``COMPLETE``)."""
        return self.canonical == "COMPLETE"

    @property
    def is_failure(self) -> bool:
        """The run ended badly: ``FAILED``, ``ERROR`` or ``CANCELLED``."""
        return self.canonical in _FAILURE

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.canonical == _canonical(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.canonical)

    def __repr__(self) -> str:
        return f"AgentRunStatus({self.raw!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: str.__str__(v), when_used="always"
            ),
        )


for _name in (
    "PENDING",
    "ACTIVE",
    "RUNNING",
    "COMPLETE",
    "FAILED",
    "ERROR",
    "CANCELLED",
    "STOPPED",
):
    setattr(AgentRunStatus, _name, AgentRunStatus(_name))
del _name
