"""LangChain's standard embeddings suites for RunAPIEmbeddings.

The integration suite replays cassettes from cassettes/langchain/test_embeddings_standard/
(recorded against tests/support/fake_runapi.py, URIs rewritten to https://runapi.ai; see
docs/embeddings.md). Re-record with ``--record-mode=rewrite``.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_runapi.embeddings import RunAPIEmbeddings

# Small vectors keep the cassettes small; `dimensions` is exercised on the way.
PARAMS: dict[str, Any] = {"model": "text-embedding-3-small", "dimensions": 32}


class TestRunAPIEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[RunAPIEmbeddings]:
        return RunAPIEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return PARAMS

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"RUNAPI_API_KEY": "key-from-env", "RUNAPI_BASE_URL": "https://gateway.example/v1"},
            {"model": "text-embedding-3-large"},
            {"api_key": "key-from-env", "base_url": "https://gateway.example/v1"},
        )


@pytest.mark.vcr
class TestRunAPIEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[RunAPIEmbeddings]:
        return RunAPIEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return PARAMS
