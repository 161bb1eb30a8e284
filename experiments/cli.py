"""The command line of `python experiments/run.py`: parse and check everything, then run or report.

Train the same network while varying one thing at a time:

    python experiments/run.py                      # the default experiments, default size
    python experiments/run.py --all --jobs 2 --report   # every experiment, then logs/REPORT.md
    python experiments/run.py --list               # what there is
    python experiments/run.py batch_size learning_rate --seeds 3 --jobs 2
    python experiments/run.py optimizers --set batch_size=64 --epochs 10 --dry-run

Each run writes logs/<experiment>/<run>/ (TensorBoard events, config.json, record.json); each
experiment writes logs/<experiment>/{runs.csv,results.csv,curves.png,report.md}. A rerun skips
runs already done with the same settings; --rerun trains them again.
"""

import argparse
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEFAULT_EXPERIMENTS = ("optimizers", "learning_rate", "batch_size")
# In a clone, the repository's logs/ (git-ignored); from an installed copy, logs/ where it is run.
_IN_A_CLONE = os.path.exists(os.path.join(REPO_ROOT, "pyproject.toml"))
DEFAULT_LOGDIR = os.path.join(REPO_ROOT, "logs") if _IN_A_CLONE else os.path.join(os.getcwd(), "logs")


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2, before any training."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser():
    parser = _Parser(
        prog="python experiments/run.py",
        description="Run the project's experiments: train the same network while varying one thing at a time.",
        epilog="Settings for --set: python experiments/run.py --list-settings. "
        "Look at the results with: tensorboard --logdir logs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                        help=f"experiments to run (default: {' '.join(DEFAULT_EXPERIMENTS)}; see --list)")
    parser.add_argument("--list", action="store_true", help="list the experiments, one line each, and exit")
    parser.add_argument("--list-settings", action="store_true", help="list every setting with its default and range, and exit")
    parser.add_argument("--size", choices=("default", "quick", "full"), default="default",
                        help="default: the honest size, >= 5 seeds per compared configuration, what the verdicts "
                        "come from; quick: a smoke test (verdicts may be inconclusive, never the opposite); "
                        "full: an old name for default")
    parser.add_argument("--all", action="store_true", help="run every experiment")
    parser.add_argument("--epochs", type=int, metavar="N", help="epochs per run (overrides the experiment)")
    parser.add_argument("--seeds", type=int, metavar="N", help="seeds per configuration (overrides the experiment)")
    parser.add_argument("--max-seeds", type=int, metavar="N",
                        help="a claim still inconclusive gets more seeds, in batches, up to N (overrides the experiment's max_seeds)")
    parser.add_argument("--dataset", metavar="NAME",
                        help="data set: digits (default), mnist5k, mnist1d (bundled, offline), mnist, fashion_mnist, "
                        "cifar10 (downloaded once); sizes and shapes: --list-settings")
    parser.add_argument("--data", metavar="PACKAGE.MODULE:FUNCTION",
                        help="your own data loader instead of --dataset (contract: docs/data-and-models.md)")
    parser.add_argument("--model", metavar="NAME",
                        help="network: mlp (default), cnn, or your own builder PACKAGE.MODULE:FUNCTION")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting held fixed, e.g. --set batch_size=64 (repeatable)")
    parser.add_argument("--specs-dir", default=None, metavar="DIR",
                        help="read experiment files from DIR instead of experiments/specs/")
    parser.add_argument("--logdir", default=DEFAULT_LOGDIR, metavar="DIR", help="where runs are written (default: logs/)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="runs trained in parallel processes (default 1)")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="train the runs as tasks on a Ray cluster: auto, HOST:PORT or ray://HOST:PORT (see docs/clusters-and-devices.md)")
    parser.add_argument("--ray-cpus", type=float, default=1.0, metavar="N", help="with --ray: CPUs per run (default 1; fractions allowed)")
    parser.add_argument("--ray-gpus", type=float, default=0.0, metavar="N", help="with --ray: GPUs per run (default 0; fractions allowed)")
    parser.add_argument("--no-stack-seeds", dest="stack_seeds", action="store_false",
                        help="train the seeds of each configuration one by one, not as one stacked model "
                        "(the same numbers to float32 rounding, slower; see docs/performance.md)")
    parser.add_argument("--stack-seeds", action="store_true", help=argparse.SUPPRESS)  # the default now
    parser.add_argument("--no-model-reuse", action="store_true",
                        help="build, compile and trace one model per run instead of reusing compiled models "
                        "(the same numbers, slower; for comparing the two)")
    parser.add_argument("--keras-fit", action="store_true",
                        help="train with Keras's fit instead of the runner's own loop (the same numbers, slower)")
    parser.add_argument("--report", action="store_true",
                        help="build logs/REPORT.md from every experiment run so far (after running any given), and exit")
    parser.add_argument("--dry-run", action="store_true", help="print the runs that would be trained, train nothing")
    parser.add_argument("--rerun", action="store_true", help="train again runs that are already done")
    parser.add_argument("--verbose", action="store_true", help="show Keras's per-epoch output")
    return parser


def parse(argv):
    """Parses and validates everything, so bad input fails before any training starts."""
    from experiments import spec
    from experiments.config.settings import parse_cli_value, validate
    from experiments.data.plugins import is_reference

    args = build_parser().parse_args(argv)
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise UsageError(f"--set takes KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        overrides[key.strip()] = parse_cli_value(key.strip(), value)
    if args.data is not None:
        if args.dataset is not None:
            raise UsageError("give --dataset or --data, not both")
        if not is_reference(args.data):
            raise UsageError(f"--data must be package.module:function; got {args.data!r} (built-in ones: --dataset)")
        args.dataset = args.data
    for key, value in (("epochs", args.epochs), ("dataset", args.dataset), ("model", args.model)):
        if value is not None:
            overrides[key] = validate(key, value)
    if "backend" not in overrides and os.environ.get("KERAS_BACKEND"):
        # As Keras users expect; the backend then shows in every run's config like any setting.
        try:
            overrides["backend"] = validate("backend", os.environ["KERAS_BACKEND"])
        except ValueError as error:
            raise UsageError(f"environment variable KERAS_BACKEND: {error}") from None
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds must be >= 1; got {args.seeds}")
    if args.max_seeds is not None and args.max_seeds < 1:
        raise UsageError(f"--max-seeds must be >= 1; got {args.max_seeds}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1; got {args.jobs}")
    _check_cluster_arguments(args)
    specs_dir = args.specs_dir or spec.SPECS_DIR
    if not os.path.isdir(specs_dir):
        raise UsageError(f"--specs-dir {specs_dir!r} is not a directory")
    available = spec.available(specs_dir)
    if args.all and args.experiments:
        raise UsageError("--all runs every experiment: name none, or drop --all")
    if args.report and not args.experiments and not args.all:
        return args, overrides, []
    names = available if args.all else args.experiments or [n for n in DEFAULT_EXPERIMENTS if n in available] or available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise UsageError(f"unknown experiment(s) {', '.join(unknown)}; available: {', '.join(available)}")
    experiments = [spec.load(name, args.size, specs_dir) for name in dict.fromkeys(names)]
    _refuse_varied_overrides(experiments, overrides)
    if not (args.list or args.list_settings):
        _check_plugins(overrides, experiments)
    if not (args.list or args.list_settings or args.dry_run):
        _check_writable(args.logdir)
        _check_dataset_available(overrides.get("dataset", "digits"))
    return args, overrides, experiments


def runner_options(args):
    from experiments.config.options import ClusterOptions, EngineOptions, RunnerOptions

    cluster = ClusterOptions(args.ray, cpus=args.ray_cpus, gpus=args.ray_gpus) if args.ray else None
    engine = EngineOptions(reuse_models=not args.no_model_reuse, keras_fit=args.keras_fit)
    return RunnerOptions(
        logdir=args.logdir, seeds=args.seeds, jobs=args.jobs, cluster=cluster, engine=engine,
        rerun=args.rerun, dry_run=args.dry_run, verbose=args.verbose, stack_seeds=args.stack_seeds,
        max_seeds=args.max_seeds,
    )  # fmt: skip


def _check_cluster_arguments(args):
    if args.ray is None:
        if args.ray_cpus != 1.0 or args.ray_gpus != 0.0:
            raise UsageError("--ray-cpus and --ray-gpus need --ray ADDRESS")
        return
    if not args.ray.strip():
        raise UsageError("--ray takes auto, HOST:PORT or ray://HOST:PORT; got ''")
    if args.jobs != 1:
        raise UsageError("--jobs and --ray are alternatives: with --ray the cluster's resources decide how many runs train at once")
    if not args.ray_cpus > 0:
        raise UsageError(f"--ray-cpus must be > 0; got {args.ray_cpus:g}")
    if not args.ray_gpus >= 0:
        raise UsageError(f"--ray-gpus must be >= 0; got {args.ray_gpus:g}")
    if not (args.dry_run or args.list or args.list_settings):
        from experiments.sweeps.ray_pool import ClusterError, import_ray

        try:
            import_ray()
        except ClusterError as error:
            raise UsageError(str(error)) from None


def _refuse_varied_overrides(experiments, overrides):
    """`--set` (and --epochs, --dataset) change what an experiment holds fixed; a setting it
    varies is an error, not silently ignored."""
    for experiment in experiments:
        for name in experiment.varied_settings:
            if name in overrides:
                option = f"--{name}" if name in ("epochs", "dataset", "model") else f"--set {name}"
                raise UsageError(
                    f"{option}: experiment {experiment.name} varies {name} over "
                    f"{_varied_values(experiment, name)}; only settings it holds fixed can be set"
                )


def _varied_values(experiment, name):
    if name in experiment.search:
        (distribution, values), = experiment.search[name].items()
        return f"a random search ({distribution} {values})"
    from experiments.config.settings import SETTINGS

    values = list(experiment.vary.get(name, [])) + list(experiment.tune.get(name, []))
    held = experiment.fixed.get(name, SETTINGS[name].default)  # what an arm without it uses
    values += [arm.get(name, held) for arm in experiment.arms]
    return ", ".join(str(value) for value in dict.fromkeys(values))
def _used_values(name, overrides, experiments):
    """Every value of setting `name` the runs may use: the override, else the experiments' own."""
    from experiments.config.settings import SETTINGS
    from experiments.kinds import registry

    if name in overrides:
        return {overrides[name]}
    values = set()
    for experiment in experiments:
        if experiment.kind != registry.MLP:
            continue
        values.add(experiment.fixed.get(name, SETTINGS[name].default))
        values.update(experiment.vary.get(name, []))
        values.update(arm[name] for arm in experiment.arms if name in arm)
    return values


def _check_plugins(overrides, experiments):
    """A user's loader is called and its arrays checked, a user's builder built and run on two
    examples of each data set it will see: a wrong one fails here, in one line."""
    from experiments.config.settings import resolve
    from experiments.data import datasets, plugins

    dataset_names = _used_values("dataset", overrides, experiments)
    builders = [m for m in _used_values("model", overrides, experiments) if plugins.is_reference(m)]
    try:
        loaders = [name for name in dataset_names if plugins.is_reference(name)]
        for reference, setting in [*((b, "model") for b in builders), *((d, "dataset") for d in loaders)]:
            plugins.check_module_exists(reference, setting)  # a wrong name fails before TensorFlow loads
        if builders or loaders:  # the user's code may import TensorFlow: first without its notices
            from experiments.engine.quiet import import_tensorflow_quietly

            import_tensorflow_quietly()
        for name in dataset_names:
            if plugins.is_reference(name):
                datasets.load_raw(name)
        for builder in builders:
            config = resolve({k: v for k, v in overrides.items() if k != "dataset"})
            for name in dataset_names:
                if name in datasets.DOWNLOADED_DATASETS:
                    _check_dataset_available(name)
                raw = datasets.load_raw(name)
                plugins.check_model(builder, raw.input_shape, raw.num_classes, config)
    except plugins.PluginError as error:
        raise UsageError(str(error)) from None


def _check_dataset_available(name):
    """A data set that needs a download fails here, once, not in every run."""
    from experiments.data import datasets

    if name in datasets.DOWNLOADED_DATASETS:  # the bundled ones need nothing; a user's loader: _check_plugins
        try:
            datasets.load_raw(name)
        except datasets.DatasetUnavailableError as error:
            raise UsageError(str(error)) from None


def _check_writable(logdir):
    try:
        os.makedirs(logdir, exist_ok=True)
        probe = os.path.join(logdir, f".write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"log directory {logdir!r} is not writable ({error.strerror})") from None


def list_experiments(experiments, out):
    for experiment in experiments:
        print(f"{experiment.name:<22} {experiment.description}", file=out)


def list_settings(out):
    from experiments.config.settings import SETTINGS

    for name, setting in SETTINGS.items():
        print(f"{name:<26} {setting.default!r:<14} {setting.describe_range():<40} {setting.help}", file=out)
    from experiments.data.datasets import DESCRIPTIONS

    print("\nData sets (--dataset NAME; or your own loader: --data package.module:function):", file=out)
    for name, (split, shape, what) in DESCRIPTIONS.items():
        print(f"{name:<26} {split:<14} {shape:<10} {what}", file=out)


def main(argv=None, out=None):
    out = out or sys.stdout
    from experiments.config.settings import SettingError
    from experiments.spec import SpecError
    from experiments.sweeps.ray_pool import ClusterError

    try:
        args, overrides, experiments = parse(sys.argv[1:] if argv is None else argv)
    except (UsageError, SettingError, SpecError) as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 2
    if args.list:
        from experiments import spec

        specs_dir = args.specs_dir or spec.SPECS_DIR
        list_experiments([spec.load(n, args.size, specs_dir) for n in spec.available(specs_dir)], out)
        return 0
    if args.list_settings:
        list_settings(out)
        return 0
    status = 0
    if experiments:
        from experiments.runner import run_experiments

        try:
            status = run_experiments(experiments, overrides, runner_options(args), out)
        except ClusterError as error:
            print(f"run.py: error: {error}", file=sys.stderr)
            return 2
    if (args.report or experiments) and status == 0 and not args.dry_run:  # every run ends with REPORT.md
        from experiments.runner import write_reports

        status = write_reports(args.logdir, args.specs_dir, args.report, out)
    return status
