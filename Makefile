# imgpipe: `make run` and `make test` set everything up on a fresh machine.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
# Lambda's python3.12 runtime: Chalice packages for the interpreter it runs on.
PYTHON312 := $(shell python3.12 -c "import sys; print(sys.executable)" 2>/dev/null || { p=$$(pyenv prefix 3.12 2>/dev/null | head -n1) && test -x "$$p/bin/python3" && echo "$$p/bin/python3"; })

.PHONY: help venv test clean

help:
	@echo "make test   run every test (creates .venv with Python 3.12 first)"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "imgpipe needs Python 3.12 (the AWS Lambda python3.12 runtime)."; \
	  echo "Install it: 'apt install python3.12 python3.12-venv', 'brew install python@3.12'," \
	       "or 'pyenv install 3.12', then run make again."; \
	  exit 1; fi
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
	  echo "Recreating $(VENV): it is not Python 3.12"; rm -rf $(VENV); fi
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache
