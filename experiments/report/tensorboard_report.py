"""The report inside TensorBoard (`python experiments/run.py --report`).

    <logdir>/report/                 a run named "report": Text dashboard, tag `claims` (the claims
                                     table of REPORT.md, Markdown); Images dashboard, tag `forest_plot`
                                     and `<experiment>/<figure>` for each experiment's figures
    <logdir>/<experiment>/report/    beside the experiment's runs: its report.md (Text, tag `report`)
                                     and its figures (Images, tag `<figure>`)

Written from the files REPORT.md, claims.png, each experiment's report.md and figures: it reads
the log directory only, like REPORT.md, and needs no TensorFlow.
"""

import os

from experiments.evidence import findings
from experiments.outputs import events
from experiments.report import reports

REPORT_RUN = "report"  # the run's directory name, at the top and in each experiment's directory


def _without_images(markdown):
    """Markdown for the Text dashboard: image links point at files TensorBoard does not serve."""
    return "\n".join(line for line in markdown.splitlines() if not line.lstrip().startswith("!["))


def claims_markdown(report_text):
    """REPORT.md's opening: the title, the counts, the rule and the claims table (up to the first
    experiment's section)."""
    head = report_text.split("\n## ", 1)[0]
    return _without_images(head)


def _figures(directory):
    data = findings.load(directory) or {}
    names = data.get("figures") or []
    return [name for name in names if name.endswith(".png") and os.path.exists(os.path.join(directory, name))]


def write_experiment(name, directory):
    """<directory>/report: the experiment's report.md and figures; returns the run's directory."""
    report_path = os.path.join(directory, reports.EXPERIMENT_REPORT_FILE)
    texts = []
    if os.path.exists(report_path):
        with open(report_path) as f:
            texts.append(("report", _without_images(f.read())))
    images = [(os.path.splitext(figure)[0], os.path.join(directory, figure)) for figure in _figures(directory)]
    run_dir = os.path.join(directory, REPORT_RUN)
    events.write_run(run_dir, texts, images)
    return run_dir


def write(logdir, specs_dir):
    """Both kinds of report run, from REPORT.md (built first: reports.build); returns the top run's directory."""
    with open(os.path.join(logdir, reports.REPORT_FILE)) as f:
        texts = [("claims", claims_markdown(f.read()))]
    images = []
    forest = os.path.join(logdir, reports.FOREST_FILE)
    if os.path.exists(forest):
        images.append(("forest_plot", forest))  # a tag is one plugin's per run: not "claims" twice
    _, done, _ = reports.claim_entries(logdir, specs_dir)
    for name, dataset, directory, _data in done:
        title = name if dataset == "digits" else f"{dataset}/{name}"
        write_experiment(title, directory)
        images += [(f"{title}/{os.path.splitext(f)[0]}", os.path.join(directory, f)) for f in _figures(directory)]
    run_dir = os.path.join(logdir, REPORT_RUN)
    events.write_run(run_dir, texts, images)
    return run_dir
