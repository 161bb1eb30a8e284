"""The order in which an epoch visits the training examples (the `shuffle` setting).

    "each_epoch"  reshuffled every epoch, reproducibly from the run's seed (the notes: "after
                  each epoch, there will be shuffle"; the project's default)
    "once"        shuffled once from the seed, then the same order, hence the same batches, every epoch
    "sorted"      sorted by class (within a class in a seeded random order), the same every epoch:
                  each batch holds one or two classes

The first two differ only from the second epoch on; "sorted" is the worst case of an
unshuffled data set whose examples come grouped by label.
"""

import numpy as np

ORDERS = ("each_epoch", "once", "sorted")

# first_epoch_order's TensorFlow orders: {(examples, (global seed, op seed)): order}, oldest first.
_TENSORFLOW_ORDERS = {}
_TENSORFLOW_ORDERS_KEPT = 64


def fixed_order(labels, order, seed):
    """The permutation every epoch uses for `order` "once" or "sorted"."""
    if order not in ("once", "sorted"):
        raise ValueError(f"shuffle must be 'once' or 'sorted' for a fixed order; got {order!r}")
    permutation = np.random.default_rng(seed).permutation(len(labels))
    if order == "sorted":
        permutation = permutation[np.argsort(np.asarray(labels)[permutation], kind="stable")]
    return permutation


def pipeline_options():
    """The tf.data options of the runner's pipelines (training and validation): autotuning off.

    Autotuning only sizes buffers and thread pools, never changes which examples a batch holds
    or their order. On these in-memory pipelines it has nothing to tune, and each iterator it
    watches costs at its end: on a 2-core CPU, deleting an iterator of digits' validation
    batches took 6-17 ms with it and under 0.5 ms without, and Keras makes and drops two
    training and one validation iterator per epoch.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def fixed_order_batches(dataset, batch_size, seed, order):
    """Mini-batches in the same order every epoch, as a tf.data pipeline (like training_batches)."""
    import tensorflow as tf

    permutation = fixed_order(dataset.y_train, order, seed)
    return (
        tf.data.Dataset.from_tensor_slices((dataset.x_train[permutation], dataset.y_train[permutation]))
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(pipeline_options())
    )


def first_epoch_order(dataset, seed, order, backend="tensorflow"):
    """The order of the training examples in a run's first epoch, by the recipe its pipeline uses
    (experiments/training.py): a run's data-order fingerprint, which paired arms must share."""
    if order != "each_epoch":
        return fixed_order(dataset.y_train, order, seed)
    num_train = len(dataset.y_train)
    if backend != "tensorflow":
        return np.random.default_rng(seed).permutation(num_train)  # training.ShuffledBatches
    import tensorflow as tf

    # The same op seed as training_batches' shuffle: with an explicit seed TensorFlow derives the
    # order from (global seed, op seed) alone and draws nothing from the global generator, so
    # the order is a function of those and the number of examples. Kept per process: the runs of
    # a sweep share a handful of seeds, and drawing the order cost ~10 ms per run.
    key = (num_train, tf.compat.v1.random.get_seed(seed))
    if key not in _TENSORFLOW_ORDERS:
        indices = tf.data.Dataset.range(num_train).shuffle(num_train, seed=seed, reshuffle_each_iteration=True)
        # One batch of the whole epoch: reading it element by element cost ~0.1 s per run.
        order = next(iter(indices.batch(num_train))).numpy()
        order.setflags(write=False)
        if len(_TENSORFLOW_ORDERS) >= _TENSORFLOW_ORDERS_KEPT:
            _TENSORFLOW_ORDERS.pop(next(iter(_TENSORFLOW_ORDERS)))
        _TENSORFLOW_ORDERS[key] = order
    return _TENSORFLOW_ORDERS[key]
