"""A stacked group's members: each one's data order, the callbacks that log it and guard it into
its own run directory, its history, and its record as its separate run would give it."""

import collections
import os

import numpy as np

from experiments.data import shuffling
from experiments.engine import compiled_models, outcomes, run_directory, training

ORDERS_KEPT = 256  # members' data orders a process keeps: the groups of a sweep share their seeds
_ORDERS = collections.OrderedDict()  # (data set, examples, shuffle, seed, epochs) -> (epochs, examples)


def member_orders(config, dataset, seeds):
    """(epochs, K, examples) int32: each member's order of the training examples, epoch by epoch,
    as its separate run's pipeline gives them (`epoch_loop.epoch_orders`, from the seed's global
    seed); kept per process, by seed."""
    epochs, shuffle, num_train = config["epochs"], config["shuffle"], len(dataset.y_train)
    per_member = []
    for seed in seeds:
        key = (config["dataset"], config["limit"], num_train, shuffle, seed, epochs)
        if key not in _ORDERS:
            if shuffle != "each_epoch":
                order = shuffling.fixed_order(dataset.y_train, shuffle, seed).astype(np.int32)
                _ORDERS[key] = np.broadcast_to(order, (epochs, num_train))
            else:
                compiled_models.seed_run({**config, "seed": seed}, reusing_models=True)  # as train_run
                orders = shuffling.shuffled_orders(num_train, seed, epochs)[:epochs]
                _ORDERS[key] = np.stack([np.asarray(order, np.int32) for order in orders])
            while len(_ORDERS) > ORDERS_KEPT:
                _ORDERS.popitem(last=False)
        _ORDERS.move_to_end(key)
        per_member.append(_ORDERS[key])
    return np.stack(per_member, axis=1)


class MemberModel:
    """What a member's callbacks see of its model: the stacked optimizer, whose step count and
    learning rate are every member's; `stop_training`, which the divergence guard sets."""

    def __init__(self, optimizer, steps_per_execution):
        self.optimizer = optimizer
        self.steps_per_execution = steps_per_execution
        self.stop_training = False


def member_callbacks(config, run_dir, probe, start_loss):
    """The logging callbacks of `training.make_callbacks` that need only the loss, the metrics
    and the optimizer's step and rate: learning rate, divergence guard, metrics file, epoch
    curves. Without `run_dir`, the guard alone. (Not the gradient and optimizer-state
    statistics, which read one model's variables.)"""
    from callbacks import DivergenceGuard, EpochSummaries, LearningRateLogger, MetricsFile

    guard = DivergenceGuard(run_dir, max_loss_ratio=config["divergence_factor"], initial_loss=start_loss)
    if run_dir is None:
        return [guard]
    return [
        LearningRateLogger(run_dir, log_every_n_steps=config["log_every_steps"]),
        guard,
        MetricsFile(os.path.join(run_dir, run_directory.METRICS_FILE), fsync=False),
        EpochSummaries(run_dir),
    ]


class Member:
    """One member: its index in the stack, its config, its callbacks (called as `fit` calls a
    run's) and its history (Keras's `History`: the epoch logs after every callback)."""

    def __init__(self, index, config, run_dir, callbacks, model, params):
        self.index, self.config, self.run_dir = index, config, run_dir
        self.early = training.EarlyLossRecorder(config["record_steps"])
        self.callbacks = [self.early, *callbacks]
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)
        self.history = {}
        self.active, self.final_weights = True, None

    def call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def end_epoch(self, epoch, logs):
        logs = {name: float(value) for name, value in logs.items()}
        self.call("on_epoch_end", epoch, logs)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)

    def stop(self, weights):
        """Stopped by its guard: its weights are those it stopped at."""
        self.active, self.final_weights = False, weights

    def guard(self):
        from callbacks import DivergenceGuard

        return next((c for c in self.callbacks if isinstance(c, DivergenceGuard)), None)


class Timer:
    """Epoch times as `training.final_metrics` reads them from `training.UpdateTimer`."""

    def __init__(self, epoch_seconds):
        self.epoch_seconds = list(epoch_seconds)


def member_record(member, dataset, shape, epoch_seconds, halves, fingerprint, stacked):
    """The member's record, with train_run's keys; its time is its share of the stacked time."""
    from experiments.config.versions import package_versions

    batch_size, steps_per_epoch = shape
    num_members = stacked["members"]
    timer = Timer([s / num_members for s in epoch_seconds])
    metrics = {**training.final_metrics(member.history, timer, steps_per_epoch, batch_size), **halves}
    stacked_ms = training.final_metrics(member.history, Timer(epoch_seconds), steps_per_epoch, batch_size)
    guard = member.guard()
    diverged = guard.record if guard else None
    record = {
        "status": "diverged" if diverged else "ok",
        "reason": diverged["message"] if diverged else "",
        "dataset": dataset.name,
        "metrics": metrics,
        "epochs_completed": len(member.history.get("loss", [])),
        "history": {name: [float(v) for v in values] for name, values in member.history.items()},
        "wall_time_s": stacked["wall_time_s"] / num_members,
        "reused_compiled_model": stacked["reused"],
        "versions": package_versions(),
        "replicas": 1,
        "initial_loss": guard.initial_loss if guard else None,
        "fingerprint": fingerprint,
        "stacked": {**stacked, "member": member.index, "ms_per_stacked_update": stacked_ms["ms_per_update"]},
    }
    if diverged:
        record["divergence"] = diverged
    if member.early.losses:
        record["early_steps"] = {"step": member.early.steps, "loss": member.early.losses}
    if member.run_dir is not None:
        config = {**member.config, "outcome": outcomes.classify({**record, "config": member.config})[0]}
        training.write_hparams(member.run_dir, config, metrics)
    return record
