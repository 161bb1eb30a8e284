"""Every setting of one training run: name, type, default, allowed values and what it does.

One table serves the TOML experiment files, the command line's `--set key=value` and the resolved
config saved beside each run, so a setting is validated the same way wherever it comes from.
"""

import dataclasses
import difflib
import math

from experiments.data.datasets import DATASETS, INPUT_SCALINGS
from experiments.data.plugins import is_reference
from experiments.data.shuffling import ORDERS

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "elu", "gelu")
# Named after the notes: He is sqrt(2 / fan_in) ("common for relu"), Glorot sqrt(2 / (fan_in +
# fan_out)); "unit_normal" is N(0, 1) whatever the width (explodes), "tiny" is N(0, 0.01^2) (vanishes).
MODELS = ("mlp", "cnn")  # experiments/engine/models.py; or a user's builder package.module:function
INITIALIZERS = ("he_normal", "glorot_uniform", "glorot_normal", "lecun_normal", "unit_normal", "tiny")

OPTIMIZERS = (
    "sgd", "adagrad", "rmsprop", "adam",
    "keras_sgd", "keras_adagrad", "keras_rmsprop", "keras_adam",
)  # fmt: skip
BACKENDS = ("tensorflow", "jax", "torch")
SCHEDULES = ("constant", "inverse_time", "exponential", "inverse_sqrt", "piecewise", "cosine")


class SettingError(ValueError):
    """A setting has an unknown name, a wrong type or a value outside its range."""


@dataclasses.dataclass(frozen=True)
class Setting:
    default: object
    kind: type  # int, float, str, bool or list
    help: str
    choices: tuple = ()
    minimum: float = None
    maximum: float = None
    below_maximum: bool = False  # maximum itself excluded, as for momentum < 1
    above_minimum: bool = False  # minimum itself excluded, as for learning_rate > 0
    optional: bool = False  # None allowed
    special: tuple = ()  # extra string values allowed for a number, e.g. batch_size = "full"
    references: bool = False  # a user's package.module:function allowed beside the choices

    def describe_range(self):
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
            return text + (" or package.module:function" if self.references else "")
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.above_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.below_maximum else '<='} {self.maximum:g}")
        text = f"a{'n' if self.kind is int else ''} {self.kind.__name__}"
        if parts:
            text += " " + " and ".join(parts)
        if self.special:
            text += " or " + ", ".join(repr(s) for s in self.special)
        if self.optional:
            text += " or none"
        return text


SETTINGS = {
    # Data.
    "dataset": Setting("digits", str, "data set (or a loader: --data)", choices=DATASETS, references=True),
    "input_scaling": Setting("standardize", str, "how inputs are scaled", choices=INPUT_SCALINGS),
    "limit": Setting(None, int, "use at most this many examples", minimum=20, optional=True),
    # Network.
    "model": Setting("mlp", str, "network family (or a builder: --model)", choices=MODELS, references=True),
    "width": Setting(128, int, "units per hidden layer", minimum=1),
    "depth": Setting(2, int, "number of hidden layers", minimum=0),
    "activation": Setting("relu", str, "hidden activation", choices=ACTIVATIONS),
    "initializer": Setting("he_normal", str, "hidden kernel initializer", choices=INITIALIZERS),
    "batch_norm": Setting(False, bool, "batch normalization after each hidden layer"),
    # Optimizer.
    "optimizer": Setting("adam", str, "optimizer (keras_* are Keras's built-ins)", choices=OPTIMIZERS),
    "learning_rate": Setting(1e-3, float, "initial learning rate", minimum=0, above_minimum=True),
    "momentum": Setting(0.0, float, "SGD / RMSprop momentum", minimum=0, maximum=1, below_maximum=True),
    "nesterov": Setting(False, bool, "SGD Nesterov momentum"),
    "momentum_form": Setting("keras", str, "SGD momentum form", choices=("keras", "ema")),
    "rho": Setting(0.9, float, "RMSprop decay", minimum=0, maximum=1, below_maximum=True),
    "beta_1": Setting(0.9, float, "Adam first-moment decay", minimum=0, maximum=1, below_maximum=True),
    "beta_2": Setting(0.999, float, "Adam second-moment decay", minimum=0, maximum=1, below_maximum=True),
    "epsilon": Setting(1e-7, float, "adaptive optimizers' epsilon", minimum=0, above_minimum=True),
    "epsilon_inside_sqrt": Setting(None, bool, "epsilon placement (none: the optimizer's default)", optional=True),
    "bias_correction": Setting(True, bool, "Adam bias correction"),
    "amsgrad": Setting(False, bool, "Adam AMSGrad"),
    "centered": Setting(False, bool, "centered RMSprop"),
    "initial_accumulator_value": Setting(0.1, float, "AdaGrad initial cache", minimum=0),
    "weight_decay": Setting(None, float, "decoupled weight decay", minimum=0, optional=True),
    "clipnorm": Setting(None, float, "clip each gradient to this norm", minimum=0, above_minimum=True, optional=True),
    # Learning-rate schedule (counted in epochs here, converted to optimizer steps).
    "schedule": Setting("constant", str, "learning-rate schedule", choices=SCHEDULES),
    "decay_rate": Setting(0.1, float, "decay rate of inverse_time / exponential", minimum=0),
    "decay_epochs": Setting(1.0, float, "epochs per decay period", minimum=0, above_minimum=True),
    "staircase": Setting(False, bool, "decay in whole periods"),
    "warmup_epochs": Setting(0.0, float, "linear warm-up before the schedule", minimum=0),
    "boundaries_epochs": Setting([], list, "piecewise: epochs where the rate changes"),
    "factors": Setting([], list, "piecewise: rate multipliers, one more than boundaries"),
    "final_fraction": Setting(0.0, float, "cosine: final rate as a fraction of the initial", minimum=0, maximum=1),
    # Training.
    "batch_size": Setting(32, int, "examples per update", minimum=1, special=("full",)),
    "epochs": Setting(20, int, "passes over the training set", minimum=1),
    "seed": Setting(0, int, "initialization and shuffling seed", minimum=0),
    "shuffle": Setting("each_epoch", str, "training order: reshuffled each epoch, shuffled once, or sorted by class", choices=ORDERS),
    "jit_compile": Setting(False, bool, "compile the train step with XLA"),
    "distribute": Setting("none", str, "mirrored: one run over every visible device (tf.distribute)", choices=("none", "mirrored")),
    "steps_per_execution": Setting(16, int, "training steps per call of the compiled train function", minimum=1),
    "backend": Setting("tensorflow", str, "Keras backend (CLI default: KERAS_BACKEND)", choices=BACKENDS),
    # Logging and safety.
    # Callbacks see the end of each group of steps_per_execution steps: keep these multiples of it.
    "log_every_steps": Setting(16, int, "per-step learning-rate logging frequency", minimum=1),
    "stats_every_steps": Setting(128, int, "gradient/weight statistics frequency", minimum=1),
    "record_steps": Setting(0, int, "record the training loss of the first N steps", minimum=0),
    # Outcomes (experiments/engine/outcomes.py): a finished run within this margin of chance accuracy did not learn.
    "chance_margin": Setting(0.1, float, "did_not_learn: final validation accuracy <= 1/classes + this", minimum=0, maximum=1),
    "divergence_factor": Setting(1e3, float, "diverged when the loss exceeds this multiple of its first value", minimum=1, above_minimum=True),
    "divergence_rollback": Setting(False, bool, "on divergence, restore the last good weights and lower the rate 10x (up to 3 times) instead of stopping"),
}  # fmt: skip


