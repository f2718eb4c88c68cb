# imgpipe: `make run` and `make test` set everything up on a fresh machine.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
# Lambda's python3.12 runtime: Chalice packages for the interpreter it runs on.
# The first python3.12 that really runs (a pyenv shim may exist but fail).
PYTHON312 := $(shell for p in python3.12 "$$(pyenv prefix 3.12 2>/dev/null | head -n1)/bin/python3"; do \
  "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null && { command -v "$$p"; break; }; done)

PORT ?= 8000
AWS_PORT ?= 4566
STAGE ?= dev

.PHONY: help venv run-venv test run reset-local loadtest bench clean deploy package package-terraform
.PHONY: bench-api bench-startup bench-e2e bench-scale bench-variants check-run-install rehearse

help:
	@echo "make run                 the whole pipeline on 127.0.0.1 (PORT=$(PORT), AWS_PORT=$(AWS_PORT)) until Ctrl-C"
	@echo "make test                run every test (creates .venv with Python 3.12 first)"
	@echo "make check-run-install   make run's install alone, in a throwaway virtualenv, publishes events"
	@echo "make rehearse            the Terraform and SAM deploy rehearsals against a local AWS emulator (minutes)"
	@echo "make reset-local         forget the images and records kept by make run"
	@echo "make loadtest            200 uploads from 20 clients through a fresh local stack"
	@echo "make bench               naive vs imgpipe vs libvips [PHOTOS=$(PHOTOS)] [ROUNDS=$(ROUNDS)] [SUBSET=L]"
	@echo "                         [BASELINE=1: also rewrite bench/results/latest.json]"
	@echo "make bench-api | bench-startup | bench-e2e   API CPU, start-up and package, end-to-end latency"
	@echo "make bench-scale         the capacity model: AWS limits at 100, 1,000 and 5,000 images/s"
	@echo "make bench-variants      first 640 px WebP variant: from the source, from a rendition, libvips;"
	@echo "                         then a repeated request through a local stack (renders counted)"
	@echo "make deploy STAGE=dev    stacks + chalice deploy + API key and wiring (AWS credentials)"
	@echo "make package             one SAM/CloudFormation template in build/cfn"
	@echo "make package-terraform   Terraform in build/terraform"

# Two steps: `make run` needs only requirements-run.txt (the app, moto's server,
# the CLI); `make test` and `make bench` add requirements-dev.txt. The run set is
# installed with --no-compile: Python writes the .pyc of what a run imports
# (18 MB) instead of pip compiling every module of moto, botocore & co. (59 MB).
$(VENV)/.run-installed: requirements.txt requirements-run.txt
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "imgpipe needs Python 3.12 (the AWS Lambda python3.12 runtime)."; \
	  echo "Install it: 'apt install python3.12 python3.12-venv', 'brew install python@3.12'," \
	       "or 'pyenv install 3.12', then run make again."; \
	  exit 1; fi
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
	  echo "Recreating $(VENV): it is not Python 3.12"; rm -rf $(VENV); fi
	@[ -x $(PY) ] || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet --no-compile -r requirements-run.txt
	@touch $@

$(VENV)/.installed: $(VENV)/.run-installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

run-venv: $(VENV)/.run-installed

venv: $(VENV)/.installed

# `make run`'s install alone, in a throwaway virtualenv (the tests run with the dev
# set, which hides a missing run requirement): one upload must publish its event.
# --no-compile and pip's cache keep it to a few seconds of install.
RUN_CHECK_VENV := build/run-only-venv
check-run-install:
	@if [ -z "$(PYTHON312)" ]; then echo "imgpipe needs Python 3.12 (see make venv)."; exit 1; fi
	rm -rf $(RUN_CHECK_VENV)
	$(PYTHON312) -m venv $(RUN_CHECK_VENV)
	$(RUN_CHECK_VENV)/bin/python -m pip install --quiet --no-compile --upgrade "pip<26.3"
	$(RUN_CHECK_VENV)/bin/python -m pip install --quiet --no-compile -r requirements-run.txt
	$(RUN_CHECK_VENV)/bin/python -m tests.run_only

# checkov in a virtualenv of its own: its pins clash with pytest's (see the file).
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@if [ -z "$(PYTHON312)" ]; then echo "imgpipe needs Python 3.12 (see make venv)."; exit 1; fi
	$(PYTHON312) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

# Two workers, one test file each at a time (files share fixtures and build/ outputs).
test: venv $(CHECKOV_VENV)/.installed
	$(PY) -m pytest -n 2 --dist loadfile -m "not rehearsal"

# Path 3 (terraform apply, plan, destroy) against moto server with the AWS rules moto skips:
# minutes, so apart from `make test`; CI runs both. Skips with a reason without terraform.
rehearse: venv
	$(PY) -m pytest -m rehearsal tests/test_rehearsal_terraform.py tests/test_rehearsal_sam.py

# The benchmark corpus is not in the repository: a development checkout has it
# in ../shared; anyone else points PHOTOS at a folder of large camera JPEGs
# (bench says so and stops when the folder is absent).
PHOTOS ?= ../shared/corpus/photos
ROUNDS ?= 5
SUBSET ?=
# Results go to the git-ignored bench/out/; BASELINE=1 also rewrites bench/results/latest.json.
bench: venv
	$(PY) -m bench --photos "$(PHOTOS)" --rounds $(ROUNDS) --subset "$(SUBSET)" $(if $(BASELINE),--baseline)

# A first on-demand variant (docs/VARIANTS.md), one core: source vs stored rendition vs libvips;
# then a repeated request through a fresh local stack (--no-stack skips it).
bench-variants: venv
	$(PY) -m bench.variants --photos "$(PHOTOS)" --rounds $(ROUNDS)

# CPU of GET /images (25 records × 7 renditions) and GET /images/{id} in the API handler.
bench-api: venv
	$(PY) -m bench.api

# Start-up of the CLI's commands and of `import app`, and the Lambda package's size.
bench-startup: venv
	$(PY) -m bench.startup

# Upload → COMPLETE through a fresh local stack (10 photos), and 100 concurrent GET /images.
bench-e2e: venv
	MALLOC_ARENA_MAX=2 $(PY) -m bench.e2e

# The pipeline's AWS calls per image, recorded in moto, against AWS's limits (docs/SCALE.md).
bench-scale: venv
	$(PY) -m bench.scale

# python -m imgpipe run: the CLI's --help lists more options (--reset, --workers …).
# MALLOC_ARENA_MAX: as every deployed function has it (.chalice/config.json).
run: run-venv
	MALLOC_ARENA_MAX=2 $(PY) -m imgpipe run --port $(PORT) --aws-port $(AWS_PORT)

reset-local:
	rm -rf .local-state

# 200 uploads from 20 clients through a fresh local stack (UPLOADS=, CLIENTS= to change).
loadtest: venv
	$(PY) -m imgpipe loadtest --uploads $(or $(UPLOADS),200) --clients $(or $(CLIENTS),20)

deploy: venv
	$(PY) -m deploy deploy --stage $(STAGE)

package: venv
	$(PY) -m deploy package

package-terraform: venv
	$(PY) -m deploy package-terraform

clean: reset-local
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache test-artifacts build
