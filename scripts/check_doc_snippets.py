"""Run every ```python block of the given Markdown pages against the local GLM emulator.

    python scripts/check_doc_snippets.py docs/llama_index.md [--stream-shape normalised]

Each block runs alone in a fresh interpreter (so each must stand on its own), with
``RUNAPI_BASE_URL`` pointing at ``tests/support/fake_runapi.py`` and a dummy key. The exit
status is the number of blocks that failed; their output is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--stream-shape", choices=("native", "normalised"), default="native")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from tests.support.fake_runapi import FakeRunAPI

    failures = 0
    with FakeRunAPI(stream_shape=args.stream_shape) as server:
        env = {
            **os.environ,
            "RUNAPI_BASE_URL": server.base_url,
            "RUNAPI_API_KEY": "doc-snippet-key",
            "PYTHONWARNINGS": "ignore",
        }
        for page in args.pages:
            for number, code in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), 1):
                done = subprocess.run(
                    [sys.executable, "-c", code],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                first_line = code.strip().splitlines()[0][:60]
                if done.returncode == 0:
                    print(f"ok    {page}#{number}  {first_line}")
                else:
                    failures += 1
                    print(f"FAIL  {page}#{number}  {first_line}\n{done.stdout}{done.stderr}")
    return failures


if __name__ == "__main__":
    raise SystemExit(main())
