"""Runs whole experiments: plan, train what is not done, write tables, figures and reports."""

import dataclasses
import os
import time

import pandas as pd

from experiments.data import datasets
from experiments.engine import outcomes
from experiments.evidence import claim_tests, findings
from experiments.kinds import registry, training_runs
from experiments.outputs import files, hparams_sessions, run_tables
from experiments.report import answers, headline_figures, reports
from experiments.sweeps import execution, planning, pools
from experiments.sweeps.progress import Progress, duration

KIND_DONE_FILE = "kind_done.json"  # what a finished experiment of another kind was asked
RECORD = "record.json"  # a run's record: a finished run (experiments/engine/run_directory.py)
WRITE_ADVICE = {"no space left on device": "free space", "disk quota exceeded": "free space or raise the quota",
                "read-only file system": "make it writable", "permission denied": "make it writable"}


def run_experiments(experiments, overrides, options, out):
    """Runs `experiments` with the setting `overrides` as `options` (options.RunnerOptions) say.
    Returns the process exit status: 0; 1 when a write failed (a full disk: one line says where
    and why; rerun to resume); 130 when interrupted (rerun to resume)."""
    if options.dry_run:
        for experiment in experiments:
            dry_run(experiment, overrides, options, out)
        return 0
    progress = Progress(0, out)
    for experiment in experiments:  # the whole command's plan, before anything trains
        progress.reserve(experiment.name, planned_runs(experiment, overrides, options))
    results = {}
    try:
        pool = pools.make_pool(options, backend=overrides.get("backend"))
        try:
            for experiment in experiments:
                results[experiment.name] = run_one(experiment, overrides, options, pool, progress, progress.out)
        finally:
            pool.close()
    except KeyboardInterrupt:
        progress.close()
        print("\nInterrupted. Finished runs are kept; run the same command again to resume.", file=out, flush=True)
        return 130
    except Exception as error:
        progress.close()
        return stop_on_write_error(error, options.logdir)
    progress.close()
    print(f"\nDone in {duration(progress.elapsed())}.", file=out)
    print_answers(results, options, overrides, out)
    return 0


def stop_on_write_error(error, logdir):
    """Status 1 and one line for a failed write (files.write_failure): where, why, what is kept,
    how to resume. Any other error is raised again."""
    cause = files.write_failure(error)
    if cause is None:
        raise error
    import sys

    kept = sum(RECORD in names for _, _, names in os.walk(logdir))
    print(f"run.py: error: {cause} under {logdir}: {kept} run{'s' * (kept != 1)} kept; "
          f"{WRITE_ADVICE.get(cause, 'fix it')} and rerun the same command to resume", file=sys.stderr)
    return 1


def print_answers(results, options, overrides, out):
    """After the tables, one line per claim decided: the verdict, the effect and its interval."""
    found = []
    for name, (table, experiment_found) in results.items():
        found += experiment_found
        if table is not None:
            print(f"\n== {name} ==\n{table.to_string(index=False)}", file=out)
    lines = answers.answer_lines(found)
    if lines:
        print("\nAnswers (REPORT.md has the evidence):", file=out)
        for line in lines:
            print(f"  {line}", file=out)
    where = datasets.experiment_parent(options.logdir, overrides.get("dataset", datasets.DEFAULT_DATASET))
    print(f"\nTables (runs.csv, results.csv), figures (*.png) and reports (report.md) are in {where}/<experiment>/.",
          file=out)
    shown = os.path.relpath(options.logdir) if os.path.abspath(options.logdir).startswith(os.getcwd()) else options.logdir
    print(f"Look at the runs with:  tensorboard --logdir {shown}", file=out)


def planned_runs(experiment, overrides, options):
    """How many units the progress bar counts for `experiment`: its training runs over both
    stages (seed 0 of each tuned winner is reused, not counted twice); 1 for another kind."""
    if experiment.kind != registry.MLP:
        return 1
    seeds = _seeds(experiment, options)
    first = planning.first_stage(experiment, overrides)
    if not first:
        return len(planning.final_stage(experiment, overrides, seeds, None))
    if experiment.search:
        winners = experiment.search["top"] * len(planning.configurations(experiment))
        return len(first) + winners * (seeds - 1)
    winners = len({run.configuration for run in first})
    return len(first) + winners * max(seeds - experiment.tune_seeds, 0)


def _seeds(experiment, options):
    return options.seeds or experiment.seeds


