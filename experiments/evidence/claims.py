"""Claims are data: each experiment's TOML declares the notes' claims its runs test.

How a spec declares a claim (no Python needed):

    [[claims]]
    id = "momentum-faster-tuned"            # its id in experiments/report/catalogue.toml
    claim = "Momentum trains faster than gradient descent, each at its own best rate"
    source = ["002"]                        # the notes file(s) the sentence comes from
    test = "difference"                     # a generic test, by name (TESTS below)
    metric = "train_loss"                   # CLAIM_METRICS below
    at_epoch = 3                            # optional: the metric after this epoch (a fixed budget:
                                            # speed claims); without it, at the end of training
    arms = [{ momentum = 0.9 }, { momentum = 0.0 }]   # first minus second
    direction = "less"                      # the claim says first < second ("greater", "less",
                                            # "within" ± margin of `target`, or omitted: measured)
    margin = 0.02                           # practical margin, in the metric's units

An arm is a table of settings (`{ momentum = 0.9 }`), `{ label = "adam" }` for a named [[arms]]
entry, or the string "best": the configuration with the best mean metric. When several
configurations match an arm (a grid over the learning rate, say), the one with the best mean
metric over its learned seeds is taken, the same rule for every arm: each arm gets the same
tuning budget (the grid). A best value at the edge of its grid is reported as a limit.

Tests (`test = ...`), each giving per-seed values that experiments.evidence.decision decides on
(experiments/evidence/claim_tests.py computes them; experiments/evidence/arms.py picks each arm's runs):
- `difference`: metric(first arm) - metric(second arm), per seed.
- `threshold`: metric(first arm) - `target`, per seed (e.g. the fraction of runs diverged).
- `highest_rate`: per seed, log10 of the highest learning rate at which the run learned (outcome
  ok), first arm minus second (`over` names the varied rate, default learning_rate).
- `best_rate`: per seed, log10 of the learning rate (`over`) whose run that learned has the best
  metric, first arm minus second.
- `best_of_n`: random restarts. The seeds, in order, form groups of `restarts`; per group, the
  validation metric on half B of the run that is best on half A, minus the group's mean on half B
  (what one start gives). Selection and report use disjoint halves of the validation set.
- `slope`: per seed, the slope of log(best `y`) against log(`x`) over the values of `x`, where
  the best `y` minimizes the metric at that `x`; minus `target` (default 0).
- `spread`: the coefficient of variation of the metric over the arm's seeds, minus `target`;
  interval by bootstrap over seeds.
- `rank`: per seed, Kendall's tau between the arms' listed order (best first) and the metric's.
- `measured`: the metric of the first arm, per seed (no direction).
- `kind`: a value an experiment kind measured (non-MLP kinds, experiments/kinds/registry.py): `measure`
  names it; the kind gives per-seed values (or paired differences) under that name.

A kind module registers in experiments/kinds/registry.py and its `run` returns, besides its table and
figures, `measurements`: {name: [per-seed values]}; a claim with `test = "kind"` and
`measure = name` then decides on them with the same rule.

Metrics of a record: those in CLAIM_METRICS. Runs that diverged or failed have no value and drop their
seed's pair (the evidence says how many); runs that did not learn keep their (bad) value.
"""

import dataclasses

from experiments.evidence import decision
from experiments.evidence.arms import CLAIM_METRICS, HALVES_METRICS, value  # noqa: F401  (the kinds read records with `value`)
from experiments.evidence.claim_tests import evaluate, per_seed_values  # noqa: F401  (the tests: claim_tests.py)

TESTS = ("difference", "threshold", "highest_rate", "best_rate", "best_of_n", "slope", "spread", "rank", "measured", "kind")
CLAIM_KEYS = {
    "id", "claim", "source", "test", "metric", "at_epoch", "arms", "direction", "margin", "target",
    "over", "x", "y", "measure", "note", "restarts", "speed",
}  # fmt: skip
# What a speed claim's sentence means: ahead during the first steps, or ahead at the end of a fixed
# budget (AlgoPerf and Shallue et al. 2018 measure the second, or steps to a target).
SPEEDS = {"": "", "early": "ahead during the first steps", "end": "ahead at the end of a fixed budget"}


class ClaimError(ValueError):
    """A [[claims]] entry is malformed."""


@dataclasses.dataclass
class Claim:
    id: str
    claim: str
    source: list
    test: str
    metric: str = "val_loss"
    arms: list = dataclasses.field(default_factory=list)
    direction: str = None
    margin: float = 0.0
    target: float = 0.0
    at_epoch: int = None
    over: str = "learning_rate"
    x: str = "batch_size"
    y: str = "learning_rate"
    measure: str = ""
    note: str = ""
    restarts: int = 3
    speed: str = ""  # speed claims: "early" (ahead during the first steps) or "end" (ahead at the end of the budget)

    @property
    def budget(self):
        """What the metric measures: a fixed budget (speed) or the end of training (end state)."""
        if self.speed and self.metric == "early_loss":
            return SPEEDS[self.speed]
        if self.metric in ("learned", "diverged", "early_loss", "late_progress", "ms_per_update"):
            return ""
        return f"after epoch {self.at_epoch} (fixed budget)" if self.at_epoch else "at the end of training"


