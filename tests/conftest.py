"""Suite-wide fixtures: a dummy key for replay, cassette placement and scrubbing; each test's
own no-price warnings; a quiet end to a passing run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.recording import FILTER_HEADERS, FILTER_QUERY_PARAMETERS, scrub_response

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"

# Replaying cassettes needs *a* key (a missing key is an error before any request); it is never
# sent anywhere. `make record` runs with the real RUNAPI_API_KEY, whose header vcr scrubs.
DUMMY_KEY = "test-key-not-a-real-credential"
if not os.environ.get("RUNAPI_API_KEY"):
    os.environ["RUNAPI_API_KEY"] = DUMMY_KEY
# The live price list is cached on disk: never in the user's own cache folder from a test, and
# only where a test asks for it (a developer's RUNAPI_PRICES=live would send tests to runapi.ai).
os.environ["RUNAPI_CACHE_DIR"] = tempfile.mkdtemp(prefix="runapi-test-cache-")
for _name in ("RUNAPI_PRICES", "RUNAPI_PRICE_LIST_URL", "RUNAPI_PRICE_LIST_TTL"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def quick_pace(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no pace learned (pacers are per key and process-wide, and the
    tests share keys), and a key-wide pause is a couple of milliseconds (the retry tests
    meet hundreds of 429s). The pacer's own tests (marked ``real_pace``) keep its real
    pauses."""
    from runapi_client import _pacer

    _pacer._pacers.clear()
    if request.node.get_closest_marker("real_pace") is None:
        monkeypatch.setattr(_pacer, "MAX_PAUSE", 0.002)
        monkeypatch.setattr(_pacer, "INITIAL_BACKOFF", 0.001)
        monkeypatch.setattr(_pacer, "MAX_BACKOFF", 0.002)


@pytest.fixture(autouse=True)
def fresh_price_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The no-price warning is once per model per process; each test starts as a fresh process
    would, so a test that meets an unpriced model meets the warning (an error unless it expects
    it: see filterwarnings in pyproject.toml), whatever ran before it."""
    from runapi_client import _pricing

    monkeypatch.setattr(_pricing, "_warned", set())


class _NoReport:
    lines: tuple[str, ...] = ()


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(config: pytest.Config) -> None:
    """syrupy (langchain-tests' snapshot plugin) ends every run with "N snapshots passed." and
    has no option to keep quiet; when every snapshot matched, its report is left empty. A failed,
    written, updated or unused snapshot is still reported (and an unused one still fails)."""
    session = getattr(config, "_syrupy", None)
    report = getattr(session, "report", None)
    if report is None or not all(
        hasattr(report, name) for name in ("num_failed", "num_created", "num_updated")
    ):
        return  # another syrupy than the one this was written for: its report as it is
    if not (report.num_failed or report.num_created or report.num_updated or report.num_unused):
        session.report = _NoReport()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": FILTER_HEADERS,
        "filter_query_parameters": FILTER_QUERY_PARAMETERS,
        "decode_compressed_response": True,
        "before_record_response": scrub_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """cassettes/<suite>/<test module>/ (e.g. cassettes/langchain/test_chat_models/)."""
    module = Path(request.module.__file__)
    suite = module.parent.relative_to(Path(__file__).parent)
    return str(CASSETTES / suite / module.stem)
