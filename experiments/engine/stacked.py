"""Seeds in one graph: K seeds of one configuration trained as one stacked model.

Each Dense layer of the digits MLP (experiments/engine/models.py `build_mlp`) becomes one kernel of
shape `(K, in, out)` and one bias `(K, out)`; a step gathers each member's own batch,
`(K, B, features)`, and runs one batched matmul per layer. The loss is the sum over members of
each member's mean loss, so the gradient with respect to member k's weights is exactly the
gradient of member k's own loss. The project's optimizers (optimizers/) update every element
from its own gradient and slots only, so member k's update is the one its separate run makes:

```python
logits[k] = mlp(weights[k], x_train[rows[k]])                  # rows[k]: seed k's batch
loss = sum(mean(cross_entropy(y_train[rows[k]], logits[k])) for k in range(K))
grads = tape.gradient(loss, stacked_weights)                   # grads[..][k] = d loss_k / d weights[k]
optimizer.apply(grads, stacked_weights)                        # elementwise: member k's own update
```

What member k starts from and sees is what `training.train_run` gives seed k:
- initial weights: those `models.build_model(config with seed=seeds[k], dataset)` draws (each
  member's model is built, its weights stacked);
- data order: `training_batches`' tf.data shuffle for seed k, each epoch a fresh iteration of a
  pipeline made under seed k's global seed, so it reshuffles exactly as the separate run does
  (the fixed orders "once" and "sorted" come from experiments/data/shuffling.py);
- metrics: Keras's running means (loss and accuracy weighted by batch size), validation on
  batches of 1024 after each epoch, the final metrics of `training.final_metrics` and the
  validation halves of `training.validation_halves`;
- divergence: the rule of `callbacks.DivergenceGuard` as train_run configures it (running mean of
  the epoch's loss NaN, Inf or above `divergence_factor` times the member's initial loss on the
  probe batch), checked where Keras would call the guard: every `steps_per_execution` steps and
  at the epoch's last step. A member that trips it is masked (its gradients are zeroed from then
  on, its weights and metrics are those at the step that tripped it, its record says diverged);
  the others go on. Nothing of one member reaches another: every op is per member.

One `tf.function` runs the steps of an epoch (`jit_compile` setting: with XLA); it returns early
only when a member diverges, so an epoch is usually one call. Member records have train_run's
keys; time is shared: `wall_time_s` and `ms_per_update` are each member's share (the stacked
figure divided by K), the stacked totals are in `record["stacked"]`. No Keras callbacks run:
TensorBoard curves and metrics.jsonl are written per member from the history (`write_run`).

Batch normalization is stacked too: each member's batch statistics over its own batch, its own
moving statistics, Keras's formulas (`keras.ops.moments`, `tf.nn.batch_normalization`).

Refused, each with a message: another model than the MLP, another backend
than TensorFlow, `distribute`, `clipnorm` (a norm over the whole stacked kernel would mix
members), `divergence_rollback` (a per-run learning-rate change).
"""

import functools
import math
import os
import time

import keras
import numpy as np

from experiments.config.versions import package_versions
from experiments.data import shuffling
from experiments.engine import factory, fingerprints, models, outcomes, run_directory, training

VALIDATION_BATCH = 1024  # training.validation_batches' batch size


class NotStackable(ValueError):
    """The configuration cannot be trained as stacked seeds."""


def check_stackable(config, seeds):
    """Raises NotStackable naming the first setting the stacked path does not support."""
    seeds = list(seeds)
    if not seeds:
        raise NotStackable("train_stacked needs at least one seed; got none")
    if len(set(seeds)) != len(seeds):
        raise NotStackable(f"train_stacked needs distinct seeds; got {seeds}")
    refusals = (
        (config["model"] != "mlp", f"model={config['model']!r}: only the MLP is stacked"),
        (config["backend"] != "tensorflow", f"backend={config['backend']!r}: the stacked step is TensorFlow's"),
        (config["distribute"] != "none", f"distribute={config['distribute']!r}: one device only"),
        (config["clipnorm"] is not None, "clipnorm: a norm over a stacked kernel would mix the members"),
        (config["divergence_rollback"], "divergence_rollback=True: a rollback lowers one run's rate"),
    )
    for refused, why in refusals:
        if refused:
            raise NotStackable(f"cannot stack seeds: {why}")
    if keras.backend.backend() != "tensorflow":
        raise NotStackable(f"cannot stack seeds: this process runs Keras on {keras.backend.backend()!r}")


