"""What ChatRunAPI refuses before sending, and what it never lets out (the key)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from langchain_core.load import dumps

from langchain_runapi import ChatRunAPI, ConfigurationError

from ._mock import ScriptedServer

KEY = "sk-test-SECRET-123"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model_kwargs": {"temperature": 0.9}}, "use ChatRunAPI\\(temperature"),
        ({"model_kwargs": {"max_completion_tokens": 9}}, "use ChatRunAPI\\(max_tokens"),
        ({"extra_body": {"model": "glm-4.7"}}, "model cannot be set through extra_body"),
        ({"extra_body": {"messages": []}}, "messages cannot be set"),
        ({"model_kwargs": {"stream_options": {"include_usage": False}}}, "cost tracking"),
        ({"model_kwargs": {"thinking": {"type": "enabled"}}, "reasoning": False}, "keep one"),
        ({"model_kwargs": {"user": "a"}, "extra_body": {"user": "b"}}, "both model_kwargs"),
        ({"default_headers": {"authorization": "Bearer other"}}, "api_key"),
        ({"default_headers": {"Accept": "text/plain"}}, "Accept"),
        ({"temperature": 5}, "between 0 and 2"),
        ({"temperature": -0.1}, "between 0 and 2"),
        ({"top_p": 0}, "above 0"),
        ({"max_tokens": 0}, "positive integer"),
        ({"n": 2}, "one answer per call"),  # a request field: it goes to model_kwargs
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        ChatRunAPI(api_key=KEY, **kwargs)
    assert KEY not in str(info.value)  # pydantic would quote the raw input, key included


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 3}, "one answer per call"),
        ({"temperature": 3.0}, "between 0 and 2"),
        ({"max_tokens": 0}, "positive integer"),
        ({"stream_options": {}}, "cannot be passed per call"),
    ],
)
def test_bad_call_kwargs_fail_before_sending(
    server: ScriptedServer, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        server.model().invoke("hi", **kwargs)
    assert server.requests == []


def test_key_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    llm = ChatRunAPI(api_key=KEY)
    assert KEY not in repr(llm) + str(llm) + dumps(llm) + repr(llm.client)
    with caplog.at_level(logging.DEBUG):
        try:
            ChatRunAPI(api_key=KEY, base_url="ftp://nowhere")
        except ValueError as err:
            logging.getLogger("probe").exception("failed: %s", err)
    assert KEY not in caplog.text
