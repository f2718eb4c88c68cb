# imgpipe: `make run` and `make test` set everything up on a fresh machine.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
# Lambda's python3.12 runtime: Chalice packages for the interpreter it runs on.
PYTHON312 := $(shell command -v python3.12 2>/dev/null || { p=$$(pyenv prefix 3.12 2>/dev/null | head -n1) && test -x "$$p/bin/python3" && echo "$$p/bin/python3"; })

.PHONY: help venv test bench clean

help:
	@echo "make test   run every test (creates .venv with Python 3.12 first)"
	@echo "make bench  naive vs imgpipe vs libvips [PHOTOS=$(PHOTOS)] [ROUNDS=$(ROUNDS)] [SUBSET=L]"

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

# The benchmark corpus is not in the repository: a development checkout has it
# in ../shared; anyone else points PHOTOS at a folder of large camera JPEGs
# (bench says so and stops when the folder is absent).
PHOTOS ?= ../shared/corpus/photos
ROUNDS ?= 5
SUBSET ?=
bench: venv
	$(PY) -m bench --photos "$(PHOTOS)" --rounds $(ROUNDS) --subset "$(SUBSET)"

clean:
	rm -rf $(VENV) .pytest_cache