class MemberOrders:
    """Each member's order of the training examples, epoch by epoch, as its separate run sees it."""

    def __init__(self, dataset, seeds, shuffle, epochs):
        num_train = len(dataset.y_train)
        self._fixed = None
        if shuffle != "each_epoch":
            self._fixed = np.stack([shuffling.fixed_order(dataset.y_train, shuffle, s) for s in seeds])
            return
        per_member = []
        for seed in seeds:
            keras.utils.set_random_seed(seed)  # as train_run makes its pipeline
            orders = shuffling.shuffled_orders(num_train, seed, epochs)[:epochs]
            per_member.append([order.numpy().astype(np.int32) for order in orders])
        self._epochs = iter(np.stack(epoch_orders) for epoch_orders in zip(*per_member))

    def next_epoch(self):
        """(K, examples) int32: each member's order for the next epoch."""
        if self._fixed is not None:
            return self._fixed.astype(np.int32)
        return next(self._epochs)


class StackedMLP:
    """The members' MLPs as one model of stacked variables: `(K, in, out)` kernels, `(K, out)`
    biases; with batch normalization `(K, units)` scales, offsets and moving statistics, each
    member's batch statistics taken over its own batch (Keras's BatchNormalization, per member)."""

    def __init__(self, member_models):
        first = member_models[0]
        self.num_members = len(member_models)
        self.paths = [v.path for v in first.weights]  # model.get_weights() order
        stacked = {}
        for index, path in enumerate(self.paths):
            value = np.stack([keras.ops.convert_to_numpy(m.weights[index]) for m in member_models])
            trainable = first.weights[index].trainable
            stacked[path] = keras.Variable(value, name=path.replace("/", "_"), dtype="float32", trainable=trainable)
        self.stacked = stacked
        self.variables = [stacked[v.path] for v in first.trainable_weights]  # what the optimizer updates
        self.layers = []  # (kind, layer, its stacked variables)
        for layer in first.layers:
            own = {v.path.rsplit("/", 1)[1]: stacked[v.path] for v in layer.weights}
            if isinstance(layer, keras.layers.Dense):
                self.layers.append(("dense", layer, own))
            elif isinstance(layer, keras.layers.BatchNormalization):
                if layer.axis not in (-1, 1) or layer.renorm or not (layer.center and layer.scale):
                    raise NotStackable(f"cannot stack seeds: {layer.name} is not a plain BatchNormalization")
                self.layers.append(("batch_norm", layer, own))
            elif isinstance(layer, keras.layers.Activation):
                self.layers.append(("activation", layer, own))
            elif not isinstance(layer, keras.layers.InputLayer):
                raise NotStackable(f"cannot stack seeds: layer {layer.name} ({type(layer).__name__}) is not stacked")

    def logits(self, x, training=False):
        """x: (K, B, features), or (1, B, features) shared by every member; returns (K, B, classes).

        The classifier's softmax is left out: the loss takes the logits, as Keras's does from a
        softmax output (its cross-entropy reads the logits the softmax kept)."""
        import tensorflow as tf

        h = x
        for kind, layer, own in self.layers:
            if kind == "dense":
                h = tf.matmul(h, own["kernel"])
                if "bias" in own:
                    h = h + own["bias"][:, None, :]
                if layer is not self.layers[-1][1]:
                    h = layer.activation(h)  # linear in build_mlp's hidden layers
            elif kind == "activation":
                h = layer.activation(h)
            elif training:
                mean, variance = keras.ops.moments(h, axes=[1], keepdims=True)  # over each member's batch
                momentum = layer.momentum
                own["moving_mean"].assign(own["moving_mean"] * momentum + mean[:, 0] * (1.0 - momentum))
                own["moving_variance"].assign(own["moving_variance"] * momentum + variance[:, 0] * (1.0 - momentum))
                h = tf.nn.batch_normalization(
                    h, mean, variance, own["beta"][:, None, :], own["gamma"][:, None, :], layer.epsilon
                )
            else:
                mean, variance = own["moving_mean"][:, None, :], own["moving_variance"][:, None, :]
                h = tf.nn.batch_normalization(
                    h, mean, variance, own["beta"][:, None, :], own["gamma"][:, None, :], layer.epsilon
                )
        return h

    def numpy(self):
        """Every stacked weight as numpy, in `model.get_weights()` order."""
        return [keras.ops.convert_to_numpy(self.stacked[path]) for path in self.paths]

    def assign(self, values):
        """Sets every stacked weight from `values` (as `numpy()` gives them)."""
        for path, value in zip(self.paths, values):
            self.stacked[path].assign(value)

    def member_weights(self, values, k):
        """Member k's weights for `model.set_weights`, from `numpy()`'s `values`."""
        return [v[k] for v in values]


