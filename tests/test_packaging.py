"""What a newcomer meets when an extra is missing, and what the built distribution holds.

Each import runs in a fresh interpreter whose import system refuses the hidden modules, as
if that package were not installed (a meta-path finder raising what Python raises for a
missing module), so the dev environment, which has every extra, stands in for one without.
The distribution's contents and metadata are checked by scripts/check_package.py; installing
the wheel into fresh venvs with each extra is left to `make package`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IMPORT_WITH_HIDDEN = """
import importlib, json, sys

hidden = set(sys.argv[1].split(","))


class Hide:
    def find_spec(self, name, path=None, target=None):
        if name in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Hide())
try:
    importlib.import_module(sys.argv[2])
except ImportError as error:
    print(json.dumps({"type": type(error).__name__, "message": str(error), "name": error.name}))
else:
    print(json.dumps(None))
"""

LANGCHAIN_HINT = 'pip install "runapi-integrations[langchain]"'
LLAMA_INDEX_HINT = 'pip install "runapi-integrations[llama-index]"'


def import_with_hidden(module: str, *hidden: str) -> dict[str, str] | None:
    """The ImportError importing ``module`` raises with ``hidden`` refused, or None."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_WITH_HIDDEN, ",".join(hidden), module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_langchain_adapter_without_langchain_says_which_extra() -> None:
    error = import_with_hidden("langchain_runapi", "langchain_core")
    assert error is not None
    assert error["type"] == "ModuleNotFoundError"
    assert error["name"] == "langchain_core"
    assert LANGCHAIN_HINT in error["message"]


@pytest.mark.parametrize(
    "module", ["llama_index_runapi", "llama_index.llms.runapi", "llama_index.embeddings.runapi"]
)
def test_llama_index_adapter_without_llama_index_says_which_extra(module: str) -> None:
    error = import_with_hidden(module, "llama_index.core")
    assert error is not None
    assert error["type"] == "ModuleNotFoundError"
    assert error["name"] == "llama_index.core"
    assert LLAMA_INDEX_HINT in error["message"]


def test_each_adapter_and_the_core_import_without_the_other_framework() -> None:
    assert import_with_hidden("runapi_client", "langchain_core", "llama_index.core") is None
    assert import_with_hidden("langchain_runapi", "llama_index.core") is None
    assert import_with_hidden("llama_index_runapi", "langchain_core") is None


@pytest.mark.parametrize(
    ("module", "hidden"),
    [
        # a dependency of the core, not a framework: no hint about extras
        ("langchain_runapi", "httpx"),
        ("llama_index_runapi", "httpx"),
        # a framework that is installed but broken inside is not a missing extra
        ("llama_index_runapi", "llama_index.core.llms"),
    ],
)
def test_any_other_missing_module_propagates_unchanged(module: str, hidden: str) -> None:
    error = import_with_hidden(module, hidden)
    assert error == {
        "type": "ModuleNotFoundError",
        "message": f"No module named {hidden!r}",
        "name": hidden,
    }


def test_sdist_and_wheel_hold_the_packages_and_metadata_and_no_tests(tmp_path: Path) -> None:
    """`make package` without its venv installs: built here (--no-isolation), ~2 s."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "check_package.py"),
            "--no-isolation",
            "--no-install",
            "--dist",
            str(tmp_path / "dist"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "package OK" in done.stdout
