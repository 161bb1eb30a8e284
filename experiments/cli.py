"""The command line of `python experiments/run.py`: parse and check everything, then run or report.

Train the same network while varying one thing at a time:

    python experiments/run.py                      # the default experiments, quick size
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
DEFAULT_LOGDIR = os.path.join(REPO_ROOT, "logs")


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
    parser.add_argument("--size", choices=("quick", "full"), default="quick",
                        help="quick: minutes on a laptop CPU (default); full: more seeds, epochs and values")
    parser.add_argument("--epochs", type=int, metavar="N", help="epochs per run (overrides the experiment)")
    parser.add_argument("--seeds", type=int, metavar="N", help="seeds per configuration (overrides the experiment)")
    parser.add_argument("--dataset", metavar="NAME", help="data set: digits (default, ships with scikit-learn), mnist, fashion_mnist")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting held fixed, e.g. --set batch_size=64 (repeatable)")
    parser.add_argument("--specs-dir", default=None, metavar="DIR",
                        help="read experiment files from DIR instead of experiments/specs/")
    parser.add_argument("--logdir", default=DEFAULT_LOGDIR, metavar="DIR", help="where runs are written (default: logs/)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="runs trained in parallel processes (default 1)")
    parser.add_argument("--report", action="store_true",
                        help="build logs/REPORT.md from every experiment run so far (after running any given), and exit")
    parser.add_argument("--dry-run", action="store_true", help="print the runs that would be trained, train nothing")
    parser.add_argument("--rerun", action="store_true", help="train again runs that are already done")
    parser.add_argument("--verbose", action="store_true", help="show Keras's per-epoch output")
    return parser


def parse(argv):
    """Parses and validates everything, so bad input fails before any training starts."""
    from experiments import spec
    from experiments.settings import parse_cli_value, validate

    args = build_parser().parse_args(argv)
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise UsageError(f"--set takes KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        overrides[key.strip()] = parse_cli_value(key.strip(), value)
    for key, value in (("epochs", args.epochs), ("dataset", args.dataset)):
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
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1; got {args.jobs}")
    specs_dir = args.specs_dir or spec.SPECS_DIR
    if not os.path.isdir(specs_dir):
        raise UsageError(f"--specs-dir {specs_dir!r} is not a directory")
    available = spec.available(specs_dir)
    if args.report and not args.experiments:
        return args, overrides, []
    names = args.experiments or [n for n in DEFAULT_EXPERIMENTS if n in available] or available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise UsageError(f"unknown experiment(s) {', '.join(unknown)}; available: {', '.join(available)}")
    experiments = [spec.load(name, args.size, specs_dir) for name in dict.fromkeys(names)]
    if not (args.list or args.list_settings or args.dry_run):
        _check_writable(args.logdir)
        _check_dataset_available(overrides.get("dataset", "digits"))
    return args, overrides, experiments


def _check_dataset_available(name):
    """A data set that needs a download fails here, once, not in every run."""
    from experiments import data

    if name != "digits":
        try:
            data.load_dataset(name, limit=20)
        except data.DatasetUnavailableError as error:
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
    from experiments.settings import SETTINGS

    for name, setting in SETTINGS.items():
        print(f"{name:<26} {setting.default!r:<14} {setting.describe_range():<40} {setting.help}", file=out)


def main(argv=None, out=None):
    out = out or sys.stdout
    from experiments.settings import SettingError
    from experiments.spec import SpecError

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

        status = run_experiments(experiments, overrides, args, out)
    if args.report and status == 0:
        from experiments import report, spec

        path = report.build(args.logdir, args.specs_dir or spec.SPECS_DIR)
        print(f"Report: {path}", file=out)
    return status
