"""Softmax cross-entropy in float32: each form against the float64 reference, and the experiment
end to end."""

import json
import math
import textwrap

import numpy as np
import pytest

from experiments import cli
from experiments.kinds import numerics


def test_reference_by_hand():
    # z = (0, s, 0...): loss = log(9 + e^s); gradient softmax - e_0.
    loss, grad = numerics.reference(numerics.logits_for_gap(2.0), 0)
    assert loss == pytest.approx(math.log(9 + math.e**2))
    p = np.array([1, math.e**2] + [1] * 8) / (9 + math.e**2)
    p[0] -= 1
    assert grad == pytest.approx(np.linalg.norm(p))


def test_from_logits_is_exact_where_the_others_fail():
    rows = {r["gap"]: r for r in numerics.numerics_rows([1.0, 30.0, 100.0, 1000.0])}
    for row in rows.values():
        assert row["from_logits_loss"] == pytest.approx(row["reference_loss"], rel=1e-6)
        assert row["from_logits_grad_norm"] == pytest.approx(row["reference_grad_norm"], rel=1e-5)
    assert all(rows[1.0][f"{form}_loss"] == pytest.approx(rows[1.0]["reference_loss"], rel=1e-5) for form in numerics.FORMS)
    # Keras's clip at 1e-7: the loss is capped at -log(1e-7) and the gradient is zero.
    assert rows[30.0]["clipped_loss"] == pytest.approx(-math.log(1e-7), rel=1e-5)
    assert rows[30.0]["clipped_grad_norm"] == 0.0
    # exp(100) overflows float32: inf / inf; softmax's e^-100 underflows to 0: -log 0 = inf.
    assert math.isnan(rows[100.0]["naive_loss"]) or math.isinf(rows[100.0]["naive_loss"])
    assert math.isinf(rows[100.0]["softmax_then_log_loss"])
    assert numerics.describe_failure(rows[100.0]["softmax_then_log_loss"], 0.0, 100.0, 1.41) == "inf loss"
    assert numerics.describe_failure(16.1, 0.0, 30.0, 1.41) == "zero gradient"


def test_experiment_end_to_end(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny_softmax.toml").write_text(textwrap.dedent("""
        description = "tiny"
        question = "tiny?"
        kind = "numerics"
        seeds = 1
        max_seeds = 1  # a fixed plan: no extra seeds for an undecided claim
        [params]
        gaps = [1.0, 100.0]
        epochs = 1
        limit = 120
        [[claims]]
        id = "softmax-cross-entropy"
        claim = "from logits trains where softmax then log fails"
        test = "kind"
        measure = "val_accuracy_from_logits_minus_softmax_then_log"
        direction = "greater"
    """))
    assert cli.main(["tiny_softmax", "--specs-dir", str(specs), "--logdir", str(tmp_path / "logs")]) == 0
    out = tmp_path / "logs" / "tiny_softmax"
    findings = {f["id"] or f["claim"]: f for f in json.loads((out / "findings.json").read_text())["findings"]}
    assert findings["softmax-cross-entropy"]["n"] == 1
    records = [json.loads((out / f"{form}_seed0" / "record.json").read_text()) for form in numerics.TRAINED_FORMS]
    assert [r["config"]["loss_form"] for r in records] == list(numerics.TRAINED_FORMS)
    assert records[0]["status"] == "diverged"  # N(0, 1) initialization: logits ~100, softmax then log is inf
