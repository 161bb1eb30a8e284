"""Findings: a claim of the notes, the verdict the measurements give, and the evidence.

Every experiment ends with a list of findings, saved as `findings.json` beside its results;
`python experiments/run.py --report` gathers them from whatever has been run into one report.
"""

import dataclasses
import os

from experiments import files

VERDICTS = ("supported", "not supported", "inconclusive", "measured")
FINDINGS_FILE = "findings.json"


@dataclasses.dataclass
class Finding:
    claim: str  # one line: what the notes say (or, for "measured", what was measured)
    verdict: str  # one of VERDICTS; "measured" where the notes make no testable claim
    evidence: str  # Markdown: the numbers behind the verdict, with n and spread

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")

    def markdown(self):
        return f"- **{self.claim}** — _{self.verdict}_. {self.evidence}"


def verdict_from(holds, separated):
    """`holds`: the measurement points the notes' way; `separated`: by more than the spread."""
    if not separated:
        return "inconclusive"
    return "supported" if holds else "not supported"


def save(exp_dir, experiment, findings, seeds, runs, figures=("curves.png",)):
    files.write_json_atomic(
        os.path.join(exp_dir, FINDINGS_FILE),
        {
            "experiment": experiment.name,
            "description": experiment.description,
            "question": experiment.question,
            "seeds": seeds,
            "runs": runs,
            "figures": list(figures),
            "findings": [dataclasses.asdict(f) for f in findings],
        },
    )


def load(exp_dir):
    return files.read_json(os.path.join(exp_dir, FINDINGS_FILE))
