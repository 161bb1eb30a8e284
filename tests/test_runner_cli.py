"""The runner's command line: bad input fails early and clearly; --list and --dry-run train nothing."""

import os
import subprocess
import sys
import textwrap

import pytest

from experiments import cli, spec
from experiments.sweeps import planning

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _error(capsys, argv):
    status = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("run.py: error: ")
    return err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["no_such_experiment"], "unknown experiment(s) no_such_experiment; available: adagrad_vs_rmsprop, adam_bias_correction"),
        (["--set", "bach_size=8"], "unknown setting 'bach_size'. Did you mean batch_size"),
        (["--set", "batch_size"], "--set takes KEY=VALUE"),
        (["--set", "width=wide"], "width must be an int >= 1; got 'wide'"),
        (["--set", "batch_norm=maybe"], "batch_norm must be true or false; got 'maybe'"),
        (["--set", "momentum=1.5"], "momentum must be a float >= 0 and < 1; got 1.5"),
        (["--set", "learning_rate=-0.1"], "learning_rate must be a float > 0; got -0.1"),
        (["--set", "optimizer=adamw"], "optimizer must be one of 'sgd', 'adagrad'"),
        (["--set", "batch_size=half"], "batch_size must be an int >= 1 or 'full'; got 'half'"),
        (["--epochs", "0"], "epochs must be an int >= 1; got 0"),
        (["--dataset", "cifar"], "dataset must be one of 'digits', 'mnist5k', 'mnist1d', 'mnist', 'fashion_mnist', 'cifar10' or package.module:function; got 'cifar'"),
        (["--seeds", "0"], "--seeds must be >= 1; got 0"),
        (["--jobs", "0"], "--jobs must be >= 1; got 0"),
        (["--size", "huge"], "argument --size: invalid choice: 'huge'"),
        (["learning_rate", "--set", "learning_rate=0.1", "--dry-run"],
         "--set learning_rate: experiment learning_rate varies learning_rate over 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0"),
        (["optimizers", "--set", "momentum=0.5"], "experiment optimizers varies momentum over 0.0, 0.9"),
        (["random_search", "--set", "width=64"], "varies width over a random search (choice [32, 64, 128, 256])"),
        (["--ray", "auto", "--jobs", "2"], "--jobs and --ray are alternatives"),
        (["--ray-cpus", "2"], "--ray-cpus and --ray-gpus need --ray ADDRESS"),
        (["--ray", "auto", "--ray-cpus", "0"], "--ray-cpus must be > 0; got 0"),
        (["--ray", "auto", "--ray-gpus", "-1"], "--ray-gpus must be >= 0; got -1"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, expected):
    assert expected in _error(capsys, argv)


def test_ray_asked_for_but_not_installed(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert _error(capsys, ["learning_rate", "--ray", "auto"]) == (
        'run.py: error: --ray needs Ray, which is not installed: pip install -e ".[ray]"'
    )


def test_without_ray_the_command_line_does_not_import_it(capsys):
    assert cli.main(["learning_rate", "--dry-run"]) == 0
    assert cli.runner_options(cli.build_parser().parse_args(["learning_rate"])).cluster is None
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from experiments import cli; cli.main(['learning_rate', '--dry-run']); "
         "print('ray' in sys.modules)"], cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_the_runner_takes_an_options_object(capsys, tmp_path):
    from experiments.config.options import RunnerOptions
    from experiments.runner import run_experiments

    experiment = spec.load("learning_rate", "quick")
    options = RunnerOptions(logdir=str(tmp_path), seeds=1, dry_run=True)
    assert run_experiments([experiment], {"optimizer": "sgd"}, options, sys.stdout) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "_seed" in line]
    assert len(lines) == len(experiment.vary["learning_rate"]) and all(line.endswith("_seed0") for line in lines)


def test_unwritable_logdir(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert "is not writable" in _error(capsys, ["learning_rate", "--logdir", str(blocker / "logs")])


def _write_spec(directory, name, text):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}.toml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))
    return path


VALID = """
    description = "tiny"
    question = "does it run?"
    [fixed]
    epochs = 1
    [vary]
    learning_rate = [0.01, 0.1]
"""


@pytest.mark.parametrize(
    "text, expected",
    [
        ("colour = 'red'\n" + VALID, "unknown key(s) ['colour']"),
        (VALID + "colour = ['red']\n", "unknown setting 'colour'"),
        (VALID.replace('description = "tiny"', ""), "`description` (a non-empty string) is required"),
        (VALID.replace("epochs = 1", "epoch = 1"), "unknown setting 'epoch'. Did you mean epochs"),
        (VALID.replace("epochs = 1", "epochs = 'ten'"), "epochs must be an int >= 1; got 'ten'"),
        (VALID.replace("[0.01, 0.1]", "[]"), "`learning_rate` must list at least one value"),
        ("seeds = 0\n" + VALID, "`seeds` must be an integer >= 1"),
        (VALID.replace("[fixed]", "metric = 'speed'\n[fixed]"), "`metric` must be one of"),
        (VALID + "[sizes.huge]\nseeds = 2\n", "unknown size(s) ['huge']"),
        (VALID + "[search]\ntrials = 2\nlearning_rate = { normal = [0, 1] }\n", "search.learning_rate must be one of"),
        (VALID + "[search]\nlearning_rate = { log_uniform = [0, 1] }\n", "0 < low < high"),
        ("description = 'x'\nquestion = 'y'\n[fixed]\nlearning_rate = 0.1\n[vary]\nlearning_rate = [1.0]\n", "both fixed and varied"),
        ("description = = 'x'", "Invalid value"),
    ],
)
def test_bad_experiment_file(capsys, tmp_path, text, expected):
    _write_spec(tmp_path, "bad", text)
    assert expected in _error(capsys, ["bad", "--specs-dir", str(tmp_path)])


def test_every_shipped_experiment_parses_in_both_sizes():
    for name in spec.available():
        for size in spec.SIZES:
            experiment = spec.load(name, size)
            assert experiment.description and experiment.question
            assert planning.configurations(experiment)


def test_list_prints_one_line_per_experiment(capsys):
    assert cli.main(["--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == spec.available()


def test_dry_run_lists_runs_and_trains_nothing(capsys, tmp_path):
    logdir = tmp_path / "logs"
    status = cli.main(["learning_rate", "--size", "full", "--seeds", "2", "--dry-run", "--logdir", str(logdir)])
    out = capsys.readouterr().out
    assert status == 0
    learning_rates = spec.load("learning_rate", "full").vary["learning_rate"]
    assert sum("_seed" in line for line in out.splitlines()) == 2 * len(learning_rates)
    assert "lr=0.0001_seed1" in out and "lr=10_seed0" in out
    assert not logdir.exists()


def test_dry_run_of_a_tuned_experiment_says_what_follows(capsys):
    assert cli.main(["momentum", "--size", "quick", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tune   mom=0.9_lr=0.01_seed0" in out
    assert "then the best learning_rate of each of 3 configuration(s) on 2 seed(s)" in out


def test_command_line_error_has_no_traceback_and_no_tensorflow_noise():
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "experiments", "run.py"), "--set", "momentum=2"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "run.py: error: momentum must be a float >= 0 and < 1; got 2.0"
    assert result.stdout == ""
