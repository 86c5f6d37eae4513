"""Record the cassettes that the integration tests replay.

    python scripts/record_cassettes.py --offline tests/langchain tests/llama_index
    RUNAPI_API_KEY=... python scripts/record_cassettes.py tests/langchain

``--offline`` starts the local GLM emulator (``tests/support/fake_runapi.py``), points
``RUNAPI_BASE_URL`` at it, runs pytest with ``--record-mode=rewrite`` on the given test paths,
and then rewrites the emulator's address in every cassette written by this run to
``https://runapi.ai``, so replay matches the default base URL. Without ``--offline`` the
cassettes are recorded live against runapi.ai (``RUNAPI_API_KEY`` must be set); vcr's
``filter_headers`` (tests/conftest.py) keeps the key out of them.

Extra pytest arguments go after ``--``: ``... --offline tests/langchain -- -k agent``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
PUBLIC_ORIGIN = "https://runapi.ai"
DUMMY_KEY = "test-key-not-a-real-credential"


def rewrite_origin(text: str, origin: str) -> str:
    """``http://127.0.0.1:PORT`` (the emulator) -> ``https://runapi.ai`` in cassette text,
    and the bare ``127.0.0.1:PORT`` of recorded ``Host`` headers -> ``runapi.ai``."""
    netloc = origin.split("://", 1)[1]
    public_netloc = PUBLIC_ORIGIN.split("://", 1)[1]
    return text.replace(origin, PUBLIC_ORIGIN).replace(netloc, public_netloc)


def cassettes_written_since(start: float) -> list[Path]:
    return sorted(
        p for p in CASSETTES.rglob("*.yaml") if p.is_file() and p.stat().st_mtime >= start
    )


def run_pytest(paths: list[str], extra: list[str], env: dict[str, str]) -> int:
    # Only the tests that replay cassettes (marked vcr): the others are unit tests, some of
    # which check the default base URL that recording points elsewhere.
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-m",
        "vcr",
        "--record-mode=rewrite",
        *paths,
        *extra,
    ]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def record_offline(paths: list[str], extra: list[str], stream_shape: str) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.support.fake_runapi import FakeRunAPI

    start = time.time() - 1  # mtime granularity
    with FakeRunAPI(stream_shape=stream_shape) as server:
        origin = re.sub(r"/v1/?$", "", server.base_url)
        env = {**os.environ, "RUNAPI_BASE_URL": server.base_url}
        env.setdefault("RUNAPI_API_KEY", DUMMY_KEY)
        status = run_pytest(paths, extra, env)
    rewritten = 0
    for path in cassettes_written_since(start):
        text = path.read_text(encoding="utf-8")
        if origin in text:
            path.write_text(rewrite_origin(text, origin), encoding="utf-8")
            rewritten += 1
    print(f"rewrote {origin} -> {PUBLIC_ORIGIN} in {rewritten} cassette(s)")
    return status


def record_live(paths: list[str], extra: list[str]) -> int:
    if not os.environ.get("RUNAPI_API_KEY"):
        print("Recording live needs RUNAPI_API_KEY (or pass --offline to use the emulator).")
        return 2
    env = dict(os.environ)
    env.pop("RUNAPI_BASE_URL", None)  # cassettes must hold the default base URL
    # pyproject's addopts lets tests reach only this machine; recording must reach RunAPI.
    allow = "--allow-hosts=127.0.0.1,::1,localhost,runapi.ai"
    return run_pytest(paths, [allow, *extra], env)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="test files or directories to record")
    parser.add_argument("--offline", action="store_true", help="record against the emulator")
    parser.add_argument(
        "--stream-shape",
        choices=("native", "normalised"),
        default="native",
        help="the emulator's default stream shape (a request may pick its own with the "
        "X-Fake-Stream-Shape header)",
    )
    args = parser.parse_args(argv)
    if args.offline:
        return record_offline(args.paths, extra, args.stream_shape)
    return record_live(args.paths, extra)


if __name__ == "__main__":
    raise SystemExit(main())
