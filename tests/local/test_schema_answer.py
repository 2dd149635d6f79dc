"""The local backend answers every JSON Schema construct Pydantic emits for ordinary models:
explicit cases, a property over generated models, and a typed run end to end."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, create_model

from codegen_graph._output import OutputSpec
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen
from codegen_graph.local._schema_answer import with_schema_answer


def answer_errors(model: type[BaseModel]) -> tuple[str, ...]:
    """What is wrong with the backend's answer to a prompt asking for ``model`` (nothing)."""
    spec = OutputSpec(model)
    answer = with_schema_answer([spec.with_instructions("Build it")], "Done.")
    return spec.parse(answer)[1]


class Color(enum.Enum):
    red = "red"
    blue = 2


class Point(BaseModel):
    x: float = Field(gt=-1, lt=1)
    tags: frozenset[str] = Field(min_length=2, max_length=3)


class Shape(BaseModel):
    corners: list[Point] = Field(min_length=3)
    center: Point | None
    color: Color


class Ordinary(BaseModel):
    pair: tuple[str, str]
    ratio: float = Field(gt=0.5, lt=0.7)
    score: int = Field(multiple_of=7, gt=10, le=30)
    step: float = Field(multiple_of=0.25, ge=1.1)
    ids: set[int] = Field(min_length=3)
    below: float = Field(lt=-3)
    shape: Shape
    kind: Literal["feature", "fix"]
    size: int | str
    when: datetime | None
    counts: dict[str, Annotated[int, Field(ge=5)]] = Field(min_length=2)
    note: str = Field(default="kept", pattern="^kept$")  # optional: its default stands


def test_tuples_ranges_multiples_sets_defs_enums_and_unions() -> None:
    assert answer_errors(Ordinary) == ()


def test_each_construct_of_the_issue_alone() -> None:
    cases: dict[str, Any] = {
        "tuple": tuple[str, str],
        "open float range": Annotated[float, Field(gt=0.5, lt=0.7)],
        "multiple of": Annotated[int, Field(multiple_of=5, gt=11)],
        "set with min_length": Annotated[set[str], Field(min_length=4)],
        "exclusive bounds": Annotated[int, Field(gt=-3, lt=-1)],
        "nested $defs": Shape,
        "enum": Color,
        "Optional": Point | None,
    }
    for name, annotation in cases.items():
        model = create_model("Case", value=(annotation, ...))
        assert answer_errors(model) == (), name


def test_a_typed_run_with_these_constructs_validates_offline_without_repairs() -> None:
    with LocalCodegen(clock=ManualClock()) as local, local.client() as client:
        run = client.agent_runs.create_and_wait("Describe the shape", output_schema=Ordinary)
        stats = local.stats()
    assert isinstance(run.output, Ordinary)
    assert len(run.output.ids) == 3 and 0.5 < run.output.ratio < 0.7
    assert stats["runs_resumed"] == 0


# -- generated models --------------------------------------------------------------------


@st.composite
def ints(draw: st.DrawFn) -> Any:
    step = draw(st.sampled_from([None, 1, 2, 3, 7, 10]))
    low, width = draw(st.integers(-1000, 1000)), (step or 1) * draw(st.integers(8, 40))
    bounds: dict[str, int] = {}
    if draw(st.booleans()):
        bounds[draw(st.sampled_from(["ge", "gt"]))] = low
    if draw(st.booleans()):
        bounds[draw(st.sampled_from(["le", "lt"]))] = low + width
    return Annotated[int, Field(multiple_of=step, **bounds)]


@st.composite
def floats(draw: st.DrawFn) -> Any:
    step = draw(st.sampled_from([None, 0.1, 0.25, 0.5, 1.5]))
    low = draw(st.integers(-400, 400)) / 4
    width = (step or 0.05) * draw(st.integers(8, 40))
    bounds: dict[str, float] = {}
    if draw(st.booleans()):
        bounds[draw(st.sampled_from(["ge", "gt"]))] = low
    if draw(st.booleans()):
        bounds[draw(st.sampled_from(["le", "lt"]))] = low + width
    return Annotated[float, Field(multiple_of=step, **bounds)]


@st.composite
def strings(draw: st.DrawFn) -> Any:
    least = draw(st.integers(0, 6))
    most = draw(st.none() | st.integers(max(least, 2), 20))
    return Annotated[str, Field(min_length=least, max_length=most)]


@st.composite
def choices(draw: st.DrawFn) -> Any:
    """An Enum or a Literal of 3 to 5 distinct members (str and int)."""
    values = draw(
        st.lists(
            st.text("abc", min_size=1, max_size=3) | st.integers(0, 9),
            min_size=3,
            max_size=5,
            unique_by=str,
        )
    )
    if draw(st.booleans()):
        return Literal[tuple(values)]
    return enum.Enum("Choice", {f"m{i}": v for i, v in enumerate(values)})


hashables = st.one_of(ints(), floats(), strings(), choices())
scalars = st.one_of(hashables, st.sampled_from([bool, datetime, date, UUID]))


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    counted = st.integers(0, 3)
    return st.one_of(
        st.builds(lambda t, n: Annotated[list[t], Field(min_length=n)], inner, counted),
        st.builds(lambda a, b: tuple[a, b], inner, inner),
        st.builds(lambda t: tuple[t, ...], inner),
        st.builds(
            lambda t, n, frozen: Annotated[(frozenset if frozen else set)[t], Field(min_length=n)],
            hashables,
            st.integers(1, 3),
            st.booleans(),
        ),
        st.builds(lambda t, n: Annotated[dict[str, t], Field(min_length=n)], inner, counted),
        st.builds(lambda t: t | None, inner),
        st.builds(lambda a, b: a | b, inner, scalars),
        st.builds(lambda fields: model_of(fields), st.lists(inner, min_size=1, max_size=4)),
    )


def model_of(annotations: list[Any], name: str = "Sub") -> type[BaseModel]:
    fields: dict[str, Any] = {f"f{i}": (a, ...) for i, a in enumerate(annotations)}
    return create_model(name, **fields)


field_types = st.recursive(scalars, containers, max_leaves=8)


@given(st.lists(field_types, min_size=1, max_size=6))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_answer_validates_for_any_generated_model(annotations: list[Any]) -> None:
    assert answer_errors(model_of(annotations, "Generated")) == ()
