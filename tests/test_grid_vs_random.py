"""Grid against random search: the designs and the experiment end to end."""

import json
import textwrap

import numpy as np
import pytest

from experiments import cli
from experiments.kinds import grid_vs_random


def test_grid_is_cell_midpoints_and_random_is_seeded():
    points = grid_vs_random.grid_points(3)
    assert points.shape == (9, 2)
    np.testing.assert_allclose(sorted(set(points[:, 0])), [1 / 6, 1 / 2, 5 / 6])
    a, b = grid_vs_random.random_points(3, 0), grid_vs_random.random_points(3, 1)
    assert a.shape == (9, 2) and len(set(a[:, 0])) == 9 and not np.array_equal(a, b)
    np.testing.assert_array_equal(a, grid_vs_random.random_points(3, 0))


def test_settings_on_log_scales():
    params = dict(grid_vs_random.DEFAULT_PARAMS)
    assert grid_vs_random.settings_of((0.5, 0.5), params) == {"learning_rate": pytest.approx(0.0316), "width": 64}
    assert grid_vs_random.settings_of((0.0, 0.0), params) == {"learning_rate": 0.001, "width": 16}
    assert grid_vs_random.settings_of((1.0, 1.0), params)["width"] == 256


def test_experiment_end_to_end(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny_grid.toml").write_text(textwrap.dedent("""
        description = "tiny"
        question = "tiny?"
        kind = "grid_vs_random"
        seeds = 2
        max_seeds = 2  # a fixed plan: no extra seeds for an undecided claim
        [params]
        side = 2
        epochs = 1
        limit = 120
        [[claims]]
        id = "random-search-over-grid"
        claim = "random beats grid"
        test = "kind"
        measure = "best_error_grid_minus_random"
        direction = "greater"
    """))
    assert cli.main(["tiny_grid", "--specs-dir", str(specs), "--logdir", str(tmp_path / "logs")]) == 0
    out = tmp_path / "logs" / "tiny_grid"
    (finding,) = json.loads((out / "findings.json").read_text())["findings"]
    assert finding["id"] == "random-search-over-grid" and finding["n"] == 2
    configs = [json.loads((out / f"grid_trial{i:02d}" / "config.json").read_text()) for i in range(4)]
    assert len({c["learning_rate"] for c in configs}) == 2 and {c["seed"] for c in configs} == {0}
