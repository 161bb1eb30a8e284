"""The evidence layer against hand-computed cases: intervals, verdicts, outcomes, claims, the report's
files, and the rule that a quick run never contradicts the default size."""

import json
import math
import textwrap

import numpy as np
import pytest
from scipy import stats

from experiments import cli, spec
from experiments.engine import outcomes
from experiments.evidence import claims, decision, pairing
from experiments.evidence.findings import Finding
from experiments.report import reports

# Five paired differences: mean 0.5, sd 0.1581 (sum of squares 0.1), t(0.975, 4) = 2.7764.
DIFFERENCES = [0.3, 0.5, 0.6, 0.4, 0.7]


def test_paired_t_interval_by_hand():
    effect, (low, high), method = decision.interval(DIFFERENCES)
    half = 2.7764451051977987 * math.sqrt(0.1 / 4) / math.sqrt(5)
    assert method == "t"
    assert effect == pytest.approx(0.5)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), rel=1e-9)
    assert (low, high) == pytest.approx((0.3037, 0.6963), abs=1e-4)


def test_skewed_differences_get_a_bootstrap_interval():
    # Twelve differences, one far outlier: Shapiro-Wilk rejects normality, n >= 10 -> BCa bootstrap.
    d = [0.1, 0.12, 0.09, 0.11, 0.1, 0.13, 0.08, 0.1, 0.12, 0.11, 0.09, 3.0]
    assert stats.shapiro(d).pvalue < 0.05
    effect, (low, high), method = decision.interval(d)
    assert method == "bootstrap"
    assert effect == pytest.approx(np.mean(d))
    assert low < effect < high
    # The same call gives the same interval (fixed resampling seed).
    assert decision.interval(d)[1] == (low, high)
    reference = stats.bootstrap((np.array(d),), np.mean, confidence_level=0.95, n_resamples=9999,
                                method="BCa", random_state=np.random.default_rng(0)).confidence_interval
    assert (low, high) == pytest.approx((reference.low, reference.high))


def test_sign_test_interval_of_the_median_by_hand():
    # n = 8: P(B <= 0) = 1/256, P(B <= 1) = 9/256; 2 * 9/256 = 0.0703 > 0.05, so k = 1:
    # the interval is (smallest, largest), coverage 1 - 2/256.
    d = [5.0, 0.1, 0.2, 0.15, 0.12, 0.18, 0.11, 0.14]
    assert decision.median_interval(d) == (0.1, 5.0)
    # n = 5: even (min, max) covers only 1 - 2/32 = 0.9375 < 0.95: no finite interval.
    assert decision.median_interval([1, 2, 3, 4, 50]) == (-math.inf, math.inf)
    effect, ci, method = decision.interval(d)
    assert method == "sign" and effect == pytest.approx(np.median(d)) and ci == (0.1, 5.0)


@pytest.mark.parametrize(
    "differences, direction, margin, verdict",
    [
        (DIFFERENCES, "greater", 0.1, "supported"),
        (DIFFERENCES, "less", 0.1, "contradicted"),
        ([0.01, -0.01, 0.02, 0.0, -0.02], "greater", 0.1, "no effect"),
        ([0.5, -0.4, 0.3, -0.2, 0.1], "greater", 0.1, "inconclusive"),
        (DIFFERENCES, None, 0.1, "measured"),
        ([], "greater", 0.1, "no information"),
        ([0.01, -0.01, 0.02, 0.0, -0.02], "within", 0.1, "supported"),
        ([1.5, 1.4, 1.6, 1.5, 1.45], "within", 0.3, "contradicted"),
    ],
)
def test_each_verdict_is_reached(differences, direction, margin, verdict):
    result = decision.decide(differences, direction, margin)
    assert result.verdict == verdict
    if differences:
        assert result.n == len(differences) and result.ci[0] <= result.effect <= result.ci[1]


