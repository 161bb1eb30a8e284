"""The runner end to end on tiny experiments in a temporary directory: what it writes, resume,
divergence, tuning, random search, reproducibility, and TensorBoard reading it all back."""

import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pandas as pd
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tiny_specs import tiny_sweep

from experiments import cli
from experiments.config.settings import resolve
from experiments.engine.training import train_run

TINY = tiny_sweep(top="max_seeds = 2  # a fixed plan: no extra seeds for undecided claims")


def _spec(tmp_path, name, text):
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    (specs / f"{name}.toml").write_text(textwrap.dedent(text))
    return str(specs)


def _run(tmp_path, name, *extra):
    argv = [name, "--specs-dir", str(tmp_path / "specs"), "--logdir", str(tmp_path / "logs"), *extra]
    return cli.main(argv)


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("sweep")
    _spec(tmp_path, "tiny", TINY)
    assert _run(tmp_path, "tiny") == 0
    return tmp_path


def test_results_table_has_every_run_with_its_status(tiny_sweep):
    runs = pd.read_csv(tiny_sweep / "logs" / "tiny" / "runs.csv")
    assert sorted(runs.run_id) == ["lr=0.05_seed0", "lr=0.05_seed1", "lr=1e+06_seed0", "lr=1e+06_seed1"]
    status = dict(zip(runs.run_id, runs.status))
    assert status["lr=0.05_seed0"] == status["lr=0.05_seed1"] == "ok"
    assert status["lr=1e+06_seed0"] == status["lr=1e+06_seed1"] == "diverged"
    assert runs[runs.status == "diverged"].reason.str.len().min() > 0

    summary = pd.read_csv(tiny_sweep / "logs" / "tiny" / "results.csv")
    ok_row = summary[summary.group == "lr=0.05"].iloc[0]
    assert (ok_row.n, ok_row.ok, ok_row.diverged) == (2, 2, 0)
    seeds = runs[runs.group == "lr=0.05"].val_loss
    assert ok_row.val_loss_mean == pytest.approx(seeds.mean())
    assert ok_row.val_loss_std == pytest.approx(seeds.std(ddof=1))
    bad_row = summary[summary.group == "lr=1e+06"].iloc[0]
    assert (bad_row.ok, bad_row.diverged) == (0, 2)
    assert pd.isna(bad_row.val_loss_mean)  # NaN never flows into averages


def test_each_run_saves_config_record_and_readable_events(tiny_sweep):
    run_dir = tiny_sweep / "logs" / "tiny" / "lr=0.05_seed1"
    config = json.loads((run_dir / "config.json").read_text())
    assert config == resolve({"optimizer": "sgd", "epochs": 3, "limit": 240, "width": 8, "batch_size": 8,
                              "learning_rate": 0.05, "seed": 1})
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "ok" and record["config"] == config
    assert len(record["history"]["val_loss"]) == 3
    assert set(record["versions"]) >= {"tensorflow", "keras", "numpy", "python"}

    train = event_accumulator.EventAccumulator(str(run_dir / "train")).Reload()
    validation = event_accumulator.EventAccumulator(str(run_dir / "validation")).Reload()
    assert "epoch_loss" in train.Tags()["tensors"] + train.Tags()["scalars"]
    assert "epoch_loss" in validation.Tags()["tensors"] + validation.Tags()["scalars"]
    # HParams live in the run's own directory, so TensorBoard shows no empty extra run.
    root = event_accumulator.EventAccumulator(str(run_dir)).Reload()
    content = root.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["learning_rate"].number_value == pytest.approx(0.05)
    assert hparams["optimizer"].string_value == "sgd"
    assert hparams["seed"].number_value == 1
    assert hparams["outcome"].string_value == "ok"  # HParams shows each run's outcome
    diverged = event_accumulator.EventAccumulator(str(tiny_sweep / "logs" / "tiny" / "lr=1e+06_seed1")).Reload()
    content = diverged.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    outcome = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams["outcome"]
    assert outcome.string_value == "diverged"


def test_report_and_figure_are_written(tiny_sweep):
    exp_dir = tiny_sweep / "logs" / "tiny"
    report = (exp_dir / "report.md").read_text()
    assert "does a huge rate diverge?" in report
    # Two seeds that agree exactly decide nothing: the rule asks for more (experiments/evidence/decision.py).
    assert "A learning rate that is too large makes the loss explode** — _inconclusive_" in report
    assert "(n=2, Wilson score); about 4 seeds would settle it" in report  # 4 of 4: Wilson's low end 0.51
    assert (exp_dir / "curves.png").stat().st_size > 10_000


def test_rerun_skips_completed_runs_and_redoes_interrupted_ones(tiny_sweep, capsys):
    exp_dir = tiny_sweep / "logs" / "tiny"
    record = exp_dir / "lr=0.05_seed0" / "record.json"
    before = record.stat().st_mtime_ns
    # A run killed half-way has no record.json: it is redone, the others are skipped.
    (exp_dir / "lr=0.05_seed1" / "record.json").unlink()
    capsys.readouterr()
    assert _run(tiny_sweep, "tiny") == 0
    out = capsys.readouterr().out
    assert out.count("done before, skipped") == 3
    assert "lr=0.05_seed1: ok" in out
    assert record.stat().st_mtime_ns == before
    assert len(pd.read_csv(exp_dir / "runs.csv")) == 4