def parse(raw_claims, where, validate_setting):
    """[[claims]] entries -> Claims; `validate_setting(name, value)` checks arm settings."""
    if not isinstance(raw_claims, list):
        raise ClaimError(f"{where}: `claims` must be an array of tables ([[claims]])")
    result, seen = [], set()
    for raw in raw_claims:
        if not isinstance(raw, dict):
            raise ClaimError(f"{where}: each [[claims]] entry must be a table; got {raw!r}")
        name = raw.get("id", "?")
        unknown = set(raw) - CLAIM_KEYS
        if unknown:
            raise ClaimError(f"{where}: claim {name!r}: unknown key(s) {sorted(unknown)}; allowed: {sorted(CLAIM_KEYS)}")
        for key in ("id", "claim"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise ClaimError(f"{where}: claim {name!r}: `{key}` (a non-empty string) is required")
        if raw["id"] in seen:
            raise ClaimError(f"{where}: claim id {raw['id']!r} declared twice")
        seen.add(raw["id"])
        source = raw.get("source", [])
        source = [source] if isinstance(source, str) else source
        test = raw.get("test")
        if test not in TESTS:
            raise ClaimError(f"{where}: claim {name!r}: `test` must be one of {TESTS}; got {test!r}")
        metric = raw.get("metric", "val_loss")
        if test != "kind" and metric not in CLAIM_METRICS:
            raise ClaimError(f"{where}: claim {name!r}: `metric` must be one of {sorted(CLAIM_METRICS)}; got {metric!r}")
        direction = raw.get("direction")
        if direction not in decision.DIRECTIONS:
            raise ClaimError(f"{where}: claim {name!r}: `direction` must be one of greater, less, within; got {direction!r}")
        for key in ("margin", "target"):
            number = raw.get(key, 0.0)
            if isinstance(number, bool) or not isinstance(number, (int, float)) or (key == "margin" and number < 0):
                raise ClaimError(f"{where}: claim {name!r}: `{key}` must be a number{' >= 0' if key == 'margin' else ''}; got {number!r}")
        arms = raw.get("arms", [])
        if not isinstance(arms, list):
            raise ClaimError(f"{where}: claim {name!r}: `arms` must be a list")
        for arm in arms:
            if arm == "best":
                continue
            if not isinstance(arm, dict):
                raise ClaimError(f"{where}: claim {name!r}: each arm is a table of settings, {{label = ...}} or \"best\"; got {arm!r}")
            for key, setting in arm.items():
                if key != "label":
                    arm[key] = validate_setting(key, setting)
        wanted = {"difference": 2, "highest_rate": 2, "best_rate": 2, "threshold": 1, "measured": 1, "spread": 1, "rank": 2}
        if test in wanted and len(arms) < wanted[test]:
            raise ClaimError(f"{where}: claim {name!r}: test {test!r} needs at least {wanted[test]} arm(s); got {len(arms)}")
        if test == "kind" and not raw.get("measure"):
            raise ClaimError(f"{where}: claim {name!r}: test 'kind' needs `measure`, the name of a kind's measurement")
        restarts = raw.get("restarts", 3)
        if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 2:
            raise ClaimError(f"{where}: claim {name!r}: `restarts` (the N of best of N) must be an integer >= 2; got {restarts!r}")
        if test == "best_of_n" and metric not in HALVES_METRICS:
            raise ClaimError(f"{where}: claim {name!r}: test 'best_of_n' needs `metric` in {sorted(HALVES_METRICS)}; got {metric!r}")
        if raw.get("speed", "") not in SPEEDS:
            raise ClaimError(f"{where}: claim {name!r}: `speed` must be one of {sorted(SPEEDS)}; got {raw['speed']!r}")
        at_epoch = raw.get("at_epoch")
        if at_epoch is not None and (not isinstance(at_epoch, int) or at_epoch < 1):
            raise ClaimError(f"{where}: claim {name!r}: `at_epoch` must be an integer >= 1; got {at_epoch!r}")
        result.append(Claim(
            id=raw["id"], claim=raw["claim"].strip(), source=list(source), test=test, metric=metric, arms=arms,
            direction=direction, margin=float(raw.get("margin", 0.0)), target=float(raw.get("target", 0.0)),
            at_epoch=at_epoch, over=raw.get("over", "learning_rate"), x=raw.get("x", "batch_size"),
            y=raw.get("y", "learning_rate"), measure=raw.get("measure", ""), note=raw.get("note", ""),
            restarts=restarts, speed=raw.get("speed", ""),
        ))  # fmt: skip
    return result


