"""The runner's training loop on TensorFlow's default strategy: Keras's own train step and
callback protocol, without `fit`'s per-run and per-epoch machinery.

`fit` wraps the training data in an epoch iterator (a data adapter, a distributed data set, two
new tf.data iterators per epoch, one of them never read) and feeds the compiled train function
from it; tf.data's per-step `get_next` costs as much as a tenth of a small step. Without them
a reused 10-epoch digits run takes 170 ms instead of 219, its steps 109 instead of 166
(benchmarks/run_profile.py). Here each call of the compiled function runs up to `steps_per_execution` steps of
`model.train_step` in a `tf.while_loop`, each on the rows of the epoch's order that its step
owns, gathered from the training set held as tensors. The orders are those in which `fit`
read the runner's pipeline (`training.training_batches`; experiments/data/shuffling.py): the same
batches reach the same traced step, so the numbers are `fit`'s, bit for bit
(tests/test_epoch_loop.py).

The callbacks see what `fit` shows them: `on_train_begin`, per epoch `on_epoch_begin`, per call
`on_train_batch_begin(first step)` and `on_train_batch_end(last step, logs)`, `on_epoch_end` with
the epoch's metrics, `on_train_end`; `model.stop_training` ends the run after the call that set
it; a callback that retraces the train function (`model.make_train_function(force=True)`, to
change a hyperparameter the step holds as a constant) gets new compiled steps from the next
call on. A `keras.callbacks.History` is added, as `fit` does.

The compiled function of a model is made once per compilation and kept while the model lives
(the runner reuses compiled models, experiments/engine/compiled_models.py); data, order, batch size and step
range are its arguments, so one trace serves every run of the model.
"""

import weakref

import keras

from experiments.data import shuffling

# model -> (weak reference to the train function it was made for, _Compiled)
_COMPILED = weakref.WeakKeyDictionary()


class _Compiled:
    """A model's compiled steps and metric reset, made for one compilation."""

    def __init__(self, model):
        import tensorflow as tf

        model_ref = weakref.ref(model)  # the cache must not keep the model alive

        def one_step(x, y):
            model = model_ref()
            return model.distribute_strategy.run(model.train_step, args=((x, y),))

        # As Keras's train function: the step its own function (with XLA where the model asks
        # for it), called from a loop that is not compiled by XLA.
        one_step = tf.function(one_step, reduce_retracing=True, jit_compile=model.jit_compile, autograph=False)

        def steps(x, y, order, batch_size, first_step, num_steps):
            def batch(step):
                rows = order[step * batch_size : (step + 1) * batch_size]
                return tf.gather(x, rows), tf.gather(y, rows)

            logs = one_step(*batch(first_step))
            _, logs = tf.while_loop(
                lambda done, logs: done < num_steps,
                lambda done, logs: (done + 1, one_step(*batch(first_step + done))),
                (tf.constant(1, dtype=num_steps.dtype), logs),
            )
            return logs

        self.steps = tf.function(steps, reduce_retracing=True, autograph=False)
        # Keras's reset of the compiled metrics, in one call: eagerly, each of its variable
        # assignments is a call of its own (~1 ms per epoch on a digits MLP).
        self.reset_metrics = tf.function(lambda: model_ref().reset_metrics(), autograph=False)


def _compiled(model):
    # Compiling resets `model.train_function`: functions made for an earlier compilation would
    # train with the earlier optimizer and metrics.
    model.make_train_function()  # Keras's, never called here: it marks the compilation
    train_function = model.train_function
    made_for, compiled = _COMPILED.get(model, (None, None))
    if compiled is None or made_for() is not train_function:
        compiled = _Compiled(model)
        _COMPILED[model] = (weakref.ref(train_function), compiled)
    return compiled


def compiled_steps(model):
    """`steps(x, y, order, batch_size, first_step, num_steps)`: that many train steps, step s on
    the examples `order[s * batch_size : (s + 1) * batch_size]`; returns the last step's logs.
    Made once per compilation of `model`."""
    return _compiled(model).steps


def compiled_metric_reset(model):
    """`reset()`: `model.reset_metrics()` as one compiled call."""
    return _compiled(model).reset_metrics


def build_training_state(model, x, y):
    """Creates the compiled metrics' and the optimizer's variables now, eagerly, from a batch
    `x`, `y` of examples (two will do); nothing where they exist.

    The compiled steps cannot create them (they are traced inside a loop). `fit` creates them
    in its symbolic build, reading a batch from its data, hence a reshuffle from a shuffled
    pipeline; without a distribution strategy its train function's first trace creates them,
    and TensorFlow traces a function that created variables a second time: ~0.25 s more per
    new model on a digits MLP. The variables start at the same values either way.
    """
    unbuilt = [metric for metric in model.metrics if getattr(metric, "built", True) is False]
    if unbuilt:  # the loss tracker (always built) and the compiled metrics
        predictions = model(x, training=False)
        for metric in unbuilt:
            metric.build(y, predictions)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def epoch_orders(dataset, seed, shuffle, epochs):
    """The order of the training examples in each of the first `epochs` epochs, as
    `training.training_batches(dataset, batch_size, seed, shuffle)` gives them to Keras's `fit`
    (its batches are consecutive runs of the order): int64 tensors. Call it with the run's
    global seed set, as the run makes its pipeline."""
    import tensorflow as tf

    if shuffle != "each_epoch":
        return [tf.constant(shuffling.fixed_order(dataset.y_train, shuffle, seed))] * epochs
    return shuffling.shuffled_orders(len(dataset.y_train), seed, epochs)


def fit(model, x, y, orders, batch_size, epochs, callbacks=(), verbose=0):
    """Trains `model` for `epochs` epochs on the tensors `x`, `y`, epoch e in the order
    `orders[e]` (a permutation of the examples), calling `callbacks` as `model.fit` would;
    returns the `History`."""
    import tensorflow as tf

    num_train = int(x.shape[0])
    if num_train == 0 or batch_size < 1:
        raise ValueError(
            f"need training examples and batch_size >= 1; got {num_train} examples, batch_size={batch_size}"
        )
    steps_per_epoch = -(-num_train // batch_size)
    per_call = model.steps_per_execution
    callback_list = keras.callbacks.CallbackList(
        list(callbacks),
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
        model=model,
    )
    build_training_state(model, x[:2], y[:2])
    # Before the callbacks start, as fit makes its train function: callbacks key what they
    # compile for the model on `model.train_function` (experiments/engine/validation_pass.py).
    compiled_steps(model)
    size = tf.constant(batch_size, tf.int64)
    model.stop_training = False
    callback_list.on_train_begin()
    epoch_logs = None
    for epoch in range(epochs):
        compiled_metric_reset(model)()
        callback_list.on_epoch_begin(epoch)
        for first in range(0, steps_per_epoch, per_call):
            count = min(per_call, steps_per_epoch - first)
            callback_list.on_train_batch_begin(first)
            # Looked up per call, as fit calls `model.train_function`: a callback may have
            # retraced it (`make_train_function(force=True)`) to change a traced constant.
            steps = compiled_steps(model)
            logs = steps(x, y, orders[epoch], size, tf.constant(first, tf.int64), tf.constant(count, tf.int64))
            callback_list.on_train_batch_end(first + count - 1, logs)
            if model.stop_training:
                break
        # The last call's logs are the compiled metrics' results after the epoch's last step.
        epoch_logs = dict(logs)
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    if epochs > 0:
        model.optimizer.finalize_variable_values(model.trainable_weights)
    callback_list.on_train_end(logs=epoch_logs)
    return model.history
