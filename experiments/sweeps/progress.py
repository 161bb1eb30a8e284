"""Progress of a command: one line per finished run, with the runs done of the planned total
and the time left."""

import time


class Progress:
    """One line per finished run: runs done of total (and how many are training), the run, its
    outcome, time left."""

    def __init__(self, total, out):
        self.total, self.done, self.out = total, 0, out
        self.start_time = time.monotonic()
        self.run_seconds = []

    def add_total(self, n):
        self.total += n

    def finished(self, run, record, skipped=False, running=0):
        self.done += 1
        if skipped:
            outcome = "done before, skipped"
        else:
            self.run_seconds.append(record.get("wall_time_s", 0.0))
            metrics = record.get("metrics") or {}
            outcome = record["status"]
            if metrics.get("val_accuracy") is not None and metrics.get("val_loss") is not None:
                outcome += f"  val_acc={metrics['val_accuracy']:.3f} val_loss={metrics['val_loss']:.3f}"
            if record.get("reason"):
                outcome += f"  ({record['reason']})"
            outcome += f"  {record.get('wall_time_s', 0):.1f}s"
        eta = ""
        if self.run_seconds:
            elapsed = time.monotonic() - self.start_time
            per_run = elapsed / len(self.run_seconds)
            eta = f"  ~{_duration(per_run * (self.total - self.done))} left"
        waiting = self.total - self.done - running
        counts = f"{self.done}/{self.total}" + (f", {running} running, {waiting} waiting" if running else "")
        print(f"[{counts}] {run.experiment}/{run.run_id}: {outcome}{eta}", file=self.out, flush=True)


def _duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
