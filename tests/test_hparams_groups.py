"""The aggregated HParams sessions, read back with TensorBoard's own reader."""

import math

import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata
from tensorboard.util import tensor_util

from experiments.outputs import hparams_sessions


def _record(group, seed, status, val_loss, lr=0.1):
    return {
        "group": group,
        "seed": seed,
        "status": status,
        "config": {"learning_rate": lr, "optimizer": "sgd", "seed": seed, "limit": None},
        "metrics": {"val_loss": val_loss, "val_accuracy": 1 - val_loss / 10},
    }


RECORDS = [
    _record("lr=0.1", 0, "ok", 1.0),
    _record("lr=0.1", 1, "ok", 2.0),
    _record("lr=0.1", 2, "ok", 4.0),
    _record("lr=10", 0, "ok", 3.0, lr=10.0),
    _record("lr=10", 1, "diverged", math.nan, lr=10.0),
]


def _read(directory):
    accumulator = event_accumulator.EventAccumulator(str(directory), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return accumulator


def test_one_session_per_configuration_with_mean_and_std_over_ok_seeds(tmp_path):
    root = hparams_sessions.write_session_groups(str(tmp_path), RECORDS)
    low = _read(f"{root}/lr=0.1")
    start = metadata.parse_session_start_info_plugin_data(
        low.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG]
    )
    hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    assert hparams["learning_rate"] == pytest.approx(0.1)
    assert hparams["optimizer"] == "sgd" and hparams["aggregate"] == hparams_sessions.AGGREGATE
    assert "seed" not in hparams and "limit" not in hparams

    def scalar(accumulator, tag):
        (event,) = accumulator.Tensors(tag)
        return float(tensor_util.make_ndarray(event.tensor_proto))

    assert scalar(low, "val_loss/mean") == pytest.approx(7 / 3)
    assert scalar(low, "val_loss/std") == pytest.approx(1.5275252, rel=1e-6)  # ddof=1 of 1, 2, 4
    assert scalar(low, "seeds/ok") == 3
    high = _read(f"{root}/lr=10")
    # The diverged seed is counted, never averaged in; one seed has no spread.
    assert scalar(high, "seeds/total") == 2 and scalar(high, "seeds/ok") == 1
    assert scalar(high, "val_loss/mean") == pytest.approx(3.0)
    assert math.isnan(scalar(high, "val_loss/std"))


def test_rerun_replaces_the_groups(tmp_path):
    hparams_sessions.write_session_groups(str(tmp_path), RECORDS)
    root = hparams_sessions.write_session_groups(str(tmp_path), RECORDS[:3])
    assert sorted(p.name for p in (tmp_path / "hparams_groups").iterdir()) == ["lr=0.1"]
    assert len(list((tmp_path / "hparams_groups" / "lr=0.1").iterdir())) == 1
    assert root == str(tmp_path / "hparams_groups")
