"""``AgentRunResponse.pr_urls`` is the one place a run's PR URLs are read from."""

from __future__ import annotations

from codegen_graph.models import AgentRunResponse


def test_pr_urls_keep_the_api_order_and_skip_missing_urls() -> None:
    run = AgentRunResponse.model_validate(
        {
            "id": 1,
            "organization_id": 2,
            "github_pull_requests": [
                {"id": 10, "title": "b", "url": "https://github.com/o/r/pull/2", "created_at": "t"},
                {"id": 11, "title": "no url", "url": None, "created_at": "t"},
                {"id": 12, "title": "a", "url": "https://github.com/o/r/pull/1", "created_at": "t"},
            ],
        }
    )
    assert run.pr_urls == ["https://github.com/o/r/pull/2", "https://github.com/o/r/pull/1"]
    assert "pr_urls" not in run.model_dump()  # derived, never sent back as a field


def test_no_pull_requests_is_an_empty_list() -> None:
    assert AgentRunResponse(id=1, organization_id=2).pr_urls == []