def dry_run(experiment, overrides, options, out):
    seeds = _seeds(experiment, options)
    print(f"{experiment.name}: {experiment.question}", file=out)
    if experiment.kind != registry.MLP:
        params = ", ".join(f"{k}={v}" for k, v in experiment.params.items())
        print(f"  one {experiment.kind} experiment, {seeds} seed(s): {params}", file=out)
        return
    first = planning.first_stage(experiment, overrides)
    if first:
        for run in first:
            print(f"  {run.stage:<6} {run.run_id}", file=out)
        if experiment.tune:
            count = len({run.configuration for run in first})
            tuned_on = f" (by the mean over {experiment.tune_seeds} seeds)" if experiment.tune_seeds > 1 else ""
            print(f"  then the best {', '.join(experiment.tune)}{tuned_on} of each of {count} configuration(s) on "
                  f"{seeds} seed(s)", file=out)
        else:
            print(f"  then the best {experiment.search['top']} trial(s) on {seeds} seed(s)", file=out)
    else:
        for run in planning.final_stage(experiment, overrides, seeds, None):
            print(f"  {run.run_id}", file=out)


def run_other_kind(experiment, overrides, options, out, pool=None):
    """Experiments of another kind (experiments/kinds/registry.py): 2-D surfaces, deep linear networks,
    random searches, ... Those whose runs take the command line's data set go under its
    directory; the others have their own data and are run once, on the default location."""
    seeds = _seeds(experiment, options)
    dataset = overrides.get("dataset", datasets.DEFAULT_DATASET)
    if not registry.KINDS[experiment.kind].takes_data:
        if dataset != datasets.DEFAULT_DATASET:
            print(f"[{experiment.name}] has its own data, not --dataset {dataset}: its results in "
                  f"{os.path.join(options.logdir, experiment.name)} hold for every data set; not run here", file=out)
            return None, []
        dataset = "digits"
    exp_dir = planning.experiment_dir(options.logdir, experiment.name, dataset)
    os.makedirs(exp_dir, exist_ok=True)
    # Like a run's record: what the kind was asked, saved last, so a finished kind is not redone.
    done_path = os.path.join(exp_dir, KIND_DONE_FILE)
    asked = {
        "kind": experiment.kind, "params": experiment.params, "seeds": seeds,
        "claims": [dataclasses.asdict(c) for c in experiment.claims], "looks": _looks(experiment, options, seeds),
        "overrides": {k: v for k, v in overrides.items() if k in training_runs.SHARED_SETTINGS},
    }  # fmt: skip
    table_path = os.path.join(exp_dir, "results.csv")
    if not options.rerun and files.read_json(done_path) == asked and os.path.exists(table_path) and findings.load(exp_dir):
        print(f"[{experiment.name}] done before, skipped (--rerun to redo)", file=out, flush=True)
        return pd.read_csv(table_path), findings.load(exp_dir)["findings"]
    started = time.monotonic()
    budget = _looks(experiment, options, seeds)[-1]
    print(f"[{experiment.name}] {experiment.description} ...", file=out, flush=True)
    # The kind computes in this process (its training runs go to the pool): TensorFlow without
    # its start-up notices, which the kinds' own imports would print.
    from experiments.engine.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    trainer = training_runs.TrainingRuns(exp_dir, pool, overrides, out)  # the kind's runs go to the sweep's pool
    decided, looks = {}, []
    for look in _looks(experiment, options, seeds):
        result = registry.run(experiment.kind, experiment.params, look, exp_dir, trainer)
        looks.append(look)
        measured = result.measurements
        _decide(experiment, decided, looks,
                lambda claim, at, m=measured: claim_tests.evaluate(claim, experiment, [], m, dataset, at, budget))
        if all(f.verdict != "inconclusive" for f in decided.values()):
            break
    files.write_csv_atomic(os.path.join(exp_dir, "results.csv"), result.table)
    found = [*result.findings, *(decided[c.id] for c in experiment.claims)]
    for finding in result.findings:
        finding.dataset = dataset
    findings.save(exp_dir, experiment, found, seeds, len(result.table), result.figures, dataset=dataset)
    reports.write_experiment_report(experiment, exp_dir, result.table, found, seeds, [], result.figures, time.monotonic() - started)
    files.write_json_atomic(done_path, asked)
    print(f"[{experiment.name}] done in {duration(time.monotonic() - started)}", file=out, flush=True)
    return result.table, found


def _looks(experiment, options, seeds):
    """The numbers of seeds after which an undecided claim is looked at: the experiment's seeds,
    then that many more at a time, up to the claim's seed budget (`--max-seeds` or the spec's)."""
    if options.max_seeds is not None:
        experiment = dataclasses.replace(experiment, max_seeds=options.max_seeds)
    return experiment.seed_budget(seeds)


def _decide(experiment, decided, looks, evaluate):
    """Evaluates, at the latest look, each claim not decided at an earlier one; a decided claim
    keeps the verdict of the look that decided it (stopping there is what the sequence allows)."""
    for claim in experiment.claims:
        if claim.id not in decided or decided[claim.id].verdict == "inconclusive":
            decided[claim.id] = evaluate(claim, list(looks))


