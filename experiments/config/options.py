"""What the runner needs to know besides the experiments: where runs go and how they execute.
The command line (cli.py) builds these from its arguments; scripts and tests build them directly."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ClusterOptions:
    """Run each training run as a task on the Ray cluster at `address` ("auto", "HOST:PORT" or
    "ray://HOST:PORT"), reserving `cpus` and `gpus` (fractions allowed) per run."""

    address: str
    cpus: float = 1.0
    gpus: float = 0.0


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    """How each process trains a run; every choice gives the same numbers (the tests check it),
    the benchmarks compare their speed."""

    reuse_models: bool = True  # keep compiled models across runs (experiments/engine/compiled_models.py)
    keras_fit: bool = False  # Keras's `fit` instead of the runner's own loop (experiments/engine/epoch_loop.py)


@dataclasses.dataclass(frozen=True)
class RunnerOptions:
    logdir: str
    seeds: int = None  # None: each experiment's own number of seeds
    jobs: int = 1  # local worker processes
    cluster: ClusterOptions = None  # set: runs go to a Ray cluster instead
    rerun: bool = False  # train again runs already done
    dry_run: bool = False  # list the runs, train nothing
    verbose: bool = False  # Keras's per-epoch output
    engine: EngineOptions = EngineOptions()  # how each process trains its runs
    # Each configuration's seeds as one stacked model (experiments/engine/stacked/); False: one by one.
    stack_seeds: bool = True
    max_seeds: int = None  # a claim's seed budget; None: each experiment's `max_seeds`
