"""The notes' claims, one id each (experiments/report/catalogue.toml), and which experiment tests each.

An id is tested by a `[[claims]]` entry of an experiment file, or by a finding an experiment kind
makes itself (a verdict that is not a per-seed comparison, e.g. the importance kind's bootstrap over
trials), which the kind lists in its `claim_ids` (experiments/kinds/registry.py).
"""

import dataclasses
import os

import tomllib

from experiments import spec
from experiments.kinds import registry

CATALOGUE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "catalogue.toml")


@dataclasses.dataclass(frozen=True)
class Entry:
    id: str
    claim: str
    source: tuple


def load(path=CATALOGUE_FILE):
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    return [Entry(c["id"], c["claim"], tuple(c["source"])) for c in raw["claims"]]


def tested_by(specs_dir=spec.SPECS_DIR):
    """{claim id: experiment name} for every id some experiment declares."""
    result = {}
    for name in spec.available(specs_dir):
        experiment = spec.load(name, specs_dir=specs_dir)
        ids = [c.id for c in experiment.claims]
        if experiment.kind in registry.KINDS:
            ids += list(registry.KINDS[experiment.kind].claim_ids)
        result.update((claim_id, name) for claim_id in ids)
    return result


def untested(specs_dir=spec.SPECS_DIR):
    """Catalogue entries no experiment tests (empty when the suite covers the notes)."""
    covered = tested_by(specs_dir)
    return [entry for entry in load() if entry.id not in covered]
