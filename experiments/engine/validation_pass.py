"""The runner's validation pass: `val_loss` and `val_accuracy` after every epoch in one compiled call.

Keras's `fit(validation_data=...)` validates through `evaluate`: a new iterator, metric resets,
a compiled test function around its `steps_per_execution` loop, the results read one by one.
On a digits MLP that is ~3 ms of Python per epoch against ~1.3 ms of computation, and ~0.2 s to
trace for every new model, a quarter of a cache miss (benchmarks/run_profile.py). This pass
computes the same numbers, bit for bit (tests/test_validation_pass.py compares them with
`model.evaluate`), from the validation set held as tensors:

- the same batches (1024 examples, in order), each through `model(x, training=False)`;
- each batch's loss from `model.compute_loss`, Keras's test step's own call (the compiled loss
  plus the model's regularization losses);
- Keras's running means in float32: each batch's loss weighted by its size, then divided by
  the number of examples; accuracy as the sum of matches over the number of examples.

The compiled function of a model is made once per compilation and kept while the model lives
(the runner reuses compiled models across runs, experiments/engine/compiled_models.py); the data are its
arguments, not captured constants. TensorFlow only, on its default strategy: elsewhere the
runner gives the validation data to `fit`.
"""

import weakref

import keras

BATCH_SIZE = 1024  # training.validation_batches' batch size: the same batches, the same sums

# model -> (weak reference to the train function it was made for, compiled measure)
_MEASURES = weakref.WeakKeyDictionary()


def _measure_for(model):
    import tensorflow as tf

    train_function = getattr(model, "train_function", None)
    made_for, measure = _MEASURES.get(model, (None, None))
    if measure is not None and train_function is not None and made_for() is train_function:
        return measure
    model_ref = weakref.ref(model)  # the cache must not keep the model alive

    def measure(x, y):
        model = model_ref()
        loss_total = accuracy_total = count = tf.zeros((), tf.float32)
        probabilities = []
        for start in range(0, x.shape[0], BATCH_SIZE):  # static shapes: the batches unroll
            x_batch, y_batch = x[start : start + BATCH_SIZE], y[start : start + BATCH_SIZE]
            y_pred = model(x_batch, training=False)
            loss = model.compute_loss(x=x_batch, y=y_batch, y_pred=y_pred, training=False)
            size = tf.cast(tf.shape(x_batch)[0], tf.float32)
            # Keras's Mean: total += value * weight, count += weight (the loss tracker's weight
            # is the batch size); accuracy's weight is 1 per example.
            loss_total += tf.cast(loss, tf.float32) * size
            accuracy_total += tf.reduce_sum(keras.metrics.sparse_categorical_accuracy(y_batch, y_pred))
            count += size
            probabilities.append(y_pred)
        return (
            tf.math.divide_no_nan(loss_total, count),
            tf.math.divide_no_nan(accuracy_total, count),
            tf.concat(probabilities, axis=0) if probabilities else tf.zeros((0, 0)),
        )

    measure = tf.function(measure, autograph=False)
    if train_function is not None:
        _MEASURES[model] = (weakref.ref(train_function), measure)
    return measure


def evaluate(model, x, y, measure=None):
    """`(loss, accuracy, probabilities)`: the first two as Keras's `evaluate` gives them on
    batches of 1024, as floats; the model's outputs on every example as a numpy array."""
    loss, accuracy, probabilities = (measure or _measure_for(model))(x, y)
    return float(loss), float(accuracy), probabilities.numpy()


class ValidationPass(keras.callbacks.Callback):
    """Adds `val_loss` and `val_accuracy` to each epoch's logs, as `fit(validation_data=(x, y))`
    would. Put it before the callbacks that read them (it runs at epoch end, where Keras's
    validation would already be in the logs); `fit` then gets no validation data.

    Args:
        x, y: The validation examples and integer labels, TensorFlow tensors.
    """

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def on_train_begin(self, logs=None):
        # Looked up once per fit, with the train function fit made for this compilation.
        self._measure = _measure_for(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        loss, accuracy, _ = evaluate(self.model, self.x, self.y, self._measure)
        values = {"loss": loss, "accuracy": accuracy}
        # In the order of the training logs, as Keras's evaluate gives them.
        for name in [*(n for n in logs if n in values), *(n for n in values if n not in logs)]:
            logs[f"val_{name}"] = values[name]
