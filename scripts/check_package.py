"""``make package``: build the sdist and the wheel, check what they hold, install and import them.

    python scripts/check_package.py                      # build into dist/, check, install
    python scripts/check_package.py --no-install         # contents and metadata only
    python scripts/check_package.py --no-isolation --no-install --dist /tmp/d   # the test suite's

It builds from a copy of the work tree (so the tree gets no ``build/`` or ``*.egg-info``), the
sdist first and the wheel from the sdist, as ``python -m build`` does, and checks:

- the wheel: every file of every package and subpackage (``runapi_client``, ``langchain_runapi``,
  ``llama_index_runapi``, ``llama_index.llms.runapi``, ``llama_index.embeddings.runapi``), a
  ``py.typed`` in each, the LICENSE, and nothing else: no tests, cassettes, examples or scripts,
  and no ``llama_index/__init__.py`` (``llama_index`` belongs to llama-index-core as a namespace);
- the sdist: the same package files plus pyproject.toml, README.md, LICENSE, and no tests (they
  need tests/support/, cassettes/ and examples/; the suite runs from a clone);
- the metadata of both: name and version from pyproject.toml, the license expression and file,
  Requires-Python, the extras langchain, llama-index and all, and no dev, docs or demo extra
  (those are dependency groups, not for users);
- then, unless ``--no-install``, installs the wheel into throwaway venvs with no extra, with
  ``[langchain]`` and with ``[llama-index]``, imports what each should import, and checks that the
  adapter whose framework is missing says which extra to install.

Building and installing go through pip's configured index, so this works offline against a
local mirror.
"""

from __future__ import annotations

import argparse
import email.parser
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from email.message import Message
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - `build` depends on tomli before 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "runapi_client",
    "langchain_runapi",
    "llama_index_runapi",
    "llama_index/llms/runapi",
    "llama_index/embeddings/runapi",
)
"""Every package the distribution ships (with its subpackages), each typed (py.typed)."""
EXTRAS = {"langchain", "llama-index", "all"}
NOT_EXTRAS = {"dev", "docs", "demo", "package"}
NOT_SHIPPED = ("tests/", "cassettes/", "examples/", "bench/", "scripts/", "docs/")
"""Top-level folders of the repository that neither the wheel nor the sdist may hold."""
NAMESPACES = (
    "llama_index/__init__.py",
    "llama_index/llms/__init__.py",
    "llama_index/embeddings/__init__.py",
)
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "dist",
    "build",
    "site",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".*_cache",
    ".hypothesis",
)

# What each throwaway venv must import, and which adapter must refuse with which hint.
LANGCHAIN_HINT = 'pip install "runapi-integrations[langchain]"'
LLAMA_INDEX_HINT = 'pip install "runapi-integrations[llama-index]"'
LLAMA_INDEX_MODULES = (
    "llama_index_runapi",
    "llama_index.llms.runapi",
    "llama_index.embeddings.runapi",
)
INSTALLS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "": (
        ("runapi_client",),
        {
            "langchain_runapi": LANGCHAIN_HINT,
            **dict.fromkeys(LLAMA_INDEX_MODULES, LLAMA_INDEX_HINT),
        },
    ),
    "langchain": (
        ("runapi_client", "langchain_runapi"),
        dict.fromkeys(LLAMA_INDEX_MODULES, LLAMA_INDEX_HINT),
    ),
    "llama-index": (("runapi_client", *LLAMA_INDEX_MODULES), {"langchain_runapi": LANGCHAIN_HINT}),
}
IMPORT_CHECK = """
import importlib, json, sys
imports, refusals = json.loads(sys.argv[1]), json.loads(sys.argv[2])
found = {}
for name in imports:
    found[name] = importlib.import_module(name).__file__
for name in refusals:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        found[name] = str(error)
    else:
        found[name] = None
print(json.dumps(found))
"""


class PackageCheckError(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise PackageCheckError(message)


def project() -> dict[str, object]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]  # type: ignore[no-any-return]


