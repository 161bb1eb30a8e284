"""train_run takes its logging callbacks as an argument; the runner's run_and_record owns the run
directory (config first, record last, the node that ran it)."""

import os
import platform

import keras

from experiments.config.settings import resolve
from experiments.engine import run_directory
from experiments.engine.training import train_run
from experiments.sweeps.planning import PlannedRun
from experiments.sweeps.workers import run_and_record

CONFIG = resolve({"epochs": 1, "limit": 120, "width": 4, "seed": 0})


class CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def test_train_run_uses_the_callbacks_it_is_given(tmp_path):
    counter = CountEpochs()
    arguments = []

    def callbacks(*args):
        arguments.append(args)
        return [counter]

    record = train_run(CONFIG, str(tmp_path), callbacks=callbacks)
    assert record["status"] == "ok" and counter.epochs == 1
    (config, run_dir, probe, start_loss), = arguments
    assert config == CONFIG and run_dir == str(tmp_path) and start_loss > 0
    # Without the default callbacks there are no per-epoch metrics file and no TensorBoard curves.
    assert not (tmp_path / run_directory.METRICS_FILE).exists() and not (tmp_path / "train").exists()
    assert not (tmp_path / run_directory.CONFIG_FILE).exists()  # the runner writes it, once


def test_run_and_record_writes_config_and_record_with_the_node(tmp_path):
    run = PlannedRun("exp", "base", "base_seed0", "final", CONFIG, "base")
    record = run_and_record(run, str(tmp_path))
    run_dir = run.directory(str(tmp_path))
    assert sorted(n for n in os.listdir(run_dir) if n.endswith(".json")) == [run_directory.CONFIG_FILE, run_directory.RECORD_FILE]
    assert run_directory.is_done(run_dir, CONFIG) and run_directory.read_record(run_dir)["run_id"] == "base_seed0"
    assert record["node"] == {"host": platform.node()} and record["replicas"] == 1


def test_a_new_model_traces_its_train_step_once():
    """compile_model builds the compiled metrics and the optimizer eagerly: otherwise TensorFlow
    traces the first train function twice (variables created during the first trace)."""
    from experiments.engine import models, training

    config = resolve({"epochs": 2, "limit": 120, "width": 4, "optimizer": "adam"})
    dataset = training.get_dataset(config)
    model = models.build_model(config, dataset)
    training.compile_model(model, config, steps_per_epoch=4, dataset=dataset)
    assert all(v.numpy() == 0 for v in model.metrics[-1].variables) and model.optimizer.built
    traces = []
    step = model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)
    model.fit(training.training_batches(dataset, 32, 0), epochs=2, verbose=0, shuffle=False)
    assert len(traces) == 1
