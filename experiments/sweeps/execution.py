"""Runs what a plan asks for and is not done yet, on a pool; a finished run is never trained twice."""

from experiments.engine import run_directory


def execute(runs, logdir, pool, progress, rerun=False):
    """Runs what is not done yet; returns each run's record in the order of `runs`."""
    records = {}
    todo = []
    for run in runs:
        if not rerun and run_directory.is_done(run.directory(logdir), run.config):
            records[run.run_id] = run_directory.read_record(run.directory(logdir))
            progress.finished(run, records[run.run_id], skipped=True)
        elif run.run_id not in {r.run_id for r in todo}:
            todo.append(run)
    for run in todo:
        run_directory.clear(run.directory(logdir))
    running = getattr(pool, "running", lambda: 0)
    for run, record in pool.map_runs(todo, logdir):
        records[run.run_id] = record
        progress.finished(run, record, running=running())
    return [records[run.run_id] for run in runs]
