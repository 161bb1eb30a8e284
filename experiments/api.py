"""Run an experiment from Python and read what it measured, through the command line's own path:

    from experiments.api import run_experiment

    result = run_experiment("learning_rate", size="quick", logdir="/tmp/logs", overrides={"limit": 300})
    result.claims        # one row per claim: id, verdict, effect, low, high, n, claim, metric
    result.records       # one row per run (runs.csv): settings, outcome, metrics
    result.figures       # paths of the experiment's figures, the headline first
    result.report        # path of its report.md

`run_experiment` builds the arguments of `python experiments/run.py` and goes through
experiments.cli.parse (the same checks: a bad setting raises before anything trains), the
runner, and REPORT.md, like the command. `read_experiment` reads a finished one back.
"""

import dataclasses
import io
import os

import pandas as pd

from experiments import cli, runner
from experiments.config.settings import SettingError
from experiments.data import datasets
from experiments.evidence import findings
from experiments.spec import SpecError
from experiments.sweeps.planning import experiment_dir

CLAIM_COLUMNS = ("id", "verdict", "effect", "low", "high", "n", "claim", "metric")


class ExperimentError(RuntimeError):
    """The run stopped (a failed write, an interruption) or its input was refused."""


@dataclasses.dataclass
class ExperimentResult:
    name: str
    directory: str
    records: pd.DataFrame
    claims: pd.DataFrame
    figures: list
    report: str
    output: str = ""  # what the command printed


def run_experiment(name, size="quick", logdir="logs", overrides=None, seeds=None, epochs=None, dataset=None,
                   jobs=1, rerun=False, specs_dir=None, out=None):
    """Runs experiment `name` as `python experiments/run.py NAME --size SIZE --logdir LOGDIR
    --set KEY=VALUE ...` would, then reads its results. `overrides` sets what the experiment holds
    fixed (a setting it varies is refused). The command's output goes to `out` (kept in
    `result.output` when None). Raises ExperimentError on refused input or a stopped run."""
    argv = [name, "--size", size, "--logdir", os.fspath(logdir), "--jobs", str(jobs)]
    for key, value in (overrides or {}).items():
        argv += ["--set", f"{key}={_text(value)}"]
    for option, value in (("--seeds", seeds), ("--epochs", epochs), ("--dataset", dataset), ("--specs-dir", specs_dir)):
        if value is not None:
            argv += [option, os.fspath(value) if option == "--specs-dir" else str(value)]
    if rerun:
        argv.append("--rerun")
    printed = io.StringIO() if out is None else out
    try:
        args, settings, experiments = cli.parse(argv)
    except (cli.UsageError, SettingError, SpecError) as error:
        raise ExperimentError(str(error)) from None
    status = runner.run_experiments(experiments, settings, cli.runner_options(args), printed)
    if status == 0:
        status = runner.write_reports(args.logdir, args.specs_dir, False, printed)
    if status != 0:
        raise ExperimentError(f"{name}: the run stopped with status {status}")
    result = read_experiment(name, args.logdir, settings.get("dataset"))
    result.output = printed.getvalue() if out is None else ""
    return result


def _text(value):
    if isinstance(value, bool):
        return str(value).lower()
    return "none" if value is None else str(value)


def read_experiment(name, logdir="logs", dataset=None):
    """The results of experiment `name` already run under `logdir` (on `dataset`, default digits)."""
    directory = experiment_dir(os.fspath(logdir), name, dataset or datasets.DEFAULT_DATASET)
    data = findings.load(directory)
    if data is None:
        raise ExperimentError(f"{name} has not been run under {logdir} (no {directory}/findings.json)")
    table = next((os.path.join(directory, f) for f in ("runs.csv", "results.csv") if os.path.exists(os.path.join(directory, f))), None)
    records = pd.read_csv(table) if table else pd.DataFrame()
    figures = [os.path.join(directory, f) for f in data.get("figures", []) if os.path.exists(os.path.join(directory, f))]
    return ExperimentResult(name, directory, records, claims_frame(data["findings"]), figures,
                            os.path.join(directory, "report.md"))  # fmt: skip


def claims_frame(found):
    """One row per finding of findings.json: id, verdict, effect, low, high (the 95% interval;
    NaN where it is infinite), n, claim, metric."""
    rows = []
    for finding in found:
        low, high = finding.get("ci") or (None, None)
        rows.append({"id": finding.get("id") or "", "verdict": finding.get("verdict"), "effect": finding.get("effect"),
                     "low": low, "high": high, "n": finding.get("n"), "claim": finding.get("claim"),
                     "metric": finding.get("metric")})  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    return frame.astype({"effect": float, "low": float, "high": float})
