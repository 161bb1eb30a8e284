"""Experiments of other kinds follow --dataset where their runs train the project's network, and
say so, without running, where they have data of their own."""

import json

from experiments import cli
from experiments.evidence import findings


def test_a_kind_of_training_runs_trains_on_the_data_set_asked_for(tmp_path, capsys):
    logdir = tmp_path / "logs"
    argv = ["shuffle_each_epoch", "--size", "quick", "--seeds", "1", "--dataset", "mnist1d", "--set", "limit=200",
            "--logdir", str(logdir)]  # fmt: skip
    assert cli.main(argv) == 0
    exp_dir = logdir / "mnist1d" / "shuffle_each_epoch"
    assert findings.load(str(exp_dir))["dataset"] == "mnist1d"
    assert all(f["dataset"] == "mnist1d" for f in findings.load(str(exp_dir))["findings"])
    configs = [json.loads(p.read_text()) for p in exp_dir.glob("*/config.json")]
    assert configs and all(c["dataset"] == "mnist1d" and c["limit"] == 200 for c in configs)
    assert not (logdir / "shuffle_each_epoch").exists()


def test_a_kind_with_its_own_data_is_not_run_under_another_data_set(tmp_path, capsys):
    logdir = tmp_path / "logs"
    assert cli.main(["surfaces", "--size", "quick", "--dataset", "mnist1d", "--logdir", str(logdir)]) == 0
    out = capsys.readouterr().out
    assert "has its own data" in out and "not run here" in out
    assert not (logdir / "mnist1d" / "surfaces").exists() and not (logdir / "surfaces").exists()


def test_a_finished_kind_is_not_redone_unless_asked(tmp_path, capsys):
    logdir = tmp_path / "logs"
    argv = ["softmax_cross_entropy", "--size", "quick", "--seeds", "1", "--logdir", str(logdir)]
    assert cli.main(argv) == 0
    first = (logdir / "softmax_cross_entropy" / findings.FINDINGS_FILE).read_text()
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "done before, skipped" in capsys.readouterr().out
    assert (logdir / "softmax_cross_entropy" / findings.FINDINGS_FILE).read_text() == first
    # Other seeds, or --rerun: run again.
    assert cli.main([*argv[:-4], "--seeds", "2", "--logdir", str(logdir)]) == 0
    assert "done before" not in capsys.readouterr().out
    assert cli.main([*argv, "--rerun"]) == 0
    assert "done before" not in capsys.readouterr().out