def test_inconclusive_says_how_many_seeds_would_settle_it():
    d = [0.5, -0.4, 0.3, -0.2, 0.1]  # mean 0.06, sd 0.358
    result = decision.decide(d, "greater", 0.0)
    sd = np.std(d, ddof=1)
    n = result.needed_n
    assert stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) < 0.06  # at n the interval excludes 0
    assert stats.t.ppf(0.975, n - 2) * sd / math.sqrt(n - 1) >= 0.06  # and not one seed earlier
    assert "seeds would settle it" in result.describe()


def test_pairing_refuses_arms_that_do_not_share_the_data():
    a = {0: {"config": {"seed": 0, "dataset": "digits", "limit": None}}}
    b = {0: {"config": {"seed": 0, "dataset": "mnist", "limit": None}}}
    with pytest.raises(pairing.PairingError, match="dataset"):
        pairing.pair(a, b)


def _record(accuracy, losses, status="ok", initial=2.3, margin=0.1):
    return {"status": status, "config": {"dataset": "digits", "chance_margin": margin},
            "metrics": {"val_accuracy": accuracy}, "history": {"loss": losses}, "initial_loss": initial}  # fmt: skip


def test_a_run_at_chance_did_not_learn():
    # A real run, schedules/constant_lr=0.1_seed0: status ok, accuracy 0.096, loss 2.31 = ln 10.
    dead = _record(0.096, [2.35, 2.31, 2.308])
    assert outcomes.classify(dead)[0] == "did_not_learn"
    assert "chance" in outcomes.classify(dead)[1]
    assert outcomes.with_outcome(dead)["status"] == "did_not_learn"
    # Above chance + margin but the loss never fell below its initial value: did not learn either.
    assert outcomes.classify(_record(0.35, [2.5, 2.4], initial=2.3))[0] == "did_not_learn"
    assert outcomes.classify(_record(0.9, [1.0, 0.3]))[0] == "ok"
    assert outcomes.classify(_record(0.1, [], status="diverged"))[0] == "diverged"
    # The margin is a setting: with margin 0 only chance itself (<= 0.1) is dead.
    assert outcomes.classify(_record(0.15, [1.0, 0.9], margin=0.0))[0] == "ok"
    # Idempotent: a reclassified record keeps its outcome.
    once = outcomes.with_outcome(dead)
    assert outcomes.with_outcome(once)["status"] == "did_not_learn"


def _experiment(text, size="default"):
    return spec.parse("tiny", __import__("tomllib").loads(textwrap.dedent(text)), size)


SPEC = """
    description = "d"
    question = "q"
    seeds = 5
    [fixed]
    optimizer = "sgd"
    [vary]
    learning_rate = [0.01, 0.1]
    [[claims]]
    id = "lr-x"
    claim = "0.1 ends lower than 0.01"
    source = ["001"]
    test = "difference"
    metric = "val_loss"
    arms = [{ learning_rate = 0.1 }, { learning_rate = 0.01 }]
    direction = "less"
    margin = 0.01
    [sizes.quick]
    seeds = 2
"""


def _fake_records(experiment, values, seeds):
    """Records of a sweep whose val_loss per (rate, seed) is given: no training."""
    records = []
    for lr, per_seed in values.items():
        for seed in range(seeds):
            config = {"learning_rate": lr, "seed": seed, "dataset": "digits", "limit": None, "optimizer": "sgd"}
            records.append({"group": f"lr={lr:g}", "stage": "final", "status": "ok", "config": config,
                            "metrics": {"val_loss": per_seed[seed], "val_accuracy": 0.9}, "history": {}})  # fmt: skip
    return records


def test_a_claim_is_decided_from_records():
    experiment = _experiment(SPEC)
    records = _fake_records(experiment, {0.1: [0.2, 0.25, 0.3, 0.22, 0.28], 0.01: [0.9, 1.0, 0.95, 1.05, 0.92]}, 5)
    finding = claims.evaluate(experiment.claims[0], experiment, records)
    assert finding.id == "lr-x" and finding.verdict == "supported" and finding.n == 5
    assert finding.effect == pytest.approx(np.mean([0.2 - 0.9, 0.25 - 1.0, 0.3 - 0.95, 0.22 - 1.05, 0.28 - 0.92]))
    assert finding.metric == "val_loss at the end of training"


