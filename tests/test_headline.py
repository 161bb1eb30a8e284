"""The headline figure: its numbers from hand-made records against hand-computed answers, its
declaration checked when the spec is read, and the files it writes; the curves' small multiples."""

import math
import os

import pandas as pd
import pytest

from experiments import spec
from experiments.outputs import figures
from experiments.report import headline_data, headline_figures

BASE = {"description": "d", "question": "q?", "fixed": {"epochs": 2}}


def record(group, seed, status="ok", metrics=None, history=None, **config):
    return {"run_id": f"{group}_seed{seed}", "group": group, "seed": seed, "status": status, "stage": "final",
            "config": config, "metrics": metrics or {}, "history": history or {}}  # fmt: skip


def experiment(headline, **raw):
    return spec.parse("t", {**BASE, **raw, "headline": headline})


def test_best_value_per_batch_size_and_seed():
    e = experiment({"plot": "best_value", "x": "batch_size", "y": "learning_rate", "reference_slope": 1},
                   vary={"batch_size": [16, 64], "learning_rate": [0.01, 0.1, 1.0]})
    losses = {  # (batch size, seed) -> val_loss at lr 0.01, 0.1, 1.0; None: diverged
        (16, 0): (0.5, 0.2, None), (16, 1): (0.3, 0.4, 0.9),
        (64, 0): (0.9, 0.3, 0.25), (64, 1): (0.8, 0.1, 0.6),
    }
    records = []
    for (bs, seed), values in losses.items():
        for lr, loss in zip((0.01, 0.1, 1.0), values):
            status, metrics = ("diverged", {"val_loss": 0.01}) if loss is None else ("ok", {"val_loss": loss})
            records.append(record(f"bs={bs}_lr={lr}", seed, status, metrics, batch_size=bs, learning_rate=lr))
    data = headline_data.headline_data(records, e)
    # A diverged run is never the best, however low its last loss.
    expected = pd.DataFrame({"batch_size": [16, 16, 64, 64], "seed": [0, 1, 0, 1], "learning_rate": [0.1, 0.01, 1.0, 0.1]})
    pd.testing.assert_frame_equal(data.reset_index(drop=True), expected, check_dtype=False)
    assert headline_data.log_slope([16, 64], [0.1, 0.4]) == pytest.approx(1.0)
    assert headline_data.log_slope([16, 16], [0.1, 0.4]) != headline_data.log_slope([16, 16], [0.1, 0.4])  # NaN


def test_best_value_with_a_metric_where_higher_is_better():
    e = experiment({"plot": "best_value", "x": "batch_size", "y": "learning_rate", "metric": "val_accuracy"},
                   vary={"batch_size": [16], "learning_rate": [0.1, 1.0]})
    records = [record("a", 0, metrics={"val_accuracy": 0.9}, batch_size=16, learning_rate=0.1),
               record("b", 0, metrics={"val_accuracy": 0.95}, batch_size=16, learning_rate=1.0)]
    assert headline_data.best_value(records, e)["learning_rate"].tolist() == [1.0]


def test_highest_stable_rate_with_and_without_batch_norm():
    e = experiment({"plot": "highest_stable", "x": "batch_norm", "y": "learning_rate"},
                   vary={"batch_norm": [False, True], "learning_rate": [0.1, 1.0, 10.0]})
    statuses = {  # (batch_norm, seed) -> status at lr 0.1, 1, 10
        (False, 0): ("ok", "diverged", "diverged"), (False, 1): ("ok", "ok", "diverged"),
        (True, 0): ("ok", "ok", "did_not_learn"), (True, 1): ("diverged", "diverged", "diverged"),
    }
    records = [record(f"bn={bn}_lr={lr}", seed, status, {"val_loss": 1.0}, batch_norm=bn, learning_rate=lr)
               for (bn, seed), row in statuses.items() for lr, status in zip((0.1, 1.0, 10.0), row)]
    data = headline_data.headline_data(records, e)
    assert data["batch_norm"].tolist() == [False, False, True, True]
    assert data["learning_rate"].tolist()[:3] == [0.1, 1.0, 1.0]  # did_not_learn is not stable
    assert math.isnan(data["learning_rate"].iloc[3])  # no rate learned


