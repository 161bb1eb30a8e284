"""A user's own model builder and data loader, named `package.module:function`, checked at parse
time so a wrong one fails in one line (exit 2) before anything trains.

The contract (also in docs/data-and-models.md):

    def build(input_shape, num_classes, config):   # --model mypackage.models:build
        # input_shape: one example's shape, e.g. (28, 28) for MNIST, (40,) for MNIST-1D, a tuple
        # num_classes: an int; config: the run's resolved settings (a dict: seed, width, ...)
        return keras.Model(...)   # (batch, *input_shape) -> (batch, num_classes) probabilities

    def load():                                    # --data mypackage.data:load
        return (x_train, y_train), (x_val, y_val)  # like keras.datasets.*.load_data()

The model is returned uncompiled and ends in a softmax (the runs use the experiment's optimizer
and sparse categorical cross-entropy on probabilities); Keras's global seed is set from
`config["seed"]` before the call, so Keras's default initializers are reproducible. The loader's
arrays: x of shape (examples, *example_shape), finite numbers; y of shape (examples,) or
(examples, 1), integer class indices 0..k-1 with k >= 2; train and validation examples of the
same shape. The run's `input_scaling` setting then applies as to any data set (`raw`: as given).
A module is looked up as Python imports it, with the current directory on the path.
"""

import importlib
import importlib.util
import os
import re
import sys

import numpy as np

from experiments.data.raw import RawData

REFERENCE_PATTERN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


class PluginError(ValueError):
    """A user's builder or loader cannot be used: one line naming the setting and the problem."""


def is_reference(value):
    return isinstance(value, str) and REFERENCE_PATTERN.match(value) is not None


def check_module_exists(reference, setting):
    """PluginError unless `reference` names a module that can be imported, found without importing
    it (the caller may want TensorFlow imported quietly first, in case the user's module imports it)."""
    if not is_reference(reference):
        raise PluginError(f"{setting} {reference!r} must be package.module:function")
    module_name = reference.split(":")[0]
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as error:
        found, reason = None, str(error)
    else:
        reason = f"No module named {module_name!r}"
    if found is None:
        raise PluginError(f"{setting} {reference!r}: module {module_name!r} not found ({reason})")


def load_callable(reference, setting):
    """The function `reference` names, or PluginError saying why not."""
    if not is_reference(reference):
        raise PluginError(f"{setting} {reference!r} must be package.module:function")
    module_name, attribute = reference.split(":")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # as `python -m` would: a module beside the user's files
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise PluginError(f"{setting} {reference!r}: module {module_name!r} not found ({error})") from None
    except Exception as error:  # noqa: BLE001 - whatever the user's module raises on import
        raise PluginError(f"{setting} {reference!r}: importing {module_name!r} raised {_describe(error)}") from None
    if not hasattr(module, attribute):
        raise PluginError(f"{setting} {reference!r}: module {module_name!r} has no attribute {attribute!r}")
    function = getattr(module, attribute)
    if not callable(function):
        raise PluginError(f"{setting} {reference!r}: {attribute!r} is not callable ({type(function).__name__})")
    return function


def load_data(reference):
    """Calls the user's loader and checks what it returns; returns `experiments.data.raw.RawData`."""

    loader = load_callable(reference, "dataset")

    def fail(message):
        raise PluginError(f"dataset {reference!r}: {message}; expected (x_train, y_train), (x_val, y_val)")

    try:
        returned = loader()
    except Exception as error:  # noqa: BLE001 - the user's code, reported in one line
        raise PluginError(f"dataset {reference!r}: calling it raised {_describe(error)}") from None
    if not (isinstance(returned, (tuple, list)) and len(returned) == 2
            and all(isinstance(part, (tuple, list)) and len(part) == 2 for part in returned)):  # fmt: skip
        fail(f"it returned {_shape_of(returned)}")
    arrays = {}
    for split, (x, y) in zip(("train", "val"), returned):
        try:
            x, y = np.asarray(x), np.asarray(y)
        except Exception as error:  # noqa: BLE001
            fail(f"x_{split} or y_{split} is not an array ({_describe(error)})")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            fail(f"x_{split} has shape {x.shape} and y_{split} {y.shape} (need (n, ...) and (n,) with n >= 1)")
        if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
            fail(f"x_{split} must hold finite numbers; got dtype {x.dtype}")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            fail(f"y_{split} must hold class indices 0, 1, ... (integers); got dtype {y.dtype}, min {y.min()}")
        arrays[split] = (x, y)
    (x_train, y_train), (x_val, y_val) = arrays["train"], arrays["val"]
    if x_train.shape[1:] != x_val.shape[1:]:
        fail(f"training examples have shape {x_train.shape[1:]} but validation examples {x_val.shape[1:]}")
    if len(np.unique(y_train)) < 2:
        fail("y_train holds a single class")
    max_value = float(np.abs(x_train).max()) or 1.0
    return RawData(x_train, y_train, x_val, y_val, max_value=max_value, input_shape=x_train.shape[1:])


def check_model(reference, input_shape, num_classes, config):
    """Builds the user's model for these examples and runs it on two of them: PluginError unless
    it is a keras.Model giving (2, num_classes) probabilities."""
    builder = load_callable(reference, "model")  # before Keras: a wrong name fails without importing it
    import keras

    where = f"model {reference!r} (input_shape={tuple(input_shape)}, num_classes={num_classes})"
    keras.utils.set_random_seed(config["seed"])
    try:
        model = builder(tuple(input_shape), num_classes, dict(config))
    except Exception as error:  # noqa: BLE001
        raise PluginError(f"{where}: calling it raised {_describe(error)}") from None
    if not isinstance(model, keras.Model):
        raise PluginError(f"{where}: it returned {type(model).__name__}, not a keras.Model")
    try:
        outputs = keras.ops.convert_to_numpy(model(np.zeros((2, *input_shape), np.float32), training=False))
    except Exception as error:  # noqa: BLE001
        message = f"calling the model on a batch of shape (2, *input_shape) raised {_describe(error)}"
        raise PluginError(f"{where}: {message}") from None
    if outputs.shape != (2, num_classes):
        raise PluginError(f"{where}: the model's output has shape {outputs.shape}; expected (2, {num_classes})")
    if not (np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3)):
        raise PluginError(f"{where}: the outputs are not probabilities summing to 1; end the model in a softmax")
    keras.backend.clear_session(free_memory=False)


def _describe(error):
    return f"{type(error).__name__}: {error}".splitlines()[0][:200]


def _shape_of(value):
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}: ({', '.join(_shape_of(v) for v in value[:4])})"
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__}{' of shape ' + str(shape) if shape is not None else ''}"
