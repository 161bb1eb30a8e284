"""`--stack-seeds`: a pool that trains the seeds of each configuration as one stacked model
(experiments/stacked.py) in this process, and every other run as the serial pool does.

Runs whose configs differ only in the seed form one group; a group of two or more seeds that
`stacked.check_stackable` accepts is trained by one `train_stacked` call, up to `max_members`
seeds at a time. Each member's run directory gets what `workers.run_and_record` writes:
config.json first, the member's HParams, epoch curves and metrics.jsonl, then record.json last,
with the same fields (experiment, run_id, group, configuration, stage, seed, config, node,
warnings, outcome). A group that raises is recorded as failed, run by run, like a raising run.
"""

import json
import time
import traceback
import warnings

from experiments import rundir, workers

DEFAULT_MAX_MEMBERS = 32


def group_key(config):
    return json.dumps({k: v for k, v in config.items() if k != "seed"}, sort_keys=True)


class StackedPool:
    def __init__(self, verbose=False, backend=None, max_members=DEFAULT_MAX_MEMBERS):
        self.serial = workers.SerialPool(verbose, backend)
        self.verbose, self.max_members = verbose, max_members

    def map_runs(self, runs, logdir):
        from experiments import stacked

        groups = {}
        for run in runs:
            groups.setdefault(group_key(run.config), []).append(run)
        for members in groups.values():
            try:
                stacked.check_stackable(members[0].config, [run.config["seed"] for run in members])
                stackable = len(members) > 1
            except stacked.NotStackable:
                stackable = False
            if not stackable:
                yield from self.serial.map_runs(members, logdir)
                continue
            for start in range(0, len(members), self.max_members):
                yield from self._train(members[start : start + self.max_members], logdir)

    def _train(self, members, logdir):
        from experiments import stacked

        directories = [run.directory(logdir) for run in members]
        for run, directory in zip(members, directories):
            rundir.write_config(directory, run.config)
        started = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                records = stacked.train_stacked(
                    members[0].config,
                    [run.config["seed"] for run in members],
                    run_dirs=directories,
                    verbose=self.verbose,
                )
            noted = sorted({f"{w.category.__name__}: {w.message}" for w in caught if not workers._is_noise(w)})
        except Exception as error:  # noqa: BLE001 - a failed group is recorded; the sweep goes on
            text = traceback.format_exc()
            reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            wall = (time.perf_counter() - started) / len(members)
            records = [{"status": "failed", "reason": reason, "metrics": {}, "wall_time_s": wall} for _ in members]
            for directory in directories:
                rundir.write_error(directory, text)
            noted = None
        for run, directory, record in zip(members, directories, records):
            if noted is not None:
                record["warnings"] = noted
            record = workers.finished_record(run, record)
            rundir.write_record(directory, record)
            yield run, record

    def close(self):
        self.serial.close()
