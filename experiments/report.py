"""One report from whatever has been run: `python experiments/run.py --report`.

For each experiment: its question, each claim with the measured evidence and a verdict, the
number of seeds, the table and the figures. Experiments not run yet are listed with the
command that runs them. Reads only files under the log directory; needs no network.
"""

import collections
import datetime
import os

import pandas as pd

from experiments import files, findings, spec

REPORT_FILE = "REPORT.md"


def build(logdir, specs_dir=spec.SPECS_DIR):
    """Writes logdir/REPORT.md and returns its path."""
    names = spec.available(specs_dir)
    done, missing = [], []
    for name in names:
        data = findings.load(os.path.join(logdir, name))
        (done if data else missing).append((name, data))

    verdicts = collections.Counter(f["verdict"] for _, data in done for f in data["findings"])
    lines = [
        "# What the notes claim, and what this machine measured",
        "",
        f"{len(done)} of {len(names)} experiments have been run. Verdicts: "
        + (", ".join(f"{n} {v}" for v, n in verdicts.most_common()) or "none yet")
        + ". A verdict is _inconclusive_ when the difference is within the spread over seeds; "
        "_measured_ marks a measurement the notes make no testable claim about.",
        "",
        "| experiment | claim | verdict |",
        "| --- | --- | --- |",
    ]
    for name, data in done:
        for finding in data["findings"]:
            lines.append(f"| [{name}](#{name}) | {finding['claim']} | {finding['verdict']} |")
    if missing:
        lines += ["", "**Not run yet:** " + ", ".join(f"`{n}`" for n, _ in missing)
                  + f". Run them with `python experiments/run.py {' '.join(n for n, _ in missing)}`."]

    for name, data in done:
        exp_dir = os.path.join(logdir, name)
        lines += ["", f"## {name}", "", data["description"], "", f"**Question.** {data['question']}", "",
                  f"Seeds per configuration: {data['seeds']}; runs: {data['runs']}.", ""]
        lines += [findings.Finding(**f).markdown() for f in data["findings"]]
        table_path = os.path.join(exp_dir, "results.csv")
        if os.path.exists(table_path):
            lines += ["", _compact_table(pd.read_csv(table_path)).to_markdown(index=False)]
        for figure in data.get("figures", []):
            if os.path.exists(os.path.join(exp_dir, figure)):
                lines += ["", f"![{name} {figure}]({name}/{figure})"]
    lines += ["", f"_Built {datetime.datetime.now().isoformat(timespec='seconds')} from {os.path.abspath(logdir)}._", ""]
    path = os.path.join(logdir, REPORT_FILE)
    files.write_text_atomic(path, "\n".join(lines))
    return path


def _compact_table(table):
    """The columns a reader needs: what varies, n, statuses and the main metrics' mean ± std."""
    if "group" not in table.columns or "val_loss_mean" not in table.columns:
        return table
    out = pd.DataFrame({"configuration": table["group"]})
    for metric in ("val_loss", "val_accuracy", "train_loss"):
        mean, std = table[f"{metric}_mean"], table[f"{metric}_std"]
        out[metric] = [
            "—" if pd.isna(m) else f"{m:.4g}" + ("" if pd.isna(s) else f" ± {s:.2g}") for m, s in zip(mean, std)
        ]
    out["ok/n"] = [f"{o}/{n}" for o, n in zip(table["ok"], table["n"])]
    out["diverged"] = table["diverged"]
    return out
