"""Fixtures for the local backend tests: the official spec, a contract checker, backends."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen

REPO = Path(__file__).resolve().parents[2]
SPEC_CANDIDATES = [
    REPO.parent / "shared" / "reference" / "codegen-openapi3.json",
    Path("/work/shared/reference/codegen-openapi3.json"),
]


def load_spec() -> dict[str, Any] | None:
    for path in SPEC_CANDIDATES:
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    return None


class Contract:
    """Validates responses against the official OpenAPI document."""

    # Statuses the local backend answers where the spec lists none, validated against the
    # spec's own error body shape (documented in docs/local-backend.md).
    EXTRA_ERRORS = {401: "PermissionsErrorResponse", 403: "PermissionsErrorResponse"}

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.routes: list[tuple[str, re.Pattern[str], str, int]] = []
        for path, ops in spec["paths"].items():
            regex = re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path))
            for method in ops:
                self.routes.append((method.upper(), regex, path, path.count("{")))
        self.checked: list[tuple[str, str, int]] = []

    def schema(self, name: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": self.spec["components"]}
        )

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        matches = [(n, p) for m, r, p, n in self.routes if m == method and r.fullmatch(path)]
        assert matches, f"{method} {path} is not a path of the official spec"
        template = min(matches)[1]
        return template, self.spec["paths"][template][method.lower()]

    def check(self, response: httpx.Response) -> None:
        request = response.request
        path = request.url.path
        if path.startswith("/_local/"):
            return
        method = request.method
        template, op = self.operation(method, path)
        status = response.status_code
        body = response.json()
        declared = op["responses"].get(str(status))
        if declared is not None and "content" in declared:
            schema = declared["content"]["application/json"]["schema"]
            validator = Draft202012Validator({**schema, "components": self.spec["components"]})
            errors = sorted(validator.iter_errors(body), key=str)
            assert not errors, f"{method} {template} {status}: {errors[0].message}"
        elif declared is not None:  # a status the spec declares without a body (400, 404)
            assert status >= 400, f"{method} {template} {status} has no declared body"
        elif status in self.EXTRA_ERRORS:
            assert not list(self.schema(self.EXTRA_ERRORS[status]).iter_errors(body))
        elif status >= 500:
            pass  # injected faults; shape checked below
        else:
            raise AssertionError(f"{method} {template} answered {status}, not in the spec")
        if status >= 400 and status != 422:
            assert set(body) == {"message", "status_code"}, body
            assert body["status_code"] == status
            assert isinstance(body["message"], str)
        if status == 429:
            assert int(response.headers["retry-after"]) >= 1
        self.checked.append((method, template, status))


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    doc = load_spec()
    if doc is None:
        pytest.skip(f"official spec not found at {', '.join(map(str, SPEC_CANDIDATES))}")
    return doc


@pytest.fixture
def contract(spec: dict[str, Any]) -> Contract:
    return Contract(spec)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> Iterator[LocalCodegen]:
    with LocalCodegen("tok-test", 42, clock=clock) as b:
        yield b


@pytest.fixture
def http(backend: LocalCodegen, contract: Contract) -> Iterator[httpx.Client]:
    """A plain httpx client whose every response is checked against the spec."""
    with backend.httpx_client(event_hooks={"response": [_reading(contract)]}) as client:
        yield client


def _reading(contract: Contract) -> Any:
    def hook(response: httpx.Response) -> None:
        response.read()
        contract.check(response)

    return hook


@pytest.fixture
def org(backend: LocalCodegen) -> str:
    """``/v1/organizations/<org_id>`` of the backend."""
    return f"/v1/organizations/{backend.org_id}"


@pytest.fixture
def alpha(backend: LocalCodegen) -> str:
    """``/v1/alpha/organizations/<org_id>`` of the backend."""
    return f"/v1/alpha/organizations/{backend.org_id}"
