"""Runs whole experiments: plan, train what is not done, write tables, figures and reports."""

import datetime
import os
import time

from experiments import analyses, files, findings, results, spec, sweep


def run_experiments(experiments, overrides, args, out):
    """Returns the process exit status: 0, or 130 when interrupted (rerun to resume)."""
    if args.dry_run:
        for experiment in experiments:
            dry_run(experiment, overrides, args, out)
        return 0

    from experiments.workers import make_pool

    # With --jobs > 1 only the workers import TensorFlow: this process plans and writes tables.
    pool = make_pool(args.jobs, verbose=args.verbose, backend=overrides.get("backend"))
    started = time.monotonic()
    progress = sweep.Progress(0, out)
    tables = {}
    try:
        for experiment in experiments:
            tables[experiment.name] = run_one(experiment, overrides, args, pool, progress, out)
    except KeyboardInterrupt:
        print("\nInterrupted. Finished runs are kept; run the same command again to resume.", file=out)
        return 130
    finally:
        pool.close()

    elapsed = time.monotonic() - started
    print(f"\nDone in {elapsed / 60:.1f} min.", file=out)
    for name, table in tables.items():
        print(f"\n== {name} ==\n{table.to_string(index=False)}", file=out)
    print(f"\nLogs, tables (results.csv), figures (*.png) and reports (report.md) are in {args.logdir}/<experiment>/.", file=out)
    shown = os.path.relpath(args.logdir) if os.path.abspath(args.logdir).startswith(os.getcwd()) else args.logdir
    print(f"Look at the runs with:  tensorboard --logdir {shown}", file=out)
    return 0


def _seeds(experiment, args):
    return args.seeds or experiment.seeds


def dry_run(experiment, overrides, args, out):
    seeds = _seeds(experiment, args)
    print(f"{experiment.name}: {experiment.question}", file=out)
    if experiment.kind != "mlp":
        params = ", ".join(f"{k}={v}" for k, v in experiment.params.items())
        print(f"  one {experiment.kind} experiment, {seeds} seed(s): {params}", file=out)
        return
    first = sweep.first_stage(experiment, overrides)
    if first:
        for run in first:
            print(f"  {run.stage:<6} {run.run_id}", file=out)
        if experiment.tune:
            count = len({run.configuration for run in first})
            print(f"  then the best {', '.join(experiment.tune)} of each of {count} configuration(s) on {seeds} seed(s)", file=out)
        else:
            print(f"  then the best {experiment.search['top']} trial(s) on {seeds} seed(s)", file=out)
    else:
        for run in sweep.final_stage(experiment, overrides, seeds, None):
            print(f"  {run.run_id}", file=out)


def run_other_kind(experiment, args, out):
    """Experiments that are not MLP training runs (2-D surfaces, deep linear networks)."""
    import importlib

    seeds = _seeds(experiment, args)
    exp_dir = os.path.join(args.logdir, experiment.name)
    os.makedirs(exp_dir, exist_ok=True)
    started = time.monotonic()
    print(f"[{experiment.name}] {experiment.description} ...", file=out, flush=True)
    module = importlib.import_module(spec.KINDS[experiment.kind])
    table, found, figures = module.run(experiment.params, seeds, exp_dir)
    files.write_csv_atomic(os.path.join(exp_dir, "results.csv"), table)
    findings.save(exp_dir, experiment, found, seeds, len(table), figures)
    write_report(experiment, exp_dir, table, found, seeds, [], figures, time.monotonic() - started)
    print(f"[{experiment.name}] done in {time.monotonic() - started:.1f}s", file=out, flush=True)
    return table


def run_one(experiment, overrides, args, pool, progress, out):
    if experiment.kind != "mlp":
        return run_other_kind(experiment, args, out)
    seeds = _seeds(experiment, args)
    first = sweep.first_stage(experiment, overrides)
    if first:
        progress.add_total(len(first))
        first_records = sweep.execute(first, args.logdir, pool, progress, args.rerun)
    else:
        first_records = None
    final = sweep.final_stage(experiment, overrides, seeds, first_records)
    # Seed-0 runs that the first stage already trained are reused, not counted twice.
    known = {r["run_id"] for r in first_records or []}
    progress.add_total(sum(run.run_id not in known for run in final))
    final_records = sweep.execute([r for r in final if r.run_id not in known], args.logdir, pool, progress, args.rerun)
    by_id = {r["run_id"]: r for r in first_records or []}
    for run in final:
        if run.run_id in by_id:
            by_id[run.run_id] = {**by_id[run.run_id], "stage": "final"}
    for record in final_records:
        by_id[record["run_id"]] = record
    records = list(by_id.values())

    exp_dir = os.path.join(args.logdir, experiment.name)
    runs, summary = results.write_experiment_outputs(experiment, records, exp_dir)
    found = analyses.ANALYSES[experiment.analysis](experiment, summary, runs, records)
    table = results.display_table(summary[summary.group.isin({r.group for r in final})], experiment.varied_settings)
    findings.save(exp_dir, experiment, found, seeds, len(records))
    write_report(experiment, exp_dir, table, found, seeds, records)
    return table


def _files_note(experiment, exp_dir):
    if experiment.kind != "mlp":
        return f"The table as CSV: `results.csv`; the figures also in TensorBoard: `tensorboard --logdir {exp_dir}`."
    return (
        "Every run: `runs.csv`; per configuration with all metrics: `results.csv`; curves, learning rate, "
        f"gradient statistics and hyperparameters: `tensorboard --logdir {exp_dir}`."
    )


def write_report(experiment, exp_dir, table, found, seeds, records, figures=("curves.png",), wall=None):
    if experiment.kind == "mlp":
        fixed = ", ".join(f"{k}={v}" for k, v in experiment.fixed.items()) or "the defaults"
        statuses = {s: sum(r["status"] == s for r in records) for s in ("ok", "diverged", "failed")}
        versions = next((r["versions"] for r in records if r.get("versions")), {})
        wall = sum(r.get("wall_time_s", 0) for r in records)
        setup = (
            f"**Varied:** {', '.join(experiment.varied_settings) or 'nothing'}. **Fixed:** {fixed}.\n"
            f"**Seeds per configuration:** {seeds}. **Runs:** {len(records)} ({statuses['ok']} ok, "
            f"{statuses['diverged']} diverged, {statuses['failed']} failed), {wall / 60:.1f} min of training."
        )
    else:
        from experiments.training import versions as package_versions

        versions = package_versions()
        setup = (
            f"**Parameters:** {', '.join(f'{k}={v}' for k, v in experiment.params.items())}.\n"
            f"**Seeds:** {seeds}. {wall:.0f} s."
        )
    images = "\n".join(f"![{name}]({name})" for name in figures)
    text = f"""# {experiment.name}

{experiment.description}

**Question.** {experiment.question}

{setup}

## Answer

{chr(10).join(f.markdown() for f in found)}

## Results

{table.to_markdown(index=False)}

{images}

{_files_note(experiment, exp_dir)}

_Generated {datetime.datetime.now().isoformat(timespec='seconds')} with {', '.join(f'{k} {v}' for k, v in versions.items())}._
"""
    files.write_text_atomic(os.path.join(exp_dir, "report.md"), text)