def test_changed_settings_are_not_mistaken_for_done_runs(tiny_sweep, capsys):
    capsys.readouterr()
    assert _run(tiny_sweep, "tiny", "--set", "width=6") == 0
    assert "done before, skipped" not in capsys.readouterr().out


def test_same_seed_same_numbers(tmp_path):
    config = resolve({"epochs": 2, "limit": 200, "width": 8, "seed": 3})
    first = train_run(config, str(tmp_path / "a"))
    second = train_run(config, str(tmp_path / "b"))
    assert first["history"] == second["history"]


def test_an_in_process_sweep_with_reused_models_gives_one_model_per_runs_numbers(tmp_path, monkeypatch):
    """The sweep as `--jobs 1` runs it: every configuration in this process, sharing the spec's
    number objects, one compiled model per key reset between runs; against a fresh model each."""
    from experiments.engine import compiled_models, training

    _spec(tmp_path, "held", """
        description = "momentum and Adam's betas, held in variables"
        question = "does a reused model take each run's values?"
        seeds = 2
        max_seeds = 2  # a fixed plan: no extra seeds for undecided claims
        [fixed]
        epochs = 2
        limit = 160
        width = 8
        batch_size = 16
        [vary]
        optimizer = ["sgd", "adam"]
        momentum = [0.5, 0.95]
        beta_2 = [0.9, 0.999]
    """)  # fmt: skip
    records = {}
    for path, cache in (("reused", compiled_models.CompiledModels()), ("fresh", None)):
        monkeypatch.setattr(training, "COMPILED_MODELS", cache)
        logdir = tmp_path / path
        assert cli.main(["held", "--specs-dir", str(tmp_path / "specs"), "--logdir", str(logdir), "--jobs", "1",
                         "--no-stack-seeds"]) == 0  # one run at a time: the per-run model cache
        runs = sorted(logdir.glob("held/*/record.json"))
        records[path] = {run.parent.name: json.loads(run.read_text()) for run in runs}
    assert len(records["reused"]) == 16 and records["reused"].keys() == records["fresh"].keys()
    assert sum(r["reused_compiled_model"] for r in records["reused"].values()) >= 12
    for name, record in records["reused"].items():
        fresh = records["fresh"][name]
        assert (record["history"], record["status"]) == (fresh["history"], fresh["status"]), name


def test_tuning_gives_each_arm_its_own_best_rate(tmp_path, capsys):
    _spec(tmp_path, "tuned", """
        description = "two arms, tuned"
        question = "which arm?"
        seeds = 2
        max_seeds = 2  # a fixed plan: no extra seeds for undecided claims
        [fixed]
        epochs = 2
        limit = 240
        width = 8
        [tune]
        learning_rate = [0.0001, 0.1]
        [[arms]]
        label = "sgd"
        optimizer = "sgd"
        [[arms]]
        label = "adam"
        optimizer = "adam"
        """)
    assert _run(tmp_path, "tuned") == 0
    runs = pd.read_csv(tmp_path / "logs" / "tuned" / "runs.csv")
    tune = runs[runs.stage == "tune"]
    assert len(tune) == 2  # the two losing rates; the winners' seed-0 runs became final
    final = runs[runs.stage == "final"]
    assert len(final) == 4
    for arm in ("sgd", "adam"):
        arm_runs = runs[runs.group.str.startswith(arm + "_")]
        best_lr = arm_runs[arm_runs.seed == 0].sort_values("val_loss").learning_rate.iloc[0]
        assert set(final[final.group.str.startswith(arm + "_")].learning_rate) == {best_lr}


def test_random_search_reruns_the_best_trials_over_seeds(tmp_path):
    _spec(tmp_path, "search", """
        description = "random search"
        question = "what does it find?"
        seeds = 2
        max_seeds = 2  # a fixed plan: no extra seeds for undecided claims
        [fixed]
        optimizer = "sgd"
        epochs = 1
        limit = 200
        width = 8
        [search]
        trials = 3
        top = 1
        learning_rate = { log_uniform = [0.001, 1.0] }
        batch_size = { choice = [16, 64] }
        """)
    assert _run(tmp_path, "search") == 0
    runs = pd.read_csv(tmp_path / "logs" / "search" / "runs.csv")
    assert len(runs[runs.seed == 0]) == 3
    final = runs[runs.stage == "final"]
    assert sorted(final.seed) == [0, 1] and final.group.nunique() == 1
    assert "trial00" in (tmp_path / "logs" / "search" / "report.md").read_text()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_tensorboard_server_finds_the_runs_and_tags(tiny_sweep):
    port = _free_port()
    logdir = tiny_sweep / "logs" / "tiny"
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
         "--port", str(port), "--load_fast", "false", "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        runs = []
        while time.monotonic() < deadline:
            try:
                runs = _get_json(f"http://127.0.0.1:{port}/data/runs")
                if "lr=0.05_seed0/validation" in runs:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert "lr=0.05_seed0/train" in runs and "lr=0.05_seed0/validation" in runs
        assert "lr=0.05_seed0" in runs or any(r.startswith("lr=0.05_seed0") for r in runs)
        tags = _get_json(f"http://127.0.0.1:{port}/data/plugin/scalars/tags")
        assert "epoch_loss" in tags["lr=0.05_seed0/validation"]
        assert "epoch_accuracy" in tags["lr=0.05_seed0/train"]
    finally:
        server.terminate()
        server.wait(timeout=10)
