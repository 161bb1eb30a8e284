"""Stacked models and their compiled steps, kept per process and reused across groups of seeds.

Tracing a stacked model's step costs about what a whole group of digits runs trains for; the
runs of a sweep come in many groups that share an architecture and an optimizer. So, like the
compiled models of single runs (experiments/engine/compiled_models.py), a process keeps one
`StackedGroup` per `(compiled_key, K)`: the runs its key admits share one traced graph. The data,
the members' batches and the step counts are the compiled functions' arguments (one trace serves
every batch size and data set size without XLA; with XLA one trace per shape, kept too), the
learning rate and the held hyperparameters are variables (`compiled_models.reset_optimizer`).

Between groups it is reset to exactly what fresh members start from: each member's weights those
`models.build_model` draws for its seed (built once per seed and kept), the optimizer's variables
back to their values after `build`, the group's metrics and its mask of active members cleared.
"""

import collections
import json

import numpy as np

from experiments.engine import compiled_models, factory, fingerprints, models
from experiments.engine.stacked.network import MemberViews, StackedMLP

CAPACITY = 16  # stacked models a process keeps (a digits MLP of K = 10: ~1 MB with its slots)
SEEDS_KEPT = 256  # members' initial weights a process keeps, by architecture and seed (~0.1 MB each)
# What `models.build_model` reads of a config besides the seed (and the data set's shapes): runs
# that agree on these start from the same weights for the same seed, whatever their optimizer.
ARCHITECTURE_SETTINGS = ("dataset", "model", "width", "depth", "activation", "batch_norm", "initializer")
_STARTS = collections.OrderedDict()  # (architecture, seed) -> (initial weights, their digest)


def group_key(config, num_members):
    """Groups with equal keys can share one stacked model."""
    return json.dumps([compiled_models.compiled_key(config), num_members])


class StackedGroup:
    """A stacked model of `num_members` members, its optimizer and its compiled functions."""

    def __init__(self, config, num_members, dataset, steps_per_epoch, keep_starts=True):
        import tensorflow as tf

        compiled_models.seed_run(config, reusing_models=True)
        self.template = models.build_model(config, dataset)  # its layers are the stacked model's
        self.num_members = num_members
        self.net = StackedMLP(self.template, num_members)
        self.optimizer = factory.make_optimizer(config, steps_per_epoch)
        self.optimizer.build(self.net.variables)
        self.optimizer_variables = list(self.optimizer.variables)
        self.initial_optimizer_values = [v.numpy().copy() for v in self.optimizer_variables]
        self.active = tf.Variable(tf.ones([num_members], tf.bool), trainable=False, name="active")
        self.totals = tf.Variable(tf.zeros([num_members]), trainable=False, name="loss_total")
        self.counts = tf.Variable(tf.zeros([]), trainable=False, name="count")
        self.corrects = tf.Variable(tf.zeros([num_members]), trainable=False, name="correct_total")
        self.jit = bool(config["jit_compile"])
        self.keep_starts = keep_starts
        self._compile(dataset)

    def _compile(self, dataset):
        import tensorflow as tf

        net, optimizer, active = self.net, self.optimizer, self.active
        totals, counts, corrects = self.totals, self.counts, self.corrects

        def step(x_train, y_train, rows, masking):
            x, y = tf.gather(x_train, rows), tf.gather(y_train, rows)  # (K, B, features), (K, B)
            with tf.GradientTape() as tape:
                logits = net.logits(x, training=True)
                per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int64), logits)
                member_losses = tf.reduce_mean(per_example, axis=1)  # Keras's sum over batch size
                loss = tf.reduce_sum(member_losses)
            grads = tape.gradient(loss, net.variables)
            if masking:  # traced once a member has stopped: its gradients are zero from then on
                grads = [tf.where(tf.reshape(active, [-1] + [1] * (len(g.shape) - 1)), g, tf.zeros_like(g)) for g in grads]
            optimizer.apply(grads, net.variables)
            size = tf.cast(tf.shape(rows)[1], tf.float32)
            predicted = tf.argmax(tf.nn.softmax(logits), axis=-1, output_type=tf.int32)
            hits = tf.reduce_sum(tf.cast(predicted == tf.cast(y, tf.int32), tf.float32), axis=1)
            return tf.group(totals.assign_add(member_losses * size), counts.assign_add(size), corrects.assign_add(hits))

        def run_steps(x_train, y_train, rows, masking):
            """One step per row of `rows` (S, K, B); the members' running loss and accuracy."""
            def body(i):
                with tf.control_dependencies([step(x_train, y_train, rows[i], masking)]):
                    return i + 1

            done = tf.while_loop(lambda i: i < tf.shape(rows)[0], body, [tf.constant(0)])
            with tf.control_dependencies([done]):
                return totals / counts, corrects / counts

        def evaluate(x, y):
            logits = net.logits(x[None])  # (1, B, features) broadcast against (K, features, units)
            labels = tf.broadcast_to(tf.cast(y, tf.int64)[None], tf.shape(logits)[:2])
            losses = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits), axis=1)
            predicted = tf.argmax(tf.nn.softmax(logits), axis=-1, output_type=tf.int32)
            return losses, tf.reduce_sum(tf.cast(predicted == tf.cast(y, tf.int32)[None, :], tf.float32), axis=1)

        features = dataset.num_features
        x_spec = tf.TensorSpec([None, features], tf.as_dtype(dataset.x_train.dtype))
        y_spec = tf.TensorSpec([None], tf.as_dtype(dataset.y_train.dtype))
        # Without XLA one trace serves every batch size and number of steps. XLA compiles the
        # whole loop, once per shape of `rows` (kept with the group): per step 2-5x faster than
        # the loop without it, each compilation 2-4 s (benchmarks/stacked_end_to_end.py). With
        # the shapes left open, compiling for K = 32 members stalled (TF 2.21).
        signature = [x_spec, y_spec, tf.TensorSpec([None, self.num_members, None], tf.int32)]
        self._run = {
            masking: tf.function(
                lambda x, y, rows, m=masking: run_steps(x, y, rows, m),
                jit_compile=self.jit,
                input_signature=None if self.jit else signature,
                reduce_retracing=not self.jit,
                autograph=False,  # its conversion took most of a trace's time
            )
            for masking in (False, True)
        }
        self._evaluate = tf.function(evaluate, input_signature=[x_spec, y_spec], autograph=False)
        self._logits_of = tf.function(
            lambda x: net.logits(x[None]), input_signature=[tf.TensorSpec([None, features])], autograph=False
        )
        self._reset_metrics = tf.function(
            lambda: (totals.assign(tf.zeros_like(totals)), counts.assign(0.0), corrects.assign(tf.zeros_like(corrects)))
        )

    def start_of(self, config, seed, dataset):
        """`(weights, digest)`: what `models.build_model` draws for `seed`, built once per
        architecture and seed in this process and kept."""
        return start_of(config, seed, dataset, kept=self.keep_starts)

    def reset(self, member_weights, learning_rate, held_values):
        """Fresh members: their initial weights, the optimizer as after `build` with the group's
        learning rate and held hyperparameters, every member active, the metrics cleared."""
        self.net.assign_members(member_weights)
        compiled_models.reset_optimizer(
            self.optimizer, self.optimizer_variables, self.initial_optimizer_values, learning_rate, held_values
        )
        self.active.assign(np.ones(self.num_members, bool))
        self.reset_metrics()

    def reset_metrics(self):
        self._reset_metrics()

    def train(self, x, y, rows, masking):
        """Trains every member on its rows (S, K, B int32); (K,) running loss and accuracy."""
        losses, accuracies = self._run[bool(masking)](x, y, rows)
        return losses.numpy(), accuracies.numpy()

    def deactivate(self, members):
        active = self.active.numpy()
        active[list(members)] = False
        self.active.assign(active)

    def validate(self, batches):
        """Each member's loss and accuracy on the validation `batches` ((x, y) tensors)."""
        loss_sum, correct, seen = np.zeros(self.num_members), np.zeros(self.num_members), 0
        for x, y in batches:
            losses, hits = self._evaluate(x, y)
            size = int(x.shape[0])
            loss_sum += losses.numpy().astype(np.float64) * size
            correct += hits.numpy()
            seen += size
        return (loss_sum / seen).astype(np.float32), (correct / seen).astype(np.float32)

    def views(self):
        """Each member as a model (`network.MemberViews`), at the stacked weights of now."""
        return MemberViews(self._logits_of, self.num_members)


