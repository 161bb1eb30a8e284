"""Data sets for the experiments, as float32 arrays with a fixed train/validation split.

`digits` (the default) ships with scikit-learn: 1797 real 8x8 handwritten digits, pixel values
0..16, so every experiment runs offline. `mnist` and `fashion_mnist` need a one-time download by
Keras into `~/.keras/datasets/`; offline, loading them fails with `DatasetUnavailableError`
saying where to put the file.
"""

import dataclasses
import gzip
import os

import numpy as np

DATASETS = ("digits", "mnist", "fashion_mnist")
# How inputs are scaled before training (the notes: "normalized inputs will speed up training").
INPUT_SCALINGS = ("standardize", "raw", "unit", "skewed")
SKEWED_FEATURE_SCALE = 10.0  # the notes' "one axis ten times wider"
SPLIT_SEED = 0  # the split is fixed across runs: seeds vary initialization and batch order only


class DatasetUnavailableError(RuntimeError):
    """A data set that needs a download is not on disk and cannot be fetched."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int

    @property
    def num_features(self):
        return self.x_train.shape[1]


def load_dataset(name="digits", input_scaling="standardize", validation_fraction=0.25, limit=None):
    """Loads `name`, flattens images, splits, and scales inputs.

    Args:
        name: one of `DATASETS`.
        input_scaling: one of `INPUT_SCALINGS`. `standardize`: zero mean, unit variance per
            feature, statistics from the training split (constant features stay 0).
            `raw`: pixel values as stored (digits 0..16, MNIST 0..255). `unit`: divided by the
            maximum pixel value, in [0, 1]. `skewed`: standardized, then every second feature
            multiplied by 10, an elongated loss surface on real data.
        validation_fraction: share of the examples held out, in (0, 1).
        limit: keep at most this many examples (before splitting), for quick runs.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")
    if input_scaling not in INPUT_SCALINGS:
        raise ValueError(
            f"Unknown input_scaling {input_scaling!r}; choose one of {', '.join(INPUT_SCALINGS)}."
        )
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1). Received: {validation_fraction}")

    x, y, max_value = _LOADERS[name]()
    x = x.reshape(len(x), -1).astype(np.float64)
    y = y.astype(np.int32)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    if limit is not None:
        order = order[:limit]
    num_val = max(1, int(round(len(order) * validation_fraction)))
    val_idx, train_idx = order[:num_val], order[num_val:]
    x_train, x_val = x[train_idx], x[val_idx]
    x_train, x_val = _scale(x_train, x_val, input_scaling, max_value)
    return Dataset(
        name=name,
        x_train=x_train.astype(np.float32),
        y_train=y[train_idx],
        x_val=x_val.astype(np.float32),
        y_val=y[val_idx],
        num_classes=int(y.max()) + 1,
    )


def _scale(x_train, x_val, input_scaling, max_value):
    if input_scaling == "raw":
        return x_train, x_val
    if input_scaling == "unit":
        return x_train / max_value, x_val / max_value
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0  # digits has always-blank border pixels
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    if input_scaling == "skewed":
        factor = np.ones(x_train.shape[1])
        factor[::2] = SKEWED_FEATURE_SCALE
        x_train, x_val = x_train * factor, x_val * factor
    return x_train, x_val


def _load_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data, digits.target, 16.0


def keras_datasets_dir():
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(keras_home, "datasets")


def _load_mnist():
    # Read the cached file directly when it is there: Keras's loader would check a hash and
    # try the network again for any file it did not download itself.
    path = os.path.join(keras_datasets_dir(), "mnist.npz")
    if not os.path.exists(path):
        path = _download("mnist", path, lambda: _keras_fetch("mnist"))
    with np.load(path, allow_pickle=False) as f:
        x = np.concatenate([f["x_train"], f["x_test"]])
        y = np.concatenate([f["y_train"], f["y_test"]])
    return x, y, 255.0


FASHION_MNIST_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


def _load_fashion_mnist():
    folder = os.path.join(keras_datasets_dir(), "fashion-mnist")
    if not all(os.path.exists(os.path.join(folder, f)) for f in FASHION_MNIST_FILES):
        _download("fashion_mnist", folder, lambda: _keras_fetch("fashion_mnist"))
    parts = []
    for labels_file, images_file in (FASHION_MNIST_FILES[:2], FASHION_MNIST_FILES[2:]):
        with gzip.open(os.path.join(folder, labels_file), "rb") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
        with gzip.open(os.path.join(folder, images_file), "rb") as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(len(labels), 28, 28)
        parts.append((images, labels))
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return x, y, 255.0


def _keras_fetch(name):
    import keras

    getattr(keras.datasets, name).load_data()


def _download(name, expected_path, fetch):
    try:
        fetch()
    except Exception as error:  # noqa: BLE001 - any failure of the download means the same to the user
        raise DatasetUnavailableError(
            f"Dataset {name!r} is not on disk and could not be downloaded ({type(error).__name__}: "
            f"{error}). Download it once on a machine with internet access via "
            f"keras.datasets.{name}.load_data() and copy it to {expected_path}, or use "
            f"--dataset digits, which ships with scikit-learn."
        ) from error
    return expected_path


_LOADERS = {"digits": _load_digits, "mnist": _load_mnist, "fashion_mnist": _load_fashion_mnist}
