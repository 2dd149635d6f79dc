"""A URL in a message or a repr never shows its credentials, however odd the password."""

from __future__ import annotations

import pytest

from codegen_graph import CodegenClient, ConfigurationError
from codegen_graph._redact import mask_url
from codegen_graph.local import free_loopback_port

PASSWORD = "Pw-S3cr3t"

HOSTILE = [
    f"redis://:{PASSWORD}@127.0.0.1:{{port}}/0",
    f"redis://user:{PASSWORD}@127.0.0.1:{{port}}/0",
    f"redis://:{PASSWORD}@x@127.0.0.1:{{port}}/0",  # an unencoded @ in the password
    f"redis://:ab/{PASSWORD}@127.0.0.1:{{port}}/0",  # an unencoded / in the password
    f"redis://127.0.0.1:{{port}}/0?password={PASSWORD}",  # redis-py reads it from the query
    f"redis://127.0.0.1:{{port}}/0?db=1&auth_token={PASSWORD}",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_mask_url_hides_the_password(template: str) -> None:
    shown = mask_url(template.format(port=6379))
    assert PASSWORD not in shown
    assert "127.0.0.1:6379" in shown  # still says where


@pytest.mark.parametrize("template", HOSTILE)
def test_an_unreachable_redis_names_the_url_without_its_password(template: str) -> None:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    from codegen_graph import Coordination

    url = template.format(port=free_loopback_port())  # nothing listens there
    with pytest.raises(ConfigurationError) as caught:
        Coordination(url)
    assert PASSWORD not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://u:{PASSWORD}@host",
        f"ftp://u:{PASSWORD}@x@host",
        f"http://u:ab/{PASSWORD}@host:12a/",
        f"http://u:{PASSWORD}@[::1",
        f"http://u:{PASSWORD}@localhost:99999",
        f"https://u:{PASSWORD}@api.example.invalid",
    ],
)
def test_a_bad_base_url_is_refused_without_showing_its_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CodegenClient("cg-test-token-0123456789", 1, base_url=url)
    assert PASSWORD not in str(caught.value)