def _tune(experiment, overrides, options, pool, progress):
    """The first stage, then refinement rounds until each configuration's best tuned rate is
    interior and a quarter decade or finer (experiments/sweeps/planning.py)."""
    first = planning.first_stage(experiment, overrides)
    if not first:
        return None
    progress.add_total(len(first))
    records = execution.execute(first, options.logdir, pool, progress, options.rerun)
    for _ in range(planning.MAX_REFINEMENTS if experiment.tune else 0):
        more = planning.refine_tuning(experiment, overrides, records)
        if not more:
            break
        progress.add_total(len(more))
        records += execution.execute(more, options.logdir, pool, progress, options.rerun)
    return records


def _final_records(experiment, overrides, options, pool, progress, seeds, first_records, pending):
    """The final stage on `seeds` seeds through the normal plan (runs already done are read back,
    not trained), restricted to the configurations a pending claim reads."""
    final = planning.final_stage(experiment, overrides, seeds, first_records)
    if pending is not None:  # after the first look: only what an undecided claim reads
        final = [run for run in final if any(claim_tests.reads(c, experiment, run.config) for c in pending)]
    known = {r["run_id"] for r in first_records or []}
    todo = [r for r in final if r.run_id not in known]
    progress.add_total(len(todo))
    final_records = execution.execute(todo, options.logdir, pool, progress, options.rerun)
    by_id = {r["run_id"]: r for r in first_records or []}
    for run in final:
        if run.run_id in by_id:
            by_id[run.run_id] = {**by_id[run.run_id], "stage": "final"}
    for record in final_records:
        by_id[record["run_id"]] = record
    return final, [outcomes.with_outcome(r) for r in by_id.values()]


def run_one(experiment, overrides, options, pool, progress, out):
    """Runs one experiment; returns its table and its findings."""
    progress.begin(experiment.name)  # the stages below draw on the units planned for it
    if experiment.kind != registry.MLP:
        result = run_other_kind(experiment, overrides, options, out, pool)
        progress.step(f"{experiment.name}: done")
        return result
    seeds = _seeds(experiment, options)
    first_records = _tune(experiment, overrides, options, pool, progress)
    looks_planned = _looks(experiment, options, seeds)
    decided, looks, records, trained = {}, [], {}, []
    for look in looks_planned:
        pending = [c for c in experiment.claims if decided[c.id].verdict == "inconclusive"] if decided else None
        final, more = _final_records(experiment, overrides, options, pool, progress, look, first_records, pending)
        trained += final
        records.update({r["run_id"]: r for r in more})
        looks.append(look)
        dataset = _dataset_of(final)
        _decide(experiment, decided, looks, lambda claim, at, d=dataset: claim_tests.evaluate(
            claim, experiment, list(records.values()), None, d, at, looks_planned[-1]))
        if all(f.verdict != "inconclusive" for f in decided.values()):
            break
    records = list(records.values())
    exp_dir = planning.experiment_dir(options.logdir, experiment.name, dataset)
    runs, summary = run_tables.write_experiment_outputs(experiment, records, exp_dir)
    hparams_sessions.write_session_groups(exp_dir, records)  # seeds aggregated per configuration
    found = [decided[c.id] for c in experiment.claims]
    table = run_tables.configuration_table(summary[summary.group.isin({r.group for r in trained})], experiment.varied_settings)
    shown = headline_figures.write(experiment, [r for r in records if r.get("stage") == "final"] or records, exp_dir)
    findings.save(exp_dir, experiment, found, looks[-1], len(records), shown, dataset=dataset)
    reports.write_experiment_report(experiment, exp_dir, table, found, looks[-1], records, shown)  # headline first
    progress.settle()  # units planned but not needed (a claim decided at an early look) leave the total
    return table, found


def _dataset_of(final):
    names = {run.config["dataset"] for run in final}
    return names.pop() if len(names) == 1 else datasets.DEFAULT_DATASET


def write_reports(logdir, specs_dir, tensorboard, out):
    """REPORT.md (claims.json, the forest plot) for what has been run under `logdir`; with
    `tensorboard`, the same report and figures as a TensorBoard run. Returns the exit status."""
    from experiments import spec

    try:
        path = reports.build(logdir, specs_dir or spec.SPECS_DIR)
        print(f"Report: {path}", file=out)
        hparams_sessions.write_suite_experiment(logdir)  # the suite's HParams columns
        if tensorboard:
            from experiments.report import tensorboard_report

            where = tensorboard_report.write(logdir, specs_dir or spec.SPECS_DIR)
            print(f"The report in TensorBoard (Text and Images):  tensorboard --logdir {where}", file=out)
    except Exception as error:
        return stop_on_write_error(error, logdir)
    return 0
