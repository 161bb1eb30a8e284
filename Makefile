# `make run` and `make test` work on a fresh clone: the first use creates .venv and installs
# requirements.txt into it; later uses reinstall only when requirements.txt or pyproject.toml change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pyproject.toml's optional extras the tests need: the other Keras backends and Ray.
EXTRAS := jax,torch,ray,dev

.PHONY: install run test benchmarks clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python experiments/run.py $(ARGS)

# The linter and the architecture's import contracts, the whole suite on TensorFlow, the notebooks
# executed cell by cell (nbmake), then the tests marked all_backends on JAX and PyTorch.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(ARGS)
	$(BIN)/python -m pytest --nbmake notebooks/
	KERAS_BACKEND=jax $(BIN)/python -m pytest -m all_backends $(ARGS)
	KERAS_BACKEND=torch $(BIN)/python -m pytest -m all_backends $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