def test_quick_is_never_the_opposite_of_default():
    """On tiny specs whose true effect is known, the quick size (2 seeds) may be inconclusive where the
    default (5 seeds) is not, but never supported against contradicted or no effect."""
    opposite = {("supported", "contradicted"), ("contradicted", "supported"), ("supported", "no effect"),
                ("no effect", "supported"), ("contradicted", "no effect"), ("no effect", "contradicted")}  # fmt: skip
    rng = np.random.default_rng(0)
    for true_effect in (-0.5, -0.05, 0.0, 0.3):
        base = rng.normal(1.0, 0.1, 5)
        values = {0.01: list(base), 0.1: list(base + true_effect + rng.normal(0, 0.05, 5))}
        verdicts = {}
        for size in ("default", "quick"):
            experiment = _experiment(SPEC, size)
            records = _fake_records(experiment, values, experiment.seeds)
            verdicts[size] = claims.evaluate(experiment.claims[0], experiment, records).verdict
        assert (verdicts["quick"], verdicts["default"]) not in opposite, (true_effect, verdicts)
        if abs(true_effect) >= 0.3:  # a large effect: the default size decides it the right way
            assert verdicts["default"] == ("supported" if true_effect < 0 else "contradicted")


def test_claims_json_schema_and_forest_plot(tmp_path):
    (tmp_path / "tiny").mkdir()
    experiment = _experiment(SPEC)
    found = [
        Finding("0.1 ends lower", "supported", "numbers", id="lr-x", source=["001"], effect=-0.7, ci=[-0.8, -0.6],
                n=5, metric="val_loss at the end of training", experiment="tiny"),
        Finding("a quantity", "measured", "numbers", id="q", effect=math.inf, ci=[None, None], n=5, metric="m"),
    ]
    from experiments.evidence import findings

    findings.save(str(tmp_path / "tiny"), experiment, found, 5, 10)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny.toml").write_text(textwrap.dedent(SPEC))
    assert cli.main(["--report", "--logdir", str(tmp_path), "--specs-dir", str(specs)]) == 0
    text = (tmp_path / "claims.json").read_text()
    entries = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict JSON: {name}"))
    reports.validate_entries(entries)
    assert [e["id"] for e in entries] == ["lr-x", "q"]
    assert entries[0] == {
        "id": "lr-x", "claim": "0.1 ends lower", "source": ["001"], "verdict": "supported", "effect": -0.7,
        "ci": [-0.8, -0.6], "n": 5, "metric": "val_loss at the end of training", "experiment": "tiny",
        "dataset": "digits", "evidence": "numbers", "margin": None, "direction": None, "method": "", "seeds": None,
        "budget_exhausted": False,
    }  # fmt: skip
    assert entries[1]["effect"] is None  # inf became null
    markdown = (tmp_path / "REPORT.md").read_text()
    assert markdown.index("| id | verdict | effect [95% interval] | n |") < markdown.index("## tiny")
    assert "| `lr-x` | supported | -0.7 [-0.8, -0.6] | 5 | — |" in markdown
    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "claims.png")
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 200


def test_bad_claims_and_params_exit_2_before_anything_runs(tmp_path, capsys):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "bad.toml").write_text(textwrap.dedent(SPEC.replace('test = "difference"', 'test = "vibes"')))
    (specs / "badparams.toml").write_text('description = "d"\nquestion = "q"\nkind = "surfaces"\n[params]\nmomentum = 1.5\n')
    (specs / "badarm.toml").write_text(textwrap.dedent(SPEC.replace("learning_rate = 0.1 }", "learning_rate = -1.0 }")))
    logdir = tmp_path / "logs"
    for name, message in (("bad", "`test` must be one of"), ("badparams", "params.momentum must be in [0, 1)"),
                          ("badarm", "learning_rate must be")):  # fmt: skip
        assert cli.main([name, "--specs-dir", str(specs), "--logdir", str(logdir)]) == 2
        assert message in capsys.readouterr().err
    assert not logdir.exists()  # nothing ran, nothing was written


