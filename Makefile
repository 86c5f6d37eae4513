# Every target makes .venv if it is missing and installs what it needs; nothing else is assumed.
# What each needs is declared in pyproject.toml: the extras (langchain, llama-index, all) and the
# dependency groups (demo, dev, docs, package), installed with `pip install --group` (pip >= 25.1).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# -qq: errors only. At -q, setuptools' notice on every editable install (a folder named like
# the llama_index namespace package) fills the first screen of make test.
PIP_QUIET := --disable-pip-version-check -qq
BASE := $(VENV)/.created
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo
PACKAGE_STAMP := $(VENV)/.installed-package

.PHONY: test demo record bench lint soak docs package clean venv

# The venv and a pip that knows dependency groups (>= 25.1). The venv is made without pip and
# this Python's own pip puts a current one in it: ~2 s less than ensurepip's old copy plus an
# upgrade. Where that pip is missing or older than 22.3 (no --python), ensurepip does it instead.
$(BASE):
	@test -x $(PY) || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(PY) install $(PIP_QUIET) 'pip>=25.1' \
		|| { $(PY) -m ensurepip >/dev/null && $(PY) -m pip install $(PIP_QUIET) 'pip>=25.1'; }
	@touch $@

# The dev group includes the demo and package groups, so it stands for their stamps too.
$(STAMP): pyproject.toml | $(BASE)
	$(PY) -m pip install $(PIP_QUIET) -e '.[all]' --group dev
	@touch $(STAMP) $(DEMO_STAMP) $(PACKAGE_STAMP)

# Only what examples/demo.py needs, not the dev stack. --no-compile: the demo's first run
# byte-compiles the modules it imports (~0.5 s) instead of pip compiling every installed one (~5 s).
$(DEMO_STAMP): pyproject.toml | $(BASE)
	$(PY) -m pip install $(PIP_QUIET) --no-compile -e '.[all]' --group demo
	@touch $(DEMO_STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

soak: $(STAMP)
	$(PY) -m pytest -q -m soak tests/reliability

demo: $(DEMO_STAMP)
	$(PY) examples/demo.py

# Re-record every cassette: live against runapi.ai (needs RUNAPI_API_KEY), or with OFFLINE=1
# against the local GLM emulator (tests/support/fake_runapi.py). See scripts/record_cassettes.py.
record: $(STAMP)
	$(PY) scripts/record_cassettes.py $(if $(OFFLINE),--offline) tests/langchain tests/llama_index tests/spend
	$(PY) examples/demo.py $(if $(OFFLINE),--record-emulator,--record)

# 5 rounds, full sizes (~3.5 min); QUICK=1: 3 rounds, reduced sizes (< 1 min, noisier figures).
# Results go to bench/results/local/, which git ignores.
bench: $(STAMP)
	$(PY) bench/run.py $(if $(QUICK),--quick)

# The format check comes last, so that a file waiting for `ruff format` does not hide mypy's
# findings.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m ruff format --check .

# mkdocs builds docs/ as Markdown; it imports nothing of the project.
$(VENV)/.installed-docs: pyproject.toml | $(BASE)
	$(PY) -m pip install $(PIP_QUIET) --group docs
	@touch $@

docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

$(PACKAGE_STAMP): pyproject.toml | $(BASE)
	$(PY) -m pip install $(PIP_QUIET) --group package
	@touch $@

# Build the sdist and the wheel into dist/, check their contents and metadata, and install the
# wheel into throwaway venvs with each extra to import it (scripts/check_package.py).
package: $(PACKAGE_STAMP)
	$(PY) scripts/check_package.py --dist dist

clean:
	rm -rf $(VENV) site dist .pytest_cache .mypy_cache .ruff_cache
