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

# shuffled_orders' orders: {(examples, (global seed, op seed)): [order of each epoch]}, least
# recently used first, at most KEPT_ORDERS_BYTES of them (but the last used).
KEPT_ORDERS = {}
KEPT_ORDERS_BYTES = 64 * 2**20


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
    (experiments/engine/training.py): a run's data-order fingerprint, which paired arms must share."""
    if order != "each_epoch":
        return fixed_order(dataset.y_train, order, seed)
    num_train = len(dataset.y_train)
    if backend != "tensorflow":
        return np.random.default_rng(seed).permutation(num_train)  # training.ShuffledBatches
    return shuffled_orders(num_train, seed, epochs=1)[0].numpy()


def shuffled_orders(num_train, seed, epochs):
    """The orders of `num_train` training examples in the first `epochs` epochs (at least) of a
    TensorFlow run with seed `seed` and shuffle "each_epoch", as int64 tensors: those of
    training.training_batches' pipeline as Keras's `fit` reads it. Call it with the run's global
    seed set (`keras.utils.set_random_seed(seed)`), as the run makes its pipeline.

    The pipeline's shuffle, of indices instead of examples: a shuffle's order depends on its
    seeds and buffer only. Each new iterator of the pipeline draws the next reshuffle, and
    Keras's epoch iterator makes one at the start of every epoch and another, never read, at
    its end (keras/src/trainers/epoch_iterator.py, `_enumerate_iterator`): epoch e reads pass
    2e. Batching a whole epoch into one element leaves the order as it is; `repeat` draws the
    same reshuffles as a new iterator per pass would, without the cost of making one. All
    passes are drawn at once, the iterator run to its end: an iterator left part-read stalled
    the next XLA run of the process when it was deleted (TF 2.21).

    With an explicit seed TensorFlow derives the orders from (global seed, op seed) alone and
    draws nothing from the global generator, so they are a function of those and the number of
    examples. Kept per process: the runs of a sweep share a handful of seeds.
    """
    import tensorflow as tf

    key = (num_train, tf.compat.v1.random.get_seed(seed))
    orders = KEPT_ORDERS.pop(key, [])
    if len(orders) < epochs:
        passes = (
            tf.data.Dataset.range(num_train)
            .shuffle(num_train, seed=seed, reshuffle_each_iteration=True)
            .batch(num_train)
            .repeat(2 * epochs)
            .with_options(pipeline_options())
        )
        orders = list(passes)[0::2]
    KEPT_ORDERS[key] = orders  # the most recently used last
    kept = sum(len(drawn) * 8 * examples for (examples, _), drawn in KEPT_ORDERS.items())
    while kept > KEPT_ORDERS_BYTES and len(KEPT_ORDERS) > 1:
        oldest = next(iter(KEPT_ORDERS))
        kept -= len(KEPT_ORDERS.pop(oldest)) * 8 * oldest[0]
    return orders
