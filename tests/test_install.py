"""A wheel built from this checkout installs and runs: every module, spec and the catalogue are in
it, and the `optimization-lab` command trains an experiment from the installed copy."""

import json
import os
import pathlib
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, capture_output=True, text=True, cwd=out,
    )  # fmt: skip
    (path,) = out.glob("optimization_lab-*.whl")
    return path


def test_the_wheel_holds_every_module_spec_and_the_catalogue(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        str(path.relative_to(ROOT))
        for package in ("experiments", "optimizers", "callbacks")
        for path in (ROOT / package).rglob("*")
        if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts
    }
    assert sources - names == set()
    assert "experiments/report/catalogue.toml" in names and "experiments/specs/learning_rate.toml" in names


def test_an_installed_copy_lists_and_runs_an_experiment(wheel, tmp_path):
    # A fresh environment with the wheel alone installed; its dependencies (TensorFlow is large)
    # are borrowed from this one's site-packages, after the environment's own.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    (pathlib.Path(site) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, text=True)  # fmt: skip

    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing can come from its folders
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    located = subprocess.run([python, "-c", "import experiments; print(experiments.__file__)"], cwd=elsewhere,
                             check=True, capture_output=True, text=True, env=env).stdout  # fmt: skip
    assert located.startswith(site)
    command = venv / "bin" / "optimization-lab"
    listed = subprocess.run([command, "--list"], cwd=elsewhere, check=True, capture_output=True, text=True, env=env)
    assert "learning_rate" in listed.stdout and "surfaces" in listed.stdout

    ran = subprocess.run(
        [command, "learning_rate", "--size", "quick", "--epochs", "1", "--seeds", "1", "--set", "limit=200"],
        cwd=elsewhere, capture_output=True, text=True, env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    records = list((elsewhere / "logs" / "learning_rate").glob("*/record.json"))
    assert records and all(json.loads(r.read_text())["status"] in ("ok", "did_not_learn", "diverged") for r in records)
