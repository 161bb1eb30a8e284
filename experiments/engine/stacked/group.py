"""`train_stacked`: K seeds of one configuration trained as one stacked model; one record per seed."""

import math
import time

import numpy as np

from experiments.engine import fingerprints, pipeline, training, validation_pass
from experiments.engine.stacked.compiled import StackedModels
from experiments.engine.stacked.members import Member, MemberModel, member_callbacks, member_orders, member_record
from experiments.engine.stacked.network import check_stackable

# This process's stacked models, reused across groups (experiments/engine/stacked/compiled.py).
STACKED_MODELS = StackedModels()


def train_stacked(config, seeds, run_dirs=None, verbose=0, callbacks=None, cache=None):
    """Trains `config` once per seed in `seeds`, all in one stacked model; one record per seed.

    Each record has train_run's keys (status, reason, metrics, history, fingerprint, ...) and
    `stacked` (members, seeds, the stacked wall time and ms per stacked update). `callbacks`
    (as train_run's: `callbacks(config, run_dir, probe, start_loss)` -> Keras callbacks, called
    per member) defaults to `members.member_callbacks`; with `run_dirs` (one per seed) each
    member's callbacks and HParams write into its own directory. `cache`: the StackedModels to
    take the stacked model from (default: this process's).
    """
    started = time.perf_counter()
    seeds = [int(s) for s in seeds]
    check_stackable(config, seeds)
    if run_dirs is not None and len(run_dirs) != len(seeds):
        raise ValueError(f"train_stacked needs one run directory per seed; got {len(run_dirs)} for {len(seeds)}")
    dataset = pipeline.get_dataset(config)
    num_train = len(dataset.x_train)
    batch_size = num_train if config["batch_size"] == "full" else min(config["batch_size"], num_train)
    shape = (batch_size, math.ceil(num_train / batch_size))
    group, reused = (STACKED_MODELS if cache is None else cache).acquire(config, seeds, dataset, shape[1])
    orders = member_orders(config, dataset, seeds)
    probe = (dataset.x_train[:batch_size], dataset.y_train[:batch_size])
    views = group.views()
    make = callbacks or member_callbacks
    params = {"verbose": verbose, "epochs": config["epochs"], "steps": shape[1]}
    members = []
    for k, seed in enumerate(seeds):
        member_config = {**config, "seed": seed}
        run_dir = None if run_dirs is None else run_dirs[k]
        model = MemberModel(group.optimizer, config["steps_per_execution"])
        made = make(member_config, run_dir, probe, training.initial_loss(views[k], probe))
        members.append(Member(k, member_config, run_dir, made, model, params))
    prints = [
        {"initial_weights": group.start_of(config, seed, dataset)[1], "data_order": fingerprints.digest([order])}
        for seed, order in zip(seeds, orders[0].astype(np.int64))
    ]
    epoch_seconds = train_members(group, members, orders, dataset, shape, config)
    values = group.net.numpy()
    for member in members:
        for value, weight in zip(values, member.final_weights or ()):
            value[member.index] = weight  # a stopped member: the weights its guard stopped it at
    group.net.assign(values)
    views = group.views()
    stacked = {
        "members": len(seeds),
        "seeds": seeds,
        "wall_time_s": time.perf_counter() - started,
        "jit_compile": group.jit,
        "reused": reused,
    }
    return [
        member_record(
            member, dataset, shape, epoch_seconds, training.validation_halves(views[k], dataset), prints[k], stacked
        )
        for k, member in enumerate(members)
    ]


def _epoch_rows(order, batch_size, steps_per_epoch):
    """`rows(first, count)`: the (S, K, B) int32 arrays of steps first..first+count-1 of an epoch
    in `order` (K, examples): the full batches, then the shorter last batch in one of its own."""
    num_members, num_train = order.shape
    full_steps = num_train // batch_size
    full = order[:, : full_steps * batch_size].reshape(num_members, full_steps, batch_size).transpose(1, 0, 2)
    last = order[:, full_steps * batch_size :][None]

    def rows(first, count):
        parts = []
        if first < full_steps:
            parts.append(np.ascontiguousarray(full[first : min(first + count, full_steps)]))
        if first + count > full_steps and last.shape[2]:
            parts.append(np.ascontiguousarray(last))
        return parts

    return rows


def train_members(group, members, orders, dataset, shape, config):
    """The epochs: each call of the compiled steps runs `steps_per_execution` steps of every
    active member, then each member's callbacks see its logs as its separate run's do; a member
    its guard stops is masked from then on. Returns the stacked training time of each epoch."""
    import tensorflow as tf

    batch_size, steps_per_epoch = shape
    per_call = config["steps_per_execution"]
    x, y = pipeline.training_tensors(dataset)
    x_val, y_val = pipeline.validation_tensors(dataset)
    size = validation_pass.BATCH_SIZE
    validation = [(x_val[i : i + size], y_val[i : i + size]) for i in range(0, int(x_val.shape[0]), size)]
    for member in members:
        member.call("on_train_begin")
    epoch_seconds = []
    for epoch in range(config["epochs"]):
        active = [m for m in members if m.active]
        if not active:
            break
        rows = _epoch_rows(orders[epoch], batch_size, steps_per_epoch)
        group.reset_metrics()
        for member in active:
            member.call("on_epoch_begin", epoch)
        start = time.perf_counter()
        for first in range(0, steps_per_epoch, per_call):
            count = min(per_call, steps_per_epoch - first)
            for member in active:
                member.call("on_train_batch_begin", first)
            for part in rows(first, count):
                losses, accuracies = group.train(x, y, tf.constant(part), masking=len(active) < len(members))
            for member in active:
                logs = {"loss": losses[member.index], "accuracy": accuracies[member.index]}
                member.call("on_train_batch_end", first + count - 1, logs)
            stopped = [m for m in active if m.model.stop_training]
            if stopped:
                _stop(group, stopped, epoch, losses, accuracies, validation)
                active = [m for m in active if m.active]
                if not active:
                    break
        epoch_seconds.append(time.perf_counter() - start)
        if active:
            val_losses, val_accuracies = group.validate(validation)
            for member in active:
                k = member.index
                logs = {"loss": losses[k], "accuracy": accuracies[k], "val_loss": val_losses[k]}
                member.end_epoch(epoch, {**logs, "val_accuracy": val_accuracies[k]})
    for member in members:
        if member.active:
            member.call("on_train_end", None)
    return epoch_seconds


def _stop(group, stopped, epoch, losses, accuracies, validation):
    """Members stopped by their guard: their weights kept, their epoch closed (validated, as
    `fit` closes a stopped run's), their training ended, their gradients masked from now on."""
    values = group.net.numpy()
    for member in stopped:
        member.stop([value[member.index] for value in values])
    val_losses, val_accuracies = group.validate(validation)
    for member in stopped:
        k = member.index
        logs = {"loss": losses[k], "accuracy": accuracies[k], "val_loss": val_losses[k]}
        member.end_epoch(epoch, {**logs, "val_accuracy": val_accuracies[k]})
        member.call("on_train_end", None)
    group.deactivate(m.index for m in stopped)