def validate(name, value):
    """Returns `value` checked and normalized for setting `name`, or raises SettingError."""
    if name not in SETTINGS:
        close = difflib.get_close_matches(name, SETTINGS, n=3, cutoff=0.5)
        close += [s for s in SETTINGS if name and s.startswith(name) and s not in close]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise SettingError(f"unknown setting {name!r}.{hint} Valid settings: {', '.join(SETTINGS)}")
    setting = SETTINGS[name]
    if value is None and setting.optional:
        return None
    if isinstance(value, str) and value in setting.special:
        return value
    value = _coerce(name, setting, value)
    if setting.choices and value not in setting.choices and not (setting.references and is_reference(value)):
        raise SettingError(f"{name} must be {setting.describe_range()}; got {value!r}")
    if setting.kind in (int, float):
        low, high = setting.minimum, setting.maximum
        too_low = low is not None and (value <= low if setting.above_minimum else value < low)
        too_high = high is not None and (value >= high if setting.below_maximum else value > high)
        if too_low or too_high or (setting.kind is float and not math.isfinite(value)):
            raise SettingError(f"{name} must be {setting.describe_range()}; got {value!r}")
    return value


def _coerce(name, setting, value):
    wrong = SettingError(f"{name} must be {setting.describe_range()}; got {value!r}")
    if setting.kind is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if setting.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise wrong
        return value
    if setting.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        return float(value)
    if setting.kind is list:
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise SettingError(f"{name} must be a list of numbers; got {value!r}")
        return [float(v) for v in value]
    if not isinstance(value, str):
        raise wrong
    return value


def parse_cli_value(name, text):
    """`--set name=text`: parse text as the setting's type (so `--set batch_norm=true` works)."""
    if name not in SETTINGS:
        validate(name, None)  # raises the unknown-setting error with suggestions
    setting = SETTINGS[name]
    lowered = text.strip().lower()
    if setting.optional and lowered in ("none", "null", ""):
        return None
    if text in setting.special:
        return text
    if setting.kind is bool:
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise SettingError(f"{name} must be true or false; got {text!r}")
    if setting.kind in (int, float):
        try:
            number = float(text)
        except ValueError:
            raise SettingError(f"{name} must be {setting.describe_range()}; got {text!r}") from None
        return validate(name, int(number) if setting.kind is int and number.is_integer() else number)
    if setting.kind is list:
        try:
            return validate(name, [float(v) for v in text.split(",") if v.strip()])
        except ValueError:
            raise SettingError(f"{name} must be a comma-separated list of numbers; got {text!r}") from None
    return validate(name, text)


def resolve(overrides):
    """Defaults updated by `overrides`, every value validated, plus cross-setting checks."""
    config = {name: setting.default for name, setting in SETTINGS.items()}
    for name, value in overrides.items():
        config[name] = validate(name, value)
    if config["distribute"] == "mirrored" and config["steps_per_execution"] != 1:
        # Keras 3.15 / TF 2.21: several steps per call under MirroredStrategy fails in fit.
        raise SettingError(
            "distribute=mirrored needs steps_per_execution=1; got "
            f"steps_per_execution={config['steps_per_execution']} (add --set steps_per_execution=1)"
        )
    if config["schedule"] == "piecewise" and len(config["factors"]) != len(config["boundaries_epochs"]) + 1:
        raise SettingError(
            "piecewise schedule needs one more factor than boundaries; got "
            f"boundaries_epochs={config['boundaries_epochs']} and factors={config['factors']}"
        )
    return config