def test_per_arm_takes_each_arm_at_its_best_configuration_in_declared_order():
    e = experiment({"plot": "per_arm", "x": "arm", "y": "train_loss", "at_epoch": 1},
                   vary={"learning_rate": [0.01, 0.1]},
                   arms=[{"label": "sgd", "optimizer": "sgd"}, {"label": "sgd_momentum", "optimizer": "sgd", "momentum": 0.9}])
    loss_after_epoch_1 = {("sgd_momentum", 0.01): (0.5, 0.7), ("sgd_momentum", 0.1): (0.3, 0.4),
                          ("sgd", 0.01): (0.9, 0.8), ("sgd", 0.1): (0.2, None)}  # fmt: skip
    records = []
    for (arm, lr), values in loss_after_epoch_1.items():
        for seed, value in enumerate(values):
            status = "ok" if value is not None else "diverged"
            history = {"loss": [value if value is not None else math.inf, 0.0]}
            records.append(record(f"{arm}_lr={lr}", seed, status, {"train_loss": 0.0}, history, learning_rate=lr))
    data = headline_data.headline_data(records, e)
    # sgd at 0.1 has a lower mean over its ok seeds, but only 1 of 2 ok: 0.01 (2 of 2) is its best.
    assert data["arm"].tolist() == ["sgd", "sgd", "sgd_momentum", "sgd_momentum"]
    assert data["group"].tolist() == ["sgd_lr=0.01", "sgd_lr=0.01", "sgd_momentum_lr=0.1", "sgd_momentum_lr=0.1"]
    assert data["value"].tolist() == pytest.approx([0.9, 0.8, 0.3, 0.4])  # the history at epoch 1, not the end


def test_metric_against_keeps_every_run_and_its_outcome():
    e = experiment({"plot": "metric_against", "x": "learning_rate", "y": "train_loss"},
                   vary={"learning_rate": [0.1, 10.0]})
    records = [record("lr=10", 0, "diverged", {"train_loss": math.nan}, learning_rate=10.0),
               record("lr=0.1", 0, "ok", {"train_loss": 0.2}, learning_rate=0.1)]
    data = headline_data.headline_data(records, e)
    assert data["learning_rate"].tolist() == [0.1, 10.0]
    assert data["status"].tolist() == ["ok", "diverged"]
    assert data["value"].iloc[0] == 0.2 and math.isnan(data["value"].iloc[1])


@pytest.mark.parametrize(
    "headline, message",
    [
        ({"plot": "pie", "x": "learning_rate"}, r"headline.plot must be one of \['best_value'"),
        ({"plot": "metric_against", "x": "learning_rate", "y": "train_loss", "colour": 1}, r"unknown key\(s\) \['colour'\]"),
        ({"plot": "metric_against", "x": "momentum", "y": "train_loss"}, "headline.x must be a setting the experiment varies"),
        ({"plot": "metric_against", "y": "train_loss"}, "headline.x is required"),
        ({"plot": "metric_against", "x": "learning_rate", "y": "speed"}, "headline.y must be a metric"),
        ({"plot": "best_value", "x": "learning_rate", "y": "learning_rate"}, "headline.y must be another setting"),
        ({"plot": "best_value", "x": "learning_rate", "y": "batch_size", "metric": "x"}, "headline.metric must be one of"),
        ({"plot": "per_arm", "x": "learning_rate", "y": "train_loss", "at_epoch": 0}, "at_epoch must be an integer >= 1"),
        ({"plot": "per_arm", "x": "learning_rate", "y": "best_val_accuracy", "at_epoch": 1}, "per-epoch history"),
        ({"plot": "best_value", "x": "learning_rate", "y": "batch_size", "reference_slope": "1"}, "must be a number"),
        ("best_value", r"\[headline\] must be a table"),
    ],
)
def test_a_bad_declaration_is_refused_when_the_spec_is_read(headline, message):
    with pytest.raises(spec.SpecError, match=message):
        experiment(headline, vary={"learning_rate": [0.1, 1.0], "batch_size": [16, 64]})


