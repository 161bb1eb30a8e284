"""Findings: a claim of the notes, the verdict the measurements give, and the evidence.

Every experiment ends with a list of findings, saved as `findings.json` beside its results;
`python experiments/run.py --report` gathers them from whatever has been run into one report
(experiments/report/reports.py). Verdicts come from experiments/evidence/decision.py's rule; a tested finding
carries its effect, 95% interval, n and metric.
"""

import dataclasses
import os

from experiments.evidence.decision import VERDICTS
from experiments.outputs import files

FINDINGS_FILE = "findings.json"


@dataclasses.dataclass
class Finding:
    claim: str  # one line: what the notes say (or, for "measured", what was measured)
    verdict: str  # one of VERDICTS
    evidence: str  # Markdown: the numbers behind the verdict
    id: str = ""  # the catalogue's id; "" for a measurement no catalogue claim names
    source: list = dataclasses.field(default_factory=list)  # notes files
    effect: float = None
    ci: list = None  # [low, high] at 95%
    n: int = None
    metric: str = ""
    method: str = ""
    needed_n: int = None
    margin: float = None
    experiment: str = ""
    dataset: str = "digits"
    seeds: int = None  # seeds the verdict took (after more batches where the first look was inconclusive)
    budget_exhausted: bool = False  # inconclusive with the claim's seed budget spent
    direction: str = None  # the claimed direction: the forest plot turns it to the right
    speed: str = ""  # what the metric measures: a fixed budget, the first steps, the end of training

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")

    def markdown(self):
        name = f"`{self.id}` " if self.id else ""
        return f"- {name}**{self.claim}** — _{self.verdict}_. {self.evidence}"


def verdict_of_check(holds, separated):
    """For the kinds' own checks: `holds` the measurement points the notes' way; `separated` by
    more than the spread. Tested claims use experiments.evidence.decision.decide instead."""
    if not separated:
        return "inconclusive"
    return "supported" if holds else "contradicted"


def save(exp_dir, experiment, findings, seeds, runs, figures=("curves.png",), dataset="digits"):
    files.write_json_atomic(
        os.path.join(exp_dir, FINDINGS_FILE),
        {
            "experiment": experiment.name,
            "dataset": dataset,
            "description": experiment.description,
            "question": experiment.question,
            "seeds": seeds,
            "runs": runs,
            "figures": list(figures),
            "findings": [dataclasses.asdict(f) for f in findings],
        },
    )


LEGACY_VERDICTS = {"not supported": "contradicted"}  # findings.json written before the evidence rule


def from_dict(data):
    """A Finding from findings.json, old files included (their verdicts renamed, unknown keys dropped)."""
    fields = {f.name for f in dataclasses.fields(Finding)}
    values = {k: v for k, v in data.items() if k in fields}
    values["verdict"] = LEGACY_VERDICTS.get(values.get("verdict"), values.get("verdict"))
    return Finding(**values)


def load(exp_dir):
    """findings.json of an experiment directory (None if it has none), its findings as dicts of
    every Finding field, old files included."""
    data = files.read_json(os.path.join(exp_dir, FINDINGS_FILE))
    if data:
        data["findings"] = [dataclasses.asdict(from_dict(f)) for f in data.get("findings", [])]
    return data
