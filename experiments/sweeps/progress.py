"""Progress of a command: every stage of every experiment against one planned total.

On a terminal, one bar (rich): runs done of the planned total, the rate, the time left, and the
last run's outcome. Elsewhere (a file, a pipe, CI's log), one plain line per finished run with
the same counts. Times read in seconds below a minute ("12.3 s"), then minutes ("4 min 05 s").
"""

import sys
import time


def duration(seconds):
    """`seconds` in words a reader takes in at a glance: "0.4 s", "12 s", "4 min 05 s", "1 h 02 min"."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    seconds = int(round(seconds))
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def outcome_text(record, skipped=False):
    """A finished run's outcome in one phrase: status, validation accuracy and loss, why, time."""
    if skipped:
        return "done before, skipped"
    metrics = record.get("metrics") or {}
    text = record["status"]
    if metrics.get("val_accuracy") is not None and metrics.get("val_loss") is not None:
        text += f"  val_acc={metrics['val_accuracy']:.3f} val_loss={metrics['val_loss']:.3g}"
    if record.get("reason"):
        text += f"  ({record['reason']})"
    return text + f"  {duration(record.get('wall_time_s', 0))}"


class Progress:
    """Runs done of the planned total (`add_total` when a plan is known, `correct_total` when a
    stage turns out other than planned). `bar=None` draws a bar when `out` is a terminal."""

    def __init__(self, total, out, bar=None):
        self.total, self.done, self._out = total, 0, out
        self.start_time = time.monotonic()
        self.trained = 0  # runs trained by this command (not skipped): the rate counts these
        self._bar = None
        self._reserved, self._current = {}, None
        if bar or (bar is None and _is_terminal(out)):
            self._start_bar()

    def _start_bar(self):
        from rich.console import Console
        from rich.file_proxy import FileProxy
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        console = Console(file=self._out)
        self._bar = Bar(
            BarColumn(), MofNCompleteColumn(), TextColumn("runs  {task.fields[rate]}"), TimeElapsedColumn(),
            TextColumn("left"), TimeRemainingColumn(), TextColumn("{task.description}"), console=console,
            redirect_stdout=False, redirect_stderr=False, transient=False,
        )  # fmt: skip
        self._task = self._bar.add_task("", total=self.total or None, rate="")
        self._bar.start()
        self._proxy = FileProxy(console, self._out)  # other lines go above the bar, not through it

    @property
    def out(self):
        """Where the command's other lines go while the bar is drawn: above it."""
        return self._proxy if self._bar is not None else self._out

    def reserve(self, key, n):
        """Plans `n` units for `key` (an experiment) before anything runs: the total counts them."""
        self._reserved[key] = self._reserved.get(key, 0) + n
        self.add_total(n, planned=True)

    def begin(self, key):
        """From now on `add_total` draws on `key`'s planned units first."""
        self.settle()
        self._current = key

    def settle(self):
        """The current key's planned units not drawn on leave the total (its plan was smaller)."""
        left = self._reserved.pop(self._current, 0)
        self._current = None
        self.add_total(-left, planned=True)

    def add_total(self, n, planned=False):
        """`n` more units; those the current key planned are already counted."""
        if not planned and self._current in self._reserved:
            drawn = min(n, self._reserved[self._current])
            self._reserved[self._current] -= drawn
            n -= drawn
        self.total += n
        if self._bar is not None:
            self._bar.update(self._task, total=max(self.total, self.done))

    def step(self, label, count=1):
        """`count` planned units done that are not training runs (an experiment of another kind)."""
        self.done += count
        if self._current in self._reserved:  # planned: already in the total
            self._reserved[self._current] -= min(count, self._reserved[self._current])
        else:
            self.add_total(count)
        self._show(label)

    def finished(self, run, record, skipped=False, running=0):
        self.done += 1
        self.trained += not skipped
        line = f"{run.experiment}/{run.run_id}: {outcome_text(record, skipped)}"
        if self._bar is None:
            waiting = max(self.total - self.done - running, 0)
            counts = f"{self.done}/{self.total}" + (f", {running} running, {waiting} waiting" if running else "")
            print(f"[{counts}] {line}{self._eta()}", file=self._out, flush=True)
        else:
            self._show(line)

    def _show(self, label):
        if self._bar is None:
            return
        elapsed = max(time.monotonic() - self.start_time, 1e-9)
        rate = f"{self.done / elapsed:.2f}/s" if self.done else ""
        self._bar.update(self._task, completed=self.done, total=max(self.total, self.done), description=label, rate=rate)

    def _eta(self):
        if not self.trained:
            return ""
        per_unit = (time.monotonic() - self.start_time) / self.trained
        return f"  ~{duration(per_unit * max(self.total - self.done, 0))} left"

    def close(self):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def elapsed(self):
        return time.monotonic() - self.start_time


def _is_terminal(out):
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and out in (sys.stdout, sys.stderr)