def start_of(config, seed, dataset, kept=True):
    """`(weights, digest)`: what `models.build_model` draws for `config` with `seed`; `kept`: by
    architecture (`ARCHITECTURE_SETTINGS`) and seed, once per process."""
    key = (json.dumps([config[name] for name in ARCHITECTURE_SETTINGS]), seed)
    if kept and key in _STARTS:
        _STARTS.move_to_end(key)
        return _STARTS[key]
    member = {**config, "seed": seed}
    compiled_models.seed_run(member, reusing_models=True)
    weights = [np.array(w) for w in models.build_model(member, dataset).get_weights()]
    if not kept:
        return weights, fingerprints.digest(weights)
    _STARTS[key] = weights, fingerprints.digest(weights)
    while len(_STARTS) > SEEDS_KEPT:
        _STARTS.popitem(last=False)
    return _STARTS[key]


class StackedModels:
    """Up to `capacity` stacked models of this process, least recently used dropped first."""

    def __init__(self, capacity=CAPACITY, keep_starts=True):
        self.capacity, self.keep_starts = capacity, keep_starts
        self._entries = collections.OrderedDict()
        self.hits = self.misses = 0

    def acquire(self, config, seeds, dataset, steps_per_epoch):
        """The group to train `config`'s `seeds` with, reset to fresh members; whether it was reused."""
        key = group_key(config, len(seeds))
        group = self._entries.pop(key, None)
        reused = group is not None
        if reused:
            self.hits += 1
        else:
            self.misses += 1
            group = StackedGroup(config, len(seeds), dataset, steps_per_epoch, self.keep_starts)
        starts = [group.start_of(config, seed, dataset)[0] for seed in seeds]
        rate = factory.make_learning_rate(config, steps_per_epoch)
        group.reset(starts, rate, compiled_models.held_hyperparameters(config))
        self._entries[key] = group
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return group, reused

    def clear(self):
        self._entries.clear()


def fresh_groups():
    """A cache that keeps nothing: every group a new stacked model, its members built anew
    (`--no-model-reuse`)."""
    return StackedModels(capacity=0, keep_starts=False)
