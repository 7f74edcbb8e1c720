# a2c-cli developer commands. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The torch requirement installed first. The default pins the release we test with; on
# Linux, PyPI's torch wheel is a CUDA build. For a CPU-only machine use e.g.
#   make install TORCH="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev,docs,video,sweep,envpool,stats,atari,minatar,minigrid,mujoco]"
	touch $(STAMP)

install: $(STAMP) ## create .venv; install a2c-cli (editable) with the video, sweep, envpool, stats, atari, minatar, minigrid, mujoco, docs and dev extras

train: install ## install, then train LunarLander-v3 (discrete) with the default settings
	$(VENV)/bin/a2c-train env=lunar_discrete num_envs=8

# Tests run in one worker per core plus one (many tests wait on subprocesses, signals and
# timers, and the extra worker fills that idle time), spread one by one; a file with a module
# fixture is one xdist_group (it runs on one worker, the fixture once).
WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
PYTEST := $(PY) -m pytest -q -n $(WORKERS) --dist loadgroup

test: install ## fast test suite (real envs, real training runs, a few minutes)
	$(PYTEST)

test-slow: install ## the longer checks (sweeps and many runs in real processes, multi-seed runs); CI runs them too
	$(PYTEST) -m slow

test-full: install ## everything but Slurm: the fast and slow suites and the LunarLander/Taxi solve checks
	$(PYTEST) -m "not slurm"

SLURM ?= ../shared/slurm/local-slurm.sh
test-slurm: install ## start a one-node Slurm cluster here (root; apt), run the sweep-on-Slurm test
	command -v slurmctld >/dev/null || apt-get update -qq
	bash $(SLURM) start
	$(PY) -m pytest -q -m slurm -rs

benchmark: install ## the benchmark suite (every task x 5 seeds, resumable), then a2c-report
	$(VENV)/bin/a2c-train -m sweep=benchmark_classic
	$(VENV)/bin/a2c-report outputs/benchmark/classic

benchmark-spaces: install ## FrozenLake and MiniGrid x 5 seeds (resumable), then a2c-report
	$(VENV)/bin/a2c-train -m sweep=benchmark_spaces
	$(VENV)/bin/a2c-report outputs/benchmark/spaces

benchmark-mujoco: install ## the six MuJoCo locomotion tasks x 5 seeds (resumable), then a2c-report
	$(VENV)/bin/a2c-train -m sweep=benchmark_mujoco
	$(VENV)/bin/a2c-report outputs/benchmark/mujoco

benchmark-minatar: install ## five MinAtar games x 5 seeds (resumable), then a2c-report
	$(VENV)/bin/a2c-train -m sweep=benchmark_minatar
	$(VENV)/bin/a2c-report outputs/benchmark/minatar

bench-sweep: install ## a 200-job CartPole sweep (joblib, 2 workers) and a killed-worker sweep
	$(PY) benchmarks/bench_sweep.py

bench: install ## env steps/s: env alone, our training loop, Stable-Baselines3's A2C
	$(PY) benchmarks/bench_sps.py

bench-memory: install ## resident memory over a default 1M-step LunarLander run
	$(PY) benchmarks/bench_memory.py

lint: install ## ruff
	$(VENV)/bin/ruff check a2c_cli tests benchmarks

docs: install ## build the documentation site into site/ (strict: a broken link or page fails)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

docs-serve: install ## serve the documentation site at http://127.0.0.1:8000 (rebuilds on edits)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

docs-screenshots: install ## retake the docs' TensorBoard screenshots (a small real sweep; needs chromium)
	$(PY) docs/scripts/tensorboard_screenshots.py

tensorboard: install ## TensorBoard over every run in outputs/
	$(VENV)/bin/tensorboard --logdir outputs

clean: ## remove caches and build files (keeps .venv and outputs/)
	rm -rf build dist site *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +

.PHONY: help install train test test-slow test-full test-slurm benchmark benchmark-spaces benchmark-mujoco benchmark-minatar bench bench-memory bench-sweep lint docs docs-serve docs-screenshots tensorboard clean
