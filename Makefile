# Every target makes .venv if it is missing and installs what it needs; nothing else is assumed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
PIP_QUIET := --disable-pip-version-check -q

.PHONY: test demo record bench lint soak docs clean venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) -U pip
	$(PY) -m pip install $(PIP_QUIET) -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

soak: $(STAMP)
	$(PY) -m pytest -q -m soak tests/reliability

demo: $(STAMP)
	$(PY) examples/demo.py

# Re-record every cassette: live against runapi.ai (needs RUNAPI_API_KEY), or with OFFLINE=1
# against the local GLM emulator (tests/support/fake_runapi.py). See scripts/record_cassettes.py.
record: $(STAMP)
	$(PY) scripts/record_cassettes.py $(if $(OFFLINE),--offline) tests/langchain tests/llama_index tests/spend
	$(PY) examples/demo.py $(if $(OFFLINE),--record-emulator,--record)

bench: $(STAMP)
	$(PY) bench/run.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

$(VENV)/.installed-docs: $(STAMP)
	$(PY) -m pip install $(PIP_QUIET) -e '.[dev,docs]'
	@touch $@

docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
