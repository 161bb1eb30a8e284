"""Builds the optimizer and learning-rate schedule a run's settings describe."""

import keras

import optimizers

_OURS = {"sgd": optimizers.SGD, "adagrad": optimizers.Adagrad, "rmsprop": optimizers.RMSprop, "adam": optimizers.Adam}
_KERAS = {
    "keras_sgd": keras.optimizers.SGD,
    "keras_adagrad": keras.optimizers.Adagrad,
    "keras_rmsprop": keras.optimizers.RMSprop,
    "keras_adam": keras.optimizers.Adam,
}
# Which settings each optimizer takes (the rest do not apply to it and are left out).
_ARGUMENTS = {
    "sgd": ("momentum", "nesterov", "momentum_form"),
    "adagrad": ("initial_accumulator_value", "epsilon", "epsilon_inside_sqrt"),
    "rmsprop": ("rho", "momentum", "epsilon", "centered", "epsilon_inside_sqrt"),
    "adam": ("beta_1", "beta_2", "epsilon", "amsgrad", "bias_correction", "epsilon_inside_sqrt"),
    "keras_sgd": ("momentum", "nesterov"),
    "keras_adagrad": ("initial_accumulator_value", "epsilon"),
    "keras_rmsprop": ("rho", "momentum", "epsilon", "centered"),
    "keras_adam": ("beta_1", "beta_2", "epsilon", "amsgrad"),
}


def make_optimizer(config, steps_per_epoch):
    name = config["optimizer"]
    kwargs = {k: config[k] for k in _ARGUMENTS[name] if config[k] is not None}
    for key in ("weight_decay", "clipnorm"):
        if config[key] is not None:
            kwargs[key] = config[key]
    learning_rate = make_learning_rate(config, steps_per_epoch)
    cls = _OURS.get(name) or _KERAS[name]
    return cls(learning_rate=learning_rate, **kwargs)


def make_learning_rate(config, steps_per_epoch):
    """A float for a constant rate, else a schedule counted in optimizer steps.

    Settings are in epochs (`decay_epochs`, `warmup_epochs`, `boundaries_epochs`), the unit the
    notes use; schedules count optimizer steps, so each is multiplied by `steps_per_epoch`.
    """
    lr = config["learning_rate"]
    name = config["schedule"]
    warmup_steps = round(config["warmup_epochs"] * steps_per_epoch)
    if name == "constant" and warmup_steps == 0:
        return lr
    from optimizers import schedules

    decay_steps = config["decay_epochs"] * steps_per_epoch
    total_steps = config["epochs"] * steps_per_epoch
    if name == "constant":
        schedule = schedules.PiecewiseConstantDecay([], [lr])
    elif name == "inverse_time":
        schedule = schedules.InverseTimeDecay(lr, decay_steps, config["decay_rate"], staircase=config["staircase"])
    elif name == "exponential":
        schedule = schedules.ExponentialDecay(lr, decay_steps, config["decay_rate"], staircase=config["staircase"])
    elif name == "inverse_sqrt":
        schedule = schedules.InverseSqrtDecay(lr, decay_steps)
    elif name == "piecewise":
        boundaries = [round(b * steps_per_epoch) for b in config["boundaries_epochs"]]
        schedule = schedules.PiecewiseConstantDecay(boundaries, [lr * f for f in config["factors"]])
    elif name == "cosine":
        schedule = schedules.CosineDecay(lr, max(1, total_steps - warmup_steps), alpha=config["final_fraction"])
    else:
        raise ValueError(f"unknown schedule {name!r}")
    if warmup_steps > 0:
        schedule = schedules.Warmup(schedule, warmup_steps=warmup_steps)
    return schedule
