"""Rescuing a run mid-training: the scripted edit goes through HyperparameterControl's file, the
rollback through the divergence guard, each paired with the same seed left alone."""

import json
import textwrap

from experiments import cli
from experiments.kinds import rescue


def test_experiment_end_to_end(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny_rescue.toml").write_text(textwrap.dedent("""
        description = "tiny"
        question = "tiny?"
        kind = "rescue"
        seeds = 1
        max_seeds = 1  # a fixed plan: no extra seeds for an undecided claim
        [params]
        explode_learning_rate = 50.0
        oscillate_learning_rate = 1.0
        epochs = 2
        limit = 400
        width = 16
        [[claims]]
        id = "runtime-change-rescues"
        claim = "rollback rescues"
        test = "kind"
        measure = "val_accuracy_explode_rollback_minus_alone"
        direction = "greater"
    """))
    assert cli.main(["tiny_rescue", "--specs-dir", str(specs), "--logdir", str(tmp_path / "logs")]) == 0
    out = tmp_path / "logs" / "tiny_rescue"
    (finding,) = json.loads((out / "findings.json").read_text())["findings"]
    assert finding["id"] == "runtime-change-rescues" and finding["n"] == 1
    alone = json.loads((out / "explode_alone_seed0" / "record.json").read_text())
    rolled = json.loads((out / "explode_rollback_seed0" / "rollbacks.json").read_text())
    assert alone["status"] == "diverged" and alone["config"]["divergence_rollback"] is False
    assert rolled[0]["learning_rate_after"] < rolled[0]["learning_rate_before"]
    # The person's arm ran with HyperparameterControl's file; the others did not.
    assert (out / "oscillate_person_seed0" / "hyperparameters.json").exists()
    assert not (out / "oscillate_alone_seed0" / "hyperparameters.json").exists()


def test_bad_params_exit_2(tmp_path, capsys):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "bad.toml").write_text('description = "d"\nquestion = "q"\nkind = "rescue"\n[params]\nedit_factor = 2.0\n')
    assert cli.main(["bad", "--specs-dir", str(specs), "--dry-run"]) == 2
    assert "params.edit_factor must be in (0, 1)" in capsys.readouterr().err
    assert rescue.DEFAULT_PARAMS["divergence_factor"] == 10.0
