"""What an experiment kind's `run` returns (experiments/kinds/registry.py)."""

import dataclasses


@dataclasses.dataclass
class KindResult:
    table: object  # pandas DataFrame: the results table
    findings: list  # experiments.evidence.findings.Finding: the kind's own checks
    figures: list  # file names of the figures written in the experiment's directory
    measurements: dict = dataclasses.field(default_factory=dict)  # {name: [one value per seed or start]}
