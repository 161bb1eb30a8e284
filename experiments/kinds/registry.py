"""Experiment kinds other than MLP training sweeps, behind one small interface.

An experiment file names its kind (`kind = "surfaces"`); the MLP sweep is the default and needs
no entry here. A kind is registered by adding one `Kind` to `KINDS` below:

    Kind(
        name="surfaces",
        parameters=surfaces.DEFAULT_PARAMS,   # every [params] key with its default (the type is the default's)
        check=surfaces.check_params,          # raises ValueError naming the parameter and its range
        run=surfaces.run,                     # run(params, seeds, exp_dir) -> KindResult or (table, findings, figures)
                                              # (a kind with takes_data=True: run(params, seeds, exp_dir, trainer))
        description="...",
        claim_ids=(),                         # catalogue ids of findings the kind makes itself
    )

`run` trains or measures whatever the kind does and returns a KindResult: the results table (a
pandas DataFrame), the findings of the kind's own checks (experiments.evidence.findings.Finding, each with
the catalogue `id` where it tests a notes' claim), the figure files written in `exp_dir`, and
`measurements`: {name: [one value per seed or start]} that the experiment file's claims decide
on (`test = "kind"`, `measure = name`; experiments/evidence/claims.py) with experiments/evidence/decision.py's
rule. `[params]` are checked at parse time (types against `parameters`, values by `check`), so a
bad value exits 2 before anything runs. Kind modules import TensorFlow inside their functions:
spec.py reads this registry whenever it reads an experiment file.
"""

import dataclasses
from typing import Callable

from experiments.kinds import (
    deep_linear,
    gradient_noise,
    grid_vs_random,
    importance,
    numerics,
    rescue,
    shuffle_order,
    surfaces,
)
from experiments.kinds.result import KindResult
from experiments.kinds.training_runs import TrainingRuns

MLP = "mlp"


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    parameters: dict
    check: Callable
    run: Callable
    description: str = ""
    # Catalogue ids (experiments/report/catalogue.toml) of the findings the kind makes itself, outside the
    # experiment file's [[claims]]: verdicts that are not a per-seed comparison.
    claim_ids: tuple = ()
    # Whether its runs train on the command line's data set and model (--dataset, --model, --data):
    # its `run` then takes a `trainer` (experiments/kinds/training_runs.py `TrainingRuns`), which
    # trains them on the command line's pool. A kind that does not is run on its own data only.
    takes_data: bool = False


KINDS = {
    kind.name: kind
    for kind in (
        Kind("surfaces", surfaces.DEFAULT_PARAMS, surfaces.check_params, surfaces.run,
             "optimizers' paths on 2-D loss surfaces"),
        Kind("deep_linear", deep_linear.DEFAULT_PARAMS, deep_linear.check_params, deep_linear.run,
             "deep linear networks and initializations of deep ReLU/sigmoid networks"),
    )
}  # fmt: skip
# The experiments that turn the remaining claims of the notes into tested verdicts.
KINDS.update(
    (kind.name, kind)
    for kind in (
        Kind("gradient_noise", gradient_noise.DEFAULT_PARAMS, gradient_noise.check_params, gradient_noise.run,
             "per-example gradients: a batch gradient's error against the full batch, the noise scale"),
        Kind("grid_vs_random", grid_vs_random.DEFAULT_PARAMS, grid_vs_random.check_params, grid_vs_random.run,
             "random search against a grid of the same budget, over seeds of the search", takes_data=True),
        Kind("importance", importance.DEFAULT_PARAMS, importance.check_params, importance.run,
             "random searches and the functional-ANOVA importance of each hyperparameter",
             claim_ids=("hyperparameter-importance",), takes_data=True),
        Kind("numerics", numerics.DEFAULT_PARAMS, numerics.check_params, numerics.run,
             "softmax and cross-entropy in float32: from logits against softmax then log"),
        Kind("rescue", rescue.DEFAULT_PARAMS, rescue.check_params, rescue.run,
             "runs that go wrong, left alone or rescued by a change of the learning rate mid-run", takes_data=True),
        Kind("shuffle_order", shuffle_order.DEFAULT_PARAMS, shuffle_order.check_params, shuffle_order.run,
             "training runs that differ in the order of the training data", takes_data=True),
    )
)  # fmt: skip
NAMES = (MLP, *KINDS)


def resolve_params(kind_name, params, fail):
    """A kind's [params]: unknown names, wrong types and out-of-range values call `fail(message)`."""
    if kind_name == MLP:
        if params:
            fail("`params` is for experiments of another kind; an MLP experiment uses [fixed] and [vary]")
        return {}
    kind = KINDS[kind_name]
    unknown = set(params) - set(kind.parameters)
    if unknown:
        fail(f"unknown params {sorted(unknown)} for kind {kind_name!r}; allowed: {sorted(kind.parameters)}")
    resolved = dict(kind.parameters)
    for name, value in params.items():
        default = kind.parameters[name]
        ok = isinstance(value, type(default)) and not (isinstance(value, bool) and not isinstance(default, bool))
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            fail(f"params.{name} must be a {type(default).__name__} like {default!r}; got {value!r}")
        resolved[name] = value
    try:
        kind.check(resolved)
    except ValueError as error:
        fail(str(error))
    return resolved


def run(kind_name, params, seeds, exp_dir, trainer=None):
    """Runs a kind, its training runs on `trainer` (training_runs.TrainingRuns; None: in this
    process); always returns a KindResult."""
    kind = KINDS[kind_name]
    if kind.takes_data:
        result = kind.run(params, seeds, exp_dir, trainer or TrainingRuns(exp_dir))
    else:
        result = kind.run(params, seeds, exp_dir)
    if isinstance(result, KindResult):
        return result
    return KindResult(*result)
