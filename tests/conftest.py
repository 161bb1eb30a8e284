"""Shared test set-up: quiet TensorFlow's C++ logs and fix seeds before anything imports it."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state and a fresh Keras graph namespace."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)  # the full gc costs ~0.35 s per test
