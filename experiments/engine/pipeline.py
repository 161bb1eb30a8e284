"""The data a run trains on, per process: the data sets (loaded once), their arrays as
TensorFlow tensors, the tf.data pipeline that reshuffles every epoch (TensorFlow), shuffled
numpy batches (JAX, PyTorch), and the validation batches."""

import math

import keras
import numpy as np

from experiments.data import datasets, shuffling
from experiments.engine import validation_pass

_DATASETS = {}  # per process: the sweep trains many runs on the same data
_PARTS = {}  # per process and data set: tensors for the training pipeline, validation batches
SMALL_TRAINING_SET_BYTES = 64 * 2**20  # training_batches: shuffle the examples, not their indices


def get_dataset(config):
    key = (config["dataset"], config["input_scaling"], config["limit"])
    if key not in _DATASETS:
        _DATASETS[key] = datasets.load_dataset(config["dataset"], config["input_scaling"], limit=config["limit"])
    return _DATASETS[key]


def _parts(dataset):
    """The data set's arrays as tensors, its validation batches and its validation arrays as
    tensors, made once per process."""
    import tensorflow as tf

    key = id(dataset)
    if key not in _PARTS:
        train = (tf.constant(dataset.x_train), tf.constant(dataset.y_train))
        validation = tf.data.Dataset.from_tensor_slices((dataset.x_val, dataset.y_val))
        validation = validation.batch(validation_pass.BATCH_SIZE).cache().with_options(shuffling.pipeline_options())
        validation_tensors = (tf.constant(dataset.x_val), tf.constant(dataset.y_val))
        # The data set is held: its id stays its own.
        _PARTS[key] = (dataset, train, validation, validation_tensors)
    return _PARTS[key][1:]


class ShuffledBatches(keras.utils.PyDataset):
    """Mini-batches of numpy arrays reshuffled every epoch from `seed`, for the JAX and PyTorch
    backends, whose steps take arrays, not TensorFlow tensors. Same seed, same order; not the
    order of TensorFlow's shuffle (`training_batches`), so the backends' runs of one seed differ
    in data order."""

    def __init__(self, x, y, batch_size, seed):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self._rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self._order = self._rng.permutation(len(self.x))


def training_batches(dataset, batch_size, seed, shuffle="each_epoch"):
    """Mini-batches reshuffled every epoch (the notes), reproducibly from `seed`; the other
    orders of the `shuffle` setting (one fixed order) come from experiments/data/shuffling.py.

    A tf.data pipeline over in-memory tensors: Keras's numpy adapter rebuilds a pipeline and
    copies the arrays every epoch, several times slower per step on small models. The batches
    are those of shuffling and batching the examples themselves (a shuffle's order depends on
    its seeds and buffer only). Up to `SMALL_TRAINING_SET_BYTES` of examples that is what it
    does; a larger set shuffles and batches the examples' indices and gathers each batch in one
    op, so the shuffle buffer does not hold a second copy of the set. tf.data's autotuning is
    off (`shuffling.pipeline_options`). Each epoch makes new iterators (Keras makes two per
    epoch, one of them never read), and there the gathering `map` costs: on digits (batch 32,
    2 cores, an epoch read inside one `tf.function`) the examples' own shuffle takes 4.3 ms per
    epoch, the gather 10.3 ms, with autotuning 15.3 ms; at batch 1 70 against 126 ms.
    """
    import tensorflow as tf

    if shuffle != "each_epoch":
        return shuffling.fixed_order_batches(dataset, batch_size, seed, shuffle)
    x, y = _parts(dataset)[0]
    num_train = len(dataset.x_train)
    if dataset.x_train.nbytes + dataset.y_train.nbytes <= SMALL_TRAINING_SET_BYTES:
        batches = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(num_train, seed=seed, reshuffle_each_iteration=True)
        batches = batches.batch(batch_size)
    else:
        batches = (
            tf.data.Dataset.range(num_train)
            .shuffle(num_train, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .map(lambda rows: (tf.gather(x, rows), tf.gather(y, rows)))
        )
    return batches.prefetch(tf.data.AUTOTUNE).with_options(shuffling.pipeline_options())


def validation_batches(dataset):
    return _parts(dataset)[1]


def validation_tensors(dataset):
    """`(x_val, y_val)` as TensorFlow tensors, made once per process."""
    return _parts(dataset)[2]


def training_tensors(dataset):
    """`(x_train, y_train)` as TensorFlow tensors, made once per process."""
    return _parts(dataset)[0]