def _member_config(config, seed):
    return {**config, "seed": seed}


def train_stacked(config, seeds, run_dirs=None, verbose=0):
    """Trains `config` once per seed in `seeds`, all in one stacked model; one record per seed.

    Each record has train_run's keys (status, reason, metrics, history, fingerprint, ...) and
    `stacked` (members, seeds, the stacked wall time and ms per stacked update). With
    `run_dirs` (one per seed), each member's HParams, TensorBoard epoch curves and metrics.jsonl
    go to its own directory (the runner writes config.json and record.json).
    """
    import tensorflow as tf

    started = time.perf_counter()
    seeds = [int(s) for s in seeds]
    check_stackable(config, seeds)
    if run_dirs is not None and len(run_dirs) != len(seeds):
        raise ValueError(f"train_stacked needs one run directory per seed; got {len(run_dirs)} for {len(seeds)}")
    num_members = len(seeds)
    dataset = training.get_dataset(config)
    num_train = len(dataset.x_train)
    batch_size = num_train if config["batch_size"] == "full" else min(config["batch_size"], num_train)
    steps_per_epoch = math.ceil(num_train / batch_size)
    last_batch = num_train - (steps_per_epoch - 1) * batch_size
    check_every = config["steps_per_execution"]

    # Members: each built exactly as train_run builds it, measured before training.
    member_models, initial_losses, prints = [], [], []
    probe = (dataset.x_train[:batch_size], dataset.y_train[:batch_size])
    for seed in seeds:
        member = _member_config(config, seed)
        keras.utils.set_random_seed(seed)
        model = models.build_model(member, dataset)
        member_models.append(model)
        prints.append({"initial_weights": fingerprints.digest(model.get_weights())})
    net = StackedMLP(member_models)
    logits_of = tf.function(
        lambda x: net.logits(x[None]), input_signature=[tf.TensorSpec([None, dataset.num_features])]
    )
    # train_run's initial loss of each member, from one stacked pass over the probe batch.
    initial_losses = [training.initial_loss(view, probe) for view in _MemberViews(logits_of, num_members)]
    optimizer = factory.make_optimizer(config, steps_per_epoch)
    optimizer.build(net.variables)
    orders = MemberOrders(dataset, seeds, config["shuffle"], config["epochs"])
    first_orders = orders.next_epoch()
    for k, order in enumerate(first_orders):
        # fingerprints.of_run's data order (shuffling.first_epoch_order), from the order the
        # member trains on rather than from a second pass over its shuffle.
        prints[k]["data_order"] = fingerprints.digest([order.astype(np.int64)])

    x_train, y_train = tf.constant(dataset.x_train), tf.constant(dataset.y_train)
    thresholds = tf.constant(np.array(initial_losses, np.float32) * np.float32(config["divergence_factor"]))
    active = tf.Variable(tf.ones([num_members], tf.bool), trainable=False, name="active")
    totals = tf.Variable(tf.zeros([num_members]), trainable=False, name="loss_total")
    counts = tf.Variable(tf.zeros([]), trainable=False, name="count")
    corrects = tf.Variable(tf.zeros([num_members]), trainable=False, name="correct_total")

    def step(rows, masking):
        x, y = tf.gather(x_train, rows), tf.gather(y_train, rows)  # (K, B, features), (K, B)
        with tf.GradientTape() as tape:
            logits = net.logits(x, training=True)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int64), logits)
            member_losses = tf.reduce_mean(per_example, axis=1)  # Keras's sum over batch size
            loss = tf.reduce_sum(member_losses)
        grads = tape.gradient(loss, net.variables)
        if masking:  # traced once a member has diverged: its gradients are zero from then on
            grads = [tf.where(tf.reshape(active, [-1] + [1] * (len(g.shape) - 1)), g, tf.zeros_like(g)) for g in grads]
        optimizer.apply(grads, net.variables)
        size = tf.cast(tf.shape(rows)[1], tf.float32)
        predicted = tf.argmax(tf.nn.softmax(logits), axis=-1, output_type=tf.int32)
        totals.assign_add(member_losses * size)
        counts.assign_add(size)
        corrects.assign_add(tf.reduce_sum(tf.cast(predicted == y, tf.float32), axis=1))

    def run_steps(rows, done_before, masking):
        """Steps over rows (S, K, B) until one ends where the guard looks and a member trips it;
        returns (steps taken, the members it tripped)."""
        tripped = tf.zeros([num_members], tf.bool)
        taken = tf.constant(0)
        for i in tf.range(tf.shape(rows)[0]):
            step(rows[i], masking)
            taken = i + 1
            done = done_before + taken
            if done % check_every == 0 or done == steps_per_epoch:
                mean = totals / counts
                tripped = active & (tf.logical_not(tf.math.is_finite(mean)) | (mean > thresholds))
                if tf.reduce_any(tripped):
                    break
        return taken, tripped

    def evaluate(x, y):
        logits = net.logits(x[None])  # (1, B, features) broadcast against (K, features, units)
        labels = tf.broadcast_to(tf.cast(y, tf.int64)[None], tf.shape(logits)[:2])
        losses = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits), axis=1)
        predicted = tf.argmax(tf.nn.softmax(logits), axis=-1, output_type=tf.int32)
        return losses, tf.reduce_sum(tf.cast(predicted == y[None, :], tf.float32), axis=1)

    jit = bool(config["jit_compile"])
    # Without XLA one trace serves every batch size and number of steps (a full epoch and its
    # last batch). XLA gets one trace per shape: with the shapes left open, compiling for K = 32
    # members stalled here (TF 2.21). A second function masks the gradients of diverged members.
    signature = [tf.TensorSpec([None, num_members, None], tf.int32), tf.TensorSpec([], tf.int32)]
    evaluation_signature = [tf.TensorSpec([None, dataset.num_features]), tf.TensorSpec([None], tf.int32)]
    run_plain, run_masked = (
        tf.function(
            lambda rows, done, m=m: run_steps(rows, done, m),
            jit_compile=jit,
            input_signature=None if jit else signature,
            reduce_retracing=not jit,
        )
        for m in (False, True)
    )
    evaluate = tf.function(evaluate, jit_compile=jit, input_signature=None if jit else evaluation_signature)
    validation = [
        (tf.constant(dataset.x_val[i : i + VALIDATION_BATCH]), tf.constant(dataset.y_val[i : i + VALIDATION_BATCH]))
        for i in range(0, len(dataset.x_val), VALIDATION_BATCH)
    ]

    def validate():
        loss_sum, correct, seen = np.zeros(num_members), np.zeros(num_members), 0
        for x, y in validation:
            losses, hits = evaluate(x, y)
            size = int(x.shape[0])
            loss_sum += losses.numpy().astype(np.float64) * size
            correct += hits.numpy()
            seen += size
        return (loss_sum / seen).astype(np.float32), (correct / seen).astype(np.float32)

    history = [{"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []} for _ in seeds]
    divergences = [None] * num_members
    final_weights = [None] * num_members
    early = [{"step": [], "loss": []} for _ in seeds]
    previous_report = np.zeros(num_members), 0  # (running means, steps) at the last guard check
    epoch_seconds = []

    def report(done, stopped):
        """What Keras's callbacks see at a guard check: the running means; early steps recorded."""
        nonlocal previous_report
        means = (totals.numpy() / counts.numpy()).astype(np.float64)
        previous_means, previous_done = previous_report
        iteration = int(optimizer.iterations.numpy())
        for k in range(num_members):
            if divergences[k] is None and len(early[k]["loss"]) < config["record_steps"]:
                early[k]["step"].append(iteration)
                early[k]["loss"].append((done * means[k] - previous_done * previous_means[k]) / (done - previous_done))
        previous_report = means, done
        for k in np.flatnonzero(stopped):
            loss = float(np.float32(means[k]))
            batch = done - 1  # the guard's: the batch of the epoch that the group ended on
            divergences[k] = _divergence(loss, initial_losses[k], config, epoch, batch, iteration, optimizer)
            if verbose:
                print(f"seed {seeds[k]}: {divergences[k]['message']}")

    for epoch in range(config["epochs"]):
        if not active.numpy().any():
            break
        order = first_orders if epoch == 0 else orders.next_epoch()
        totals.assign(tf.zeros([num_members]))
        counts.assign(0.0)
        corrects.assign(tf.zeros([num_members]))
        previous_report = np.zeros(num_members), 0
        epoch_start = time.perf_counter()
        full = order[:, : (steps_per_epoch - 1) * batch_size].reshape(num_members, steps_per_epoch - 1, batch_size)
        chunks = [tf.constant(np.ascontiguousarray(full.transpose(1, 0, 2)))] if steps_per_epoch > 1 else []
        chunks.append(tf.constant(order[:, num_train - last_batch :][None]))
        done = 0
        for rows in chunks:
            while done < steps_per_epoch and int(rows.shape[0]) > 0:
                span = rows
                if any(len(e["loss"]) < config["record_steps"] for e in early):
                    span = rows[: check_every - done % check_every]  # stop at each check: its losses are recorded
                run = run_plain if active.numpy().all() else run_masked
                taken, tripped = run(span, tf.constant(done))
                taken, tripped = int(taken), tripped.numpy()
                rows = rows[taken:]
                previous_done = done
                done += taken
                checks = range(previous_done + 1, done + 1)
                if any(d % check_every == 0 or d == steps_per_epoch for d in checks):
                    report(done, tripped)
                if tripped.any():
                    values = net.numpy()
                    for k in np.flatnonzero(tripped):
                        final_weights[k] = net.member_weights(values, k)
                    active.assign(active.numpy() & ~tripped)
                    _close_epoch(history, tripped, totals, counts, corrects, validate())
                if not active.numpy().any():
                    break
            if not active.numpy().any():
                break
        epoch_seconds.append(time.perf_counter() - epoch_start)
        _close_epoch(history, active.numpy(), totals, counts, corrects, validate() if active.numpy().any() else None)
        if verbose:
            print(
                f"epoch {epoch + 1}/{config['epochs']}: "
                + ", ".join(f"{h['val_accuracy'][-1]:.3f}" if h["val_accuracy"] else "-" for h in history)
            )

    values = net.numpy()
    for k, weights in enumerate(final_weights):
        for value, weight in zip(values, weights or ()):
            value[k] = weight  # a diverged member: the weights its guard stopped it at
    net.assign(values)
    views = _MemberViews(logits_of, num_members)
    timer = _Timer([s / num_members for s in epoch_seconds])
    stacked_timer = _Timer(epoch_seconds)
    wall = time.perf_counter() - started
    records = []
    for k, seed in enumerate(seeds):
        member = _member_config(config, seed)
        halves = training.validation_halves(views[k], dataset)  # the members' probabilities, stacked
        metrics = {**training.final_metrics(history[k], timer, steps_per_epoch, batch_size), **halves}
        stacked_ms = training.final_metrics(history[k], stacked_timer, steps_per_epoch, batch_size)["ms_per_update"]
        diverged = divergences[k]
        record = {
            "status": "diverged" if diverged else "ok",
            "reason": diverged["message"] if diverged else "",
            "dataset": dataset.name,
            "metrics": metrics,
            "epochs_completed": len(history[k]["loss"]),
            "history": {name: [float(v) for v in values_] for name, values_ in history[k].items()},
            "wall_time_s": wall / num_members,
            "reused_compiled_model": False,
            "versions": package_versions(),
            "replicas": 1,
            "initial_loss": initial_losses[k],
            "fingerprint": prints[k],
            "stacked": {
                "members": num_members,
                "seeds": seeds,
                "member": k,
                "wall_time_s": wall,
                "ms_per_stacked_update": stacked_ms,
                "jit_compile": jit,
            },
        }
        if diverged:
            record["divergence"] = diverged
        if early[k]["loss"]:
            record["early_steps"] = early[k]
        if run_dirs is not None:
            write_run(run_dirs[k], member, record)
        records.append(record)
    return records


class _MemberViews:
    """Member k as a model for `training.initial_loss` and `training.validation_halves`: calling
    `views[k](x)` gives member k's probabilities on `x` as its model's softmax layer gives them
    (`keras.activations.softmax`, which keeps the logits for Keras's cross-entropy), the logits
    of all members computed in one stacked pass (`logits_of`, x (B, features) -> (K, B, classes))
    and kept for the other members' calls."""

    def __init__(self, logits_of, num_members):
        self._logits_of, self._cache = logits_of, {}
        self._views = [functools.partial(self._member, k) for k in range(num_members)]

    def __getitem__(self, k):
        return self._views[k]

    def __iter__(self):
        return iter(self._views)

    def _member(self, k, x, training=False):
        x = np.ascontiguousarray(x, dtype=np.float32)
        key = (x.shape, x.tobytes())
        if key not in self._cache:
            if len(self._cache) >= 4:  # the members ask for the same few inputs in turn
                self._cache.clear()
            self._cache[key] = self._logits_of(x)
        return keras.activations.softmax(self._cache[key][k])


class _Timer:
    def __init__(self, epoch_seconds):
        self.epoch_seconds = list(epoch_seconds)


def _close_epoch(history, which, totals, counts, corrects, validation):
    """Appends the epoch's running metrics (and validation) for the members in `which`."""
    loss = totals.numpy() / counts.numpy()
    accuracy = corrects.numpy() / counts.numpy()
    for k in np.flatnonzero(which):
        history[k]["loss"].append(float(loss[k]))
        history[k]["accuracy"].append(float(accuracy[k]))
        history[k]["val_loss"].append(float(validation[0][k]) if validation else math.nan)
        history[k]["val_accuracy"].append(float(validation[1][k]) if validation else math.nan)


def _divergence(loss, initial_loss, config, epoch, batch, step, optimizer):
    """The record DivergenceGuard keeps, for a member that tripped its rule at `step`."""
    from optimizers.introspection import applied_learning_rate

    ratio = config["divergence_factor"]
    if math.isnan(loss):
        reason, what = "loss_nan", f"loss is {loss}"
    elif math.isinf(loss):
        reason, what = "loss_inf", f"loss is {loss}"
    else:
        reason, what = "loss_growth", f"loss {loss:.4g} > max_loss_ratio={ratio:g} x initial loss {initial_loss:.4g}"
    return {
        "reason": reason,
        "message": f"Diverged at step {step} (epoch {epoch}, batch {batch}): {what}.",
        "step": step,
        "epoch": epoch,
        "batch": batch,
        "loss": loss,
        "reference_loss": initial_loss,
        "max_loss_ratio": ratio,
        "learning_rate": applied_learning_rate(optimizer, step),
        "gradient_norm": None,
        "gradient_norm_step": None,
        "rollbacks": [],
    }


def write_run(run_dir, config, record):
    """A member's run directory as train_run leaves it (HParams, TensorBoard epoch curves,
    metrics.jsonl); config.json and record.json are the runner's to write."""
    import tensorflow as tf

    os.makedirs(run_dir, exist_ok=True)
    history = record["history"]
    with tf.summary.create_file_writer(os.path.join(run_dir, "train")).as_default():
        for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"])):
            tf.summary.scalar("epoch_loss", loss, step=epoch)
            tf.summary.scalar("epoch_accuracy", accuracy, step=epoch)
    with tf.summary.create_file_writer(os.path.join(run_dir, "validation")).as_default():
        for epoch, (loss, accuracy) in enumerate(zip(history["val_loss"], history["val_accuracy"])):
            tf.summary.scalar("epoch_loss", loss, step=epoch)
            tf.summary.scalar("epoch_accuracy", accuracy, step=epoch)
    from experiments.outputs import files

    with open(os.path.join(run_dir, run_directory.METRICS_FILE), "w") as f:
        for epoch in range(len(history["loss"])):
            row = {"epoch": epoch, **{name: values[epoch] for name, values in history.items() if epoch < len(values)}}
            f.write(files.dumps_strict(row, indent=None) + "\n")
    training.write_hparams(
        run_dir, {**config, "outcome": outcomes.classify({**record, "config": config})[0]}, record["metrics"]
    )