def test_every_shipped_claim_has_a_catalogue_id_and_source():
    ids = []
    for name in spec.available():
        for size in spec.SIZES:
            experiment = spec.load(name, size)
            assert [c.id for c in experiment.claims] == [c.id for c in spec.load(name).claims]
        ids += [c.id for c in spec.load(name).claims]
        assert all(c.source for c in spec.load(name).claims), name
    assert len(ids) == len(set(ids))  # one experiment per claim id


def test_learning_curves_keep_the_range_of_the_runs_that_learned(tmp_path):
    from experiments.outputs import figures

    learned = np.array([2.0, 1.0, 0.5])
    limits = figures.learned_range([learned])
    assert limits == pytest.approx((0.5 / 1.5, 2.0 * 1.5))
    # A divergent curve stops at the first point past the top edge, drawn at the edge.
    shown, escaped = figures.clip_to_range(np.array([2.1, 40.0, 1e32, np.nan]), limits)
    assert escaped and shown.tolist() == [2.1, limits[1]]
    assert figures.clip_to_range(learned, limits) == (pytest.approx(learned), False)
    history = {"loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.1, 0.6]}
    records = [
        {"group": "a", "status": "ok", "history": history},
        {"group": "b", "status": "diverged", "history": {"loss": [2.0, 1e30, math.nan], "val_loss": [2.2, math.nan, math.nan]}},
    ]
    figures.plot_curves(records, str(tmp_path / "curves.png"), "t")
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "curves.png").shape[1] > 500


def test_kinds_registry_checks_params_by_type_and_range():
    from experiments.kinds import registry

    messages = []

    def fail(message):
        messages.append(message)
        raise spec.SpecError(message)

    with pytest.raises(spec.SpecError):
        registry.resolve_params("surfaces", {"steps": "many"}, fail)
    with pytest.raises(spec.SpecError):
        registry.resolve_params("deep_linear", {"depth": 1}, fail)
    with pytest.raises(spec.SpecError):
        registry.resolve_params("deep_linear", {"colour": 1}, fail)
    assert messages == [
        "params.steps must be a int like 2000; got 'many'",
        "params.depth must be >= 2; got 1",
        f"unknown params ['colour'] for kind 'deep_linear'; allowed: {sorted(registry.KINDS['deep_linear'].parameters)}",
    ]
    assert registry.resolve_params("surfaces", {"steps": 300}, fail)["steps"] == 300


def test_report_gets_a_column_per_data_set_and_names_disagreements(tmp_path):
    from experiments.evidence import findings

    experiment = _experiment(SPEC)
    for dataset, verdict, directory in (("digits", "supported", tmp_path / "tiny"),
                                        ("mnist", "contradicted", tmp_path / "mnist" / "tiny")):  # fmt: skip
        directory.mkdir(parents=True)
        found = [Finding("c", verdict, "e", id="lr-x", source=["001"], effect=0.1, ci=[0.05, 0.15], n=5, metric="m")]
        findings.save(str(directory), experiment, found, 5, 10, dataset=dataset)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny.toml").write_text(textwrap.dedent(SPEC))
    reports.build(str(tmp_path), str(specs))
    entries = json.loads((tmp_path / "claims.json").read_text())
    assert sorted((e["id"], e["dataset"], e["verdict"]) for e in entries) == [
        ("lr-x", "digits", "supported"), ("lr-x", "mnist", "contradicted")]
    markdown = (tmp_path / "REPORT.md").read_text()
    assert "| verdict on mnist |" in markdown and "| contradicted |" in markdown
    assert "`lr-x`: depends on the data: supported on digits, contradicted on mnist" in markdown


def test_two_seeds_that_agree_decide_nothing():
    # The quick size's 2 seeds once called batch normalization "no effect" where 5 seeds found +1 decade.
    result = decision.decide([0.0, 0.0], "greater", 0.25)
    assert result.verdict == "inconclusive" and result.ci == (-math.inf, math.inf) and result.needed_n == 3
    assert decision.decide([0.5, 0.5, 0.5], "greater", 0.1).verdict == "supported"  # n = 3, no spread
