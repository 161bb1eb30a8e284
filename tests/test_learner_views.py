"""What a learner looks at, without training: the 3-D surface pages stand alone (plotly inlined,
nothing fetched), the suite's HParams columns are only the settings that vary, the answers read
as sentences, and times read in seconds below a minute."""

import re

import numpy as np
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata, plugin_data_pb2

from experiments.evidence.findings import Finding
from experiments.kinds.surfaces import surfaces_3d
from experiments.kinds.surfaces.landscapes import NORMALIZED, UNNORMALIZED
from experiments.outputs import files, hparams_sessions
from experiments.report import answers
from experiments.sweeps.progress import duration


def test_surface_pages_are_standalone_html():
    path = np.array([[4.0, 4.0], [2.0, 2.0], [0.5, 0.5]])
    page = surfaces_3d.plotly_page(UNNORMALIZED, {"gd": path, "adam": path / 2}, "Unnormalized inputs")
    assert "<html>" in page[:40] and "Plotly.newPlot" in page
    assert not re.search(r"<script[^>]+src=", page)  # the library is inlined: opens offline
    assert "gradient descent" in page and "Unnormalized inputs" in page


def test_static_surfaces_figure_has_both_surfaces(tmp_path):
    path = np.array([[4.0, 4.0], [0.0, 0.0]])
    fig = surfaces_3d.static_figure([(NORMALIZED, {"gd": path}, "a"), (UNNORMALIZED, {"gd": path * 10}, "b")])
    assert len(fig.axes) == 2 and all(ax.name == "3d" for ax in fig.axes)


def test_suite_hparams_declare_only_what_varies(tmp_path):
    for name, rate in (("a/lr=0.1_seed0", 0.1), ("a/lr=1_seed0", 1.0), ("b/base_seed0", 0.1)):
        config = {"learning_rate": rate, "epochs": 3, "seed": 0}
        files.write_json_atomic(str(tmp_path / name / "record.json"), {"config": config, "experiment": name[0]})
    path = hparams_sessions.write_suite_experiment(str(tmp_path))
    accumulator = event_accumulator.EventAccumulator(path, size_guidance={"tensors": 0})
    accumulator.Reload()
    content = accumulator.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.EXPERIMENT_TAG]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    names = [info.name for info in experiment.hparam_infos]
    assert names == ["experiment", "aggregate", "outcome", "learning_rate"]  # epochs and seed: the same everywhere
    assert hparams_sessions.varied_settings([{"a": 1}, {"a": 1, "b": 2}]) == ["b"]


def test_answers_and_durations_read_as_words():
    finding = Finding(claim="Too small a rate stagnates", verdict="supported", evidence="", id="lr-small",
                      effect=0.52, ci=[0.31, 0.73], n=5, metric="train_loss", experiment="learning_rate")
    (line,) = answers.answer_lines([finding, Finding(claim="unnamed check", verdict="measured", evidence="")])
    assert line == ("[learning_rate] SUPPORTED: Too small a rate stagnates — effect on train_loss +0.52 "
                    "(95% interval +0.31 to +0.73), 5 paired seeds.")
    assert [duration(s) for s in (0.04, 12.3, 61, 3725)] == ["0.0 s", "12 s", "1 min 01 s", "1 h 02 min"]
