"""A scenario for tool tests: a plain run asked to "run the tests" fails once.

Runs made through the toolkit carry no role (a plain API user's runs are coding runs), so
the bundled ``tests_fail_once`` (which picks tests runs by role) does not apply to them;
this one matches the prompt's words, as a user's own scenario may.
"""

from __future__ import annotations

from typing import Any

TESTS_FAIL_ONCE: dict[str, Any] = {
    "name": "run the tests fails once",
    "rules": [
        {
            "match": "(?i)run the tests",
            "count": "pattern",
            "attempts": [
                {
                    "status": "FAILED",
                    "result": "Test report: 11 passed, 1 failed.\n"
                    "FAILED tests/test_api.py::test_health_returns_ok - assert 404 == 200",
                },
                {"status": "COMPLETE", "result": "Test report: 12 passed, 0 failed."},
            ],
        }
    ],
}
