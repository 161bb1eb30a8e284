"""Every claim of the notes (experiments/report/catalogue.toml) is tested by some experiment, and reaches
claims.json and REPORT.md after `--report` on a tiny run of everything."""

import json

from experiments import cli, spec
from experiments.report import catalogue, reports


def test_every_catalogue_claim_is_tested_by_an_experiment():
    entries = catalogue.load()
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)) == 38
    assert all(e.claim and e.source for e in entries)
    assert catalogue.untested() == []
    # The catalogue's notes files are the ones the experiment's claim cites.
    declared = {c.id: c for name in spec.available() for c in spec.load(name).claims}
    for entry in entries:
        if entry.id in declared:
            assert set(entry.source) == set(declared[entry.id].source), entry.id


def test_a_tiny_run_of_everything_reports_every_catalogue_claim(tmp_path, capsys):
    logdir = tmp_path / "logs"
    argv = ["--all", "--size", "quick", "--seeds", "1", "--set", "limit=150", "--logdir", str(logdir)]
    assert cli.main(argv) == 0
    assert cli.main(["--report", "--logdir", str(logdir)]) == 0
    entries = json.loads((logdir / reports.CLAIMS_FILE).read_text())
    reports.validate_entries(entries)
    assert {e.id for e in catalogue.load()} <= {e["id"] for e in entries}
    text = (logdir / reports.REPORT_FILE).read_text()
    assert "without a verdict yet" not in text and "Not run yet" not in text
