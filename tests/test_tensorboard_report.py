"""`--report` puts the report inside TensorBoard: the claims table in the Text dashboard and the
forest plot and each experiment's figures in the Images dashboard, read back through a real
TensorBoard server's HTTP data API; every run command ends with its answers and REPORT.md."""

import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request

import pytest
from tiny_specs import tiny_sweep

from experiments import cli
from experiments.outputs import events

TINY = tiny_sweep(epochs=2)


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("report")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny.toml").write_text(textwrap.dedent(TINY))
    logdir = tmp_path / "logs"
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        assert cli.main(["tiny", "--specs-dir", str(specs), "--logdir", str(logdir), "--report"], out=f) == 0
    return logdir, out.read_text()


def test_a_run_ends_with_its_answers_and_the_report(reported):
    logdir, out = reported
    answers = out[out.index("Answers"):]
    assert "[tiny] " in answers and "A learning rate that is too large makes the loss explode" in answers
    assert "effect on diverged +0.5" in answers
    assert "Done in " in out and " min." not in out  # seconds below a minute
    assert (logdir / "REPORT.md").exists() and f"Report: {logdir / 'REPORT.md'}" in out
    assert out.index("== tiny ==") < out.index("Answers") < out.index("Report:")


def test_png_size_reads_the_header(reported):
    logdir, _ = reported
    width, height = events.png_size((logdir / "claims.png").read_bytes())
    assert width > 100 and height > 50


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _wait_for(port, runs, plugin, deadline_s=60):
    """The plugin's tags once TensorBoard has loaded every one of `runs`."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            tags = json.loads(_get(f"http://127.0.0.1:{port}/data/plugin/{plugin}/tags"))
            if all(run in tags for run in runs):
                return tags
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"TensorBoard never showed runs {runs} in {plugin}")


def test_tensorboard_serves_the_claims_table_and_the_figures(reported):
    logdir, _ = reported
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
         "--port", str(port), "--load_fast", "false", "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/data/plugin"
    try:
        texts = _wait_for(port, ["report", "tiny/report"], "text")
        assert texts["report"] == ["claims"] and texts["tiny/report"] == ["report"]
        claims = json.loads(_get(f"{base}/text/text?run=report&tag=claims"))
        html = claims[0]["text"]
        assert "<table>" in html and "lr-too-large-explodes" in html  # Markdown rendered as a table
        experiment = json.loads(_get(f"{base}/text/text?run=tiny/report&tag=report"))[0]["text"]
        assert "does a huge rate diverge?" in experiment

        images = _wait_for(port, ["report", "tiny/report"], "images")
        assert set(images["report"]) == {"forest_plot", "tiny/curves"}
        assert set(images["tiny/report"]) == {"curves"}
        for run, tag in (("report", "forest_plot"), ("report", "tiny/curves"), ("tiny/report", "curves")):
            query = urllib.parse.urlencode({"run": run, "tag": tag})
            (entry,) = json.loads(_get(f"{base}/images/images?{query}"))
            png = _get(f"{base}/images/individualImage?{entry['query']}")
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        server.terminate()
        server.wait(timeout=10)