def test_a_headline_is_for_the_mlp_kind_only():
    with pytest.raises(spec.SpecError, match="for experiments of the mlp kind"):
        spec.parse("t", {"description": "d", "question": "q", "kind": "surfaces",
                         "headline": {"plot": "per_arm", "x": "arm", "y": "val_loss"}})


def test_every_declared_headline_of_the_suite_parses_at_both_sizes():
    declared = [name for name in spec.available() if spec.load(name).headline is not None]
    assert {"batch_size_lr", "learning_rate", "batch_norm", "optimizers", "momentum"} <= set(declared)
    for name in declared:
        assert spec.load(name, "quick").headline == spec.load(name).headline


def test_write_draws_the_headline_first_and_puts_both_figures_in_tensorboard(tmp_path):
    e = experiment({"plot": "metric_against", "x": "learning_rate", "y": "train_loss"}, vary={"learning_rate": [0.1, 1.0]})
    records = [record(f"lr={lr}", seed, "ok", {"train_loss": lr + seed}, {"loss": [1.0, lr + seed], "val_loss": [1.0, 0.5]},
                      learning_rate=lr) for lr in (0.1, 1.0) for seed in (0, 1)]  # fmt: skip
    figures.plot_curves(records, str(tmp_path / figures.CURVES_FILE), "t")
    names = headline_figures.write(e, records, str(tmp_path))
    assert names == [headline_figures.HEADLINE_FILE, figures.CURVES_FILE]
    assert (tmp_path / "headline.png").read_bytes()[:4] == b"\x89PNG"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / figures.TENSORBOARD_DIR), size_guidance={"images": 0})
    events.Reload()
    assert set(events.Tags()["tensors"]) == {"headline", "curves"}
    assert headline_figures.write(spec.parse("t", BASE), records, str(tmp_path)) == [figures.CURVES_FILE]


def test_curves_past_eight_configurations_are_split_into_small_multiples():
    groups = {f"bs={bs}_lr={lr}": [] for bs in (16, 64, 256) for lr in (0.01, 0.03, 0.1, 0.3, 1.0)}
    facets = {g: {"batch_size": int(g.split("_")[0][3:]), "learning_rate": float(g.split("=")[2])} for g in groups}
    panels = figures.split_panels(groups, facets)
    assert list(panels) == ["batch_size=16", "batch_size=64", "batch_size=256"]
    assert list(panels["batch_size=64"].values()) == [f"learning_rate={lr}" for lr in (0.01, 0.03, 0.1, 0.3, 1.0)]
    few = {f"g{i}": [] for i in range(8)}
    assert figures.split_panels(few, {g: {} for g in few}) == {"": {g: g for g in few}}
    many = {f"g{i}": [] for i in range(11)}  # nothing to split by: in order, eight at a time
    assert [len(p) for p in figures.split_panels(many, {g: {} for g in many}).values()] == [8, 3]


def test_plot_curves_draws_a_split_figure(tmp_path):
    records, facets = [], []
    for bs in (16, 64):
        for lr in (0.01, 0.03, 0.1, 0.3, 1.0):
            for seed in (0, 1):
                status = "diverged" if lr == 1.0 and bs == 16 else "ok"
                history = {"loss": [1.0, 0.5 * lr + seed], "val_loss": [1.0, 0.6 * lr] if status == "ok" else [1.0, math.inf]}
                records.append(record(f"bs={bs}_lr={lr}", seed, status, history=history))
                facets.append({"batch_size": bs, "learning_rate": lr})
    path = tmp_path / "curves.png"
    figures.plot_curves(records, str(path), "t", facets)
    assert os.path.getsize(path) > 1000
