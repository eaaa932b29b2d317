# openusage: `make test` is what CI runs (.ci/run). Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
TEST_DEPS := "pytest>=8,<10" pyte==0.8.2 ruff==0.17.6 prometheus_client==0.26.0 vermin==1.9.2

.PHONY: venv dev run test lint unit bench completions wheelhouse clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The editable install is redone only when the package's metadata changes (a stamp in the venv);
# the code itself is live. The man pages go where a wheel puts them: $(VENV)/share/man.
INSTALLED := $(VENV)/.openusage-installed
MAN_PAGES := $(wildcard man/*.1 man/*.5)
MAN_DIR := $(VENV)/share/man
MAN_STAMP := $(MAN_DIR)/.openusage-pages

$(INSTALLED): $(BIN)/activate setup.cfg setup.py
	$(PY) -m pip install --quiet -e .
	touch $@

$(MAN_STAMP): $(MAN_PAGES)
	for page in $(MAN_PAGES); do \
	  section=$${page##*.}; mkdir -p $(MAN_DIR)/man$$section; \
	  cp $$page $(MAN_DIR)/man$$section/; \
	done
	touch $@

venv: $(INSTALLED) $(MAN_STAMP)

dev: venv
	$(PY) -m pip install --quiet $(TEST_DEPS)

run: venv
	@echo 'man pages: export MANPATH="$(abspath $(MAN_DIR)):$$MANPATH"  (then: man openusage)'
	$(BIN)/openusage

LINTED := $(wildcard openusage tests bench contrib)
lint: dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/vermin -q -t=3.9- --no-tips --violations --eval-annotations $(filter-out tests,$(LINTED))

unit: dev
	$(PY) -m pytest -q

test: lint wheelhouse unit

# Wheels of openusage and its dependencies, for installs on machines without an index:
#   pip install --no-index --find-links dist/wheelhouse openusage
# The dependency wheels fit this venv's Python; for another target use TARGET_PYTHON=3.9 (and
# TARGET_PLATFORM=manylinux2014_x86_64 or macosx_11_0_arm64 ...).
TARGET_PYTHON ?=
TARGET_PLATFORM ?= manylinux2014_x86_64
wheelhouse: venv
	rm -rf dist/wheelhouse
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist/wheelhouse .
	if [ -n "$(TARGET_PYTHON)" ]; then \
	  $(PY) -m pip download --quiet --only-binary=:all: --python-version $(TARGET_PYTHON) \
	    --platform $(TARGET_PLATFORM) --dest dist/wheelhouse requests requests-unixsocket blessed; \
	  echo $(TARGET_PYTHON) > dist/wheelhouse/TARGET-PYTHON; \
	else \
	  $(PY) -m pip wheel --quiet --wheel-dir dist/wheelhouse .; \
	  $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' > dist/wheelhouse/TARGET-PYTHON; \
	fi

bench: venv
	$(PY) bench/ingest.py
	$(PY) bench/readmodel.py
	$(PY) bench/hook.py
	$(PY) bench/tui.py
	$(PY) bench/slow_clients.py

completions: venv
	$(PY) -m openusage.cli.completions contrib/completions

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
