"""experiments.api on a tiny experiment: the records, the claims and the figures come back as the
command line wrote them; bad input raises before anything trains."""

import json
import math
import textwrap

import pandas as pd
import pytest
from tiny_specs import EXPLODES_CLAIM, tiny_sweep

from experiments import api

TINY = tiny_sweep(epochs=2, top="max_seeds = 2", tables=EXPLODES_CLAIM + """
[headline]
plot = "metric_against"
x = "learning_rate"
y = "train_loss"
""")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    (root / "specs").mkdir()
    (root / "specs" / "tiny.toml").write_text(textwrap.dedent(TINY))
    result = api.run_experiment("tiny", size="default", logdir=root / "logs", specs_dir=root / "specs",
                                overrides={"width": 16, "batch_norm": False})
    return root, result


def test_records_are_the_runs_table(tiny):
    root, result = tiny
    assert sorted(result.records.run_id) == ["lr=0.05_seed0", "lr=0.05_seed1", "lr=1e+06_seed0", "lr=1e+06_seed1"]
    pd.testing.assert_frame_equal(result.records, pd.read_csv(root / "logs" / "tiny" / "runs.csv"))
    assert set(result.records.status) <= {"ok", "did_not_learn", "diverged"}
    assert (result.records[result.records.learning_rate == 1e6].status == "diverged").all()
    config = json.loads((root / "logs" / "tiny" / "lr=0.05_seed0" / "config.json").read_text())
    assert config["width"] == 16  # the overrides went through --set


def test_claims_are_findings_json_as_a_table(tiny):
    root, result = tiny
    found = json.loads((root / "logs" / "tiny" / "findings.json").read_text())["findings"]
    assert list(result.claims.columns[:6]) == ["id", "verdict", "effect", "low", "high", "n"]
    assert result.claims.id.tolist() == ["lr-too-large-explodes"]
    row = result.claims.iloc[0]
    assert row.verdict == found[0]["verdict"] and row.n == found[0]["n"] == 2
    assert row.effect == pytest.approx(found[0]["effect"])
    low, high = found[0]["ci"]
    assert (math.isnan(row.low) if low is None else row.low == pytest.approx(low))
    assert (math.isnan(row.high) if high is None else row.high == pytest.approx(high))


def test_figures_headline_first_and_the_reports(tiny):
    root, result = tiny
    assert [p.rsplit("/", 1)[1] for p in result.figures] == ["headline.png", "curves.png"]
    assert result.report.endswith("report.md") and "does a huge rate diverge?" in open(result.report).read()
    assert (root / "logs" / "REPORT.md").exists()  # like the command, every run ends with REPORT.md
    assert "Answers" in result.output
    again = api.read_experiment("tiny", root / "logs")
    pd.testing.assert_frame_equal(again.claims, result.claims)


def test_bad_input_raises_before_anything_trains(tmp_path):
    with pytest.raises(api.ExperimentError, match="unknown experiment"):
        api.run_experiment("no_such_experiment", logdir=tmp_path)
    with pytest.raises(api.ExperimentError, match="varies learning_rate"):
        api.run_experiment("learning_rate", logdir=tmp_path, overrides={"learning_rate": 0.1})
    assert not (tmp_path / "learning_rate").exists()
    with pytest.raises(api.ExperimentError, match="has not been run"):
        api.read_experiment("learning_rate", tmp_path)