def package_files(tree: Path) -> set[str]:
    """Every file of the shipped packages in a source tree, as paths relative to it."""
    files = set()
    for package in PACKAGES:
        for path in (tree / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(path.relative_to(tree).as_posix())
    return files


def build(source: Path, dist: Path, isolation: bool) -> tuple[Path, Path]:
    """The sdist, then the wheel built from it (``python -m build``'s default)."""
    if dist.exists():
        shutil.rmtree(dist)
    command = [sys.executable, "-m", "build", "--outdir", str(dist), str(source)]
    if not isolation:
        command.insert(3, "--no-isolation")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise PackageCheckError("python -m build failed")
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    return sdist, wheel


def check_metadata(metadata: Message, where: str) -> None:
    spec = project()
    check(metadata["Name"] == spec["name"], f"{where}: Name {metadata['Name']!r}")
    check(metadata["Version"] == spec["version"], f"{where}: Version {metadata['Version']!r}")
    check(
        metadata["License-Expression"] == spec["license"],
        f"{where}: License-Expression {metadata['License-Expression']!r}",
    )
    check(metadata.get_all("License-File") == ["LICENSE"], f"{where}: License-File is not LICENSE")
    check(
        metadata["Requires-Python"] == spec["requires-python"],
        f"{where}: Requires-Python {metadata['Requires-Python']!r}",
    )
    extras = set(metadata.get_all("Provides-Extra") or ())
    check(extras >= EXTRAS, f"{where}: extras {sorted(extras)} lack {sorted(EXTRAS - extras)}")
    check(
        not extras & NOT_EXTRAS,
        f"{where}: {sorted(extras & NOT_EXTRAS)} published as extras (dependency groups)",
    )
    requires = metadata.get_all("Requires-Dist") or []
    for name in ("httpx", "pydantic"):
        check(
            any(r.startswith(name) and "extra ==" not in r for r in requires),
            f"{where}: {name} is not a plain dependency",
        )


def check_no_strays(names: set[str], where: str) -> None:
    for name in sorted(names):
        check(not name.startswith(NOT_SHIPPED), f"{where} holds {name}")
        check(not name.endswith((".yaml", ".pyc")), f"{where} holds {name}")
        check(name not in NAMESPACES, f"{where} holds {name}: llama-index-core's namespace")


def check_wheel(wheel: Path, expected: set[str]) -> None:
    spec = project()
    check(wheel.name.endswith("-py3-none-any.whl"), f"{wheel.name} is not a pure-Python wheel")
    with zipfile.ZipFile(wheel) as archive:
        names = {n for n in archive.namelist() if not n.endswith("/")}
        dist_info = f"runapi_integrations-{spec['version']}.dist-info/"
        metadata = email.parser.Parser().parsestr(archive.read(dist_info + "METADATA").decode())
    ours = {n for n in names if not n.startswith(dist_info)}
    check(not expected - ours, f"the wheel lacks {sorted(expected - ours)}")
    check(
        not ours - expected, f"the wheel holds files the packages do not: {sorted(ours - expected)}"
    )
    for package in PACKAGES:
        check(f"{package}/py.typed" in ours, f"the wheel has no {package}/py.typed")
    check(f"{dist_info}licenses/LICENSE" in names, "the wheel has no LICENSE")
    check_no_strays(names, "the wheel")
    check_metadata(metadata, "the wheel's METADATA")


def check_sdist(sdist: Path, expected: set[str]) -> None:
    spec = project()
    top = f"runapi_integrations-{spec['version']}/"
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.isfile()]
        check(all(m.name.startswith(top) for m in members), f"the sdist is not all under {top}")
        names = {m.name[len(top) :] for m in members}
        pkg_info = archive.extractfile(top + "PKG-INFO")
        assert pkg_info is not None
        metadata = email.parser.Parser().parsestr(pkg_info.read().decode())
    for name in ("pyproject.toml", "README.md", "LICENSE", "PKG-INFO"):
        check(name in names, f"the sdist has no {name}")
    check(not expected - names, f"the sdist lacks {sorted(expected - names)}")
    check_no_strays(names, "the sdist")
    check_metadata(metadata, "the sdist's PKG-INFO")


def check_installs(wheel: Path, work: Path) -> None:
    """Install the wheel with each extra into a fresh venv and import from it (not the tree)."""
    for extra, (imports, refusals) in INSTALLS.items():
        label = f"[{extra}]" if extra else "no extra"
        started = time.perf_counter()
        venv = work / f"venv-{extra or 'core'}"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        install += ["--disable-pip-version-check", "--no-compile"]
        done = subprocess.run(
            [*install, f"{wheel}[{extra}]" if extra else str(wheel)], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-4000:])
            raise PackageCheckError(f"pip could not install the wheel with {label}")
        # -I: the venv's site-packages only, not the current folder or PYTHON* variables
        done = subprocess.run(
            [str(python), "-I", "-c", IMPORT_CHECK, json.dumps(imports), json.dumps(refusals)],
            cwd=work,
            capture_output=True,
            text=True,
        )
        check(done.returncode == 0, f"{label}: importing failed:\n{done.stderr[-3000:]}")
        found = json.loads(done.stdout)
        for name in imports:
            check(found[name].startswith(str(venv)), f"{label}: {name} came from {found[name]}")
        for name, hint in refusals.items():
            check(found[name] is not None, f"{label}: {name} imported without its framework")
            check(hint in found[name], f"{label}: {name} says {found[name]!r}, not {hint!r}")
        took = time.perf_counter() - started
        print(
            f"{label}: installs ({took:.0f} s) and imports {', '.join(imports)}; "
            f"the hint to install the missing extra comes from {', '.join(sorted(refusals))}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output (emptied first)")
    parser.add_argument("--no-isolation", action="store_true", help="build in this environment")
    parser.add_argument("--no-install", action="store_true", help="skip the venv installs")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="check-package-") as tmp:
        work = Path(tmp)
        source = work / "source"
        shutil.copytree(ROOT, source, ignore=COPY_IGNORE)
        expected = package_files(source)
        sdist, wheel = build(source, args.dist.resolve(), isolation=not args.no_isolation)
        check_wheel(wheel, expected)
        print(f"{wheel.name}: {len(expected)} package files, py.typed x{len(PACKAGES)}, LICENSE,")
        print("  no tests or cassettes; metadata: name, version, license, Requires-Python, extras")
        check_sdist(sdist, expected)
        print(f"{sdist.name}: the same package files, pyproject.toml, README.md, LICENSE, no tests")
        if not args.no_install:
            check_installs(wheel, work)
    print(f"package OK: {args.dist}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PackageCheckError as error:
        print(f"package check failed: {error}", file=sys.stderr)
        sys.exit(1)
