"""A failed write stops the sweep with one line and exit status 1: no traceback, the finished runs
kept intact, and the interrupted run trained again by the same command once there is room.

Two ways: a writer made to fail (always runs), and a real 400 KiB file system (tmpfs; needs
root and `mount`, as on CI's Linux runners; skipped where mounting is not permitted)."""

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from tiny_specs import tiny_sweep

from experiments import cli
from experiments.engine import run_directory
from experiments.outputs import files

TINY = tiny_sweep(epochs=2, rates=(0.05, 0.5), tables="")


def _spec(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    (specs / "tiny.toml").write_text(textwrap.dedent(TINY))
    return str(specs)


def _records(logdir):
    return sorted(p for p in logdir.rglob(run_directory.RECORD_FILE))


def test_write_failure_names_the_cause():
    assert files.write_failure(OSError(errno.ENOSPC, "No space left on device")) == "no space left on device"
    assert files.write_failure(OSError(errno.ENOENT, "No such file or directory")) is None
    assert files.write_failure(ValueError("bad value")) is None

    class ResourceExhaustedError(Exception):  # TensorFlow's, flushing an event file
        pass

    error = ResourceExhaustedError("logs/run/events.out.tfevents.1; No space left on device")
    assert files.write_failure(error) == "no space left on device"
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system")
        except OSError:
            raise RuntimeError("while writing error.txt")  # noqa: B904 - the context is the point
    except RuntimeError as chained:
        assert files.write_failure(chained) == "read-only file system"


def test_a_failing_writer_stops_the_sweep_and_resume_redoes_the_run(tmp_path, monkeypatch, capsys):
    specs, logdir = _spec(tmp_path), tmp_path / "logs"
    real_write_record = run_directory.write_record
    written = []

    def full_after_two(run_dir, record):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", os.path.join(run_dir, "record.json"))
        written.append(run_dir)
        real_write_record(run_dir, record)

    monkeypatch.setattr(run_directory, "write_record", full_after_two)
    argv = ["tiny", "--specs-dir", specs, "--logdir", str(logdir)]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    error_lines = captured.err.strip().splitlines()
    assert error_lines == [
        f"run.py: error: no space left on device under {logdir}: 2 runs kept; "
        "free space and rerun the same command to resume"
    ]
    assert "Traceback" not in captured.out + captured.err
    kept = _records(logdir)
    assert len(kept) == 2 and all(json.loads(p.read_text())["status"] == "ok" for p in kept)
    before = {p: p.read_bytes() for p in kept}
    assert not (logdir / "tiny" / "runs.csv").exists()  # nothing half-made: the tables come after the runs

    monkeypatch.setattr(run_directory, "write_record", real_write_record)
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("done before, skipped") == 2
    assert len(_records(logdir)) == 4
    assert all(p.read_bytes() == before[p] for p in kept)  # the kept runs untouched
    assert (logdir / "REPORT.md").exists()


def _mount_small_tmpfs(path):
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs Linux and root")
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mount not permitted here: {done.stderr.decode().strip()}")


def test_a_full_file_system_ends_in_one_line_and_resumes(tmp_path):
    small = tmp_path / "small"
    _mount_small_tmpfs(small)
    try:
        specs, logdir = _spec(tmp_path), small / "logs"
        filler = small / "filler"
        filler.write_bytes(b"\0" * 300 * 1024)  # leaves room for a run or two, not four
        command = [sys.executable, "experiments/run.py", "tiny", "--specs-dir", specs, "--logdir", str(logdir)]
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        done = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=300)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(f"run.py: error: no space left on device under {logdir}: ")
        assert last.endswith("free space and rerun the same command to resume")
        kept = {p: p.read_bytes() for p in _records(logdir)}
        assert all(json.loads(data)["config"] for data in kept.values())  # strict JSON, whole

        filler.unlink()
        done = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.count("done before, skipped") == len(kept)
        assert len(_records(logdir)) == 4
        assert all(p.read_bytes() == data for p, data in kept.items())
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
