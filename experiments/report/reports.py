"""Every report the suite writes, in one module: each experiment's `report.md` and, from whatever
has been run, `logs/REPORT.md`, `logs/claims.json` and the forest plot `logs/claims.png`
(`python experiments/run.py --report`).

REPORT.md opens with the claims table (id, verdict, effect with its 95% interval, n, metric and
notes file), one row per claim and, when experiments ran on more than one data set, one verdict
column per data set with the claims whose verdicts disagree between data sets listed (a finding,
not a failure). Then the forest plot, then each experiment: question, findings, table, figures.
Experiments not run yet are listed with the command that runs them. Reads only files under the
log directory; needs no network.

claims.json is a list of {id, claim, source, verdict, effect, ci, n, metric, experiment, dataset,
evidence}, one entry per (claim, data set); strict JSON (non-finite numbers are null).
"""

import collections
import datetime
import math
import os

import pandas as pd

from experiments import spec
from experiments.evidence import findings
from experiments.evidence.decision import VERDICTS
from experiments.outputs import files
from experiments.report import catalogue, synthesis
from experiments.report.forest_plot import forest_plot

REPORT_FILE = "REPORT.md"
CLAIMS_FILE = "claims.json"
FOREST_FILE = "claims.png"
EXPERIMENT_REPORT_FILE = "report.md"
CLAIM_FIELDS = ("id", "claim", "source", "verdict", "effect", "ci", "n", "metric", "experiment", "dataset", "evidence",
                "margin", "direction", "method", "seeds", "budget_exhausted")
TESTED = ("supported", "contradicted", "no effect", "inconclusive")


# -- One experiment -------------------------------------------------------------------------------


def _files_note(experiment, exp_dir):
    if experiment.kind != "mlp":
        return f"The table as CSV: `results.csv`; the figures also in TensorBoard: `tensorboard --logdir {exp_dir}`."
    return (
        "Every run: `runs.csv`; per configuration with all metrics: `results.csv`; curves, learning rate, "
        f"gradient statistics and hyperparameters: `tensorboard --logdir {exp_dir}`."
    )


def write_experiment_report(experiment, exp_dir, table, found, seeds, records, figures=("curves.png",), wall=None):
    """`exp_dir/report.md`: the experiment's question, its claims' verdicts, table and figures."""
    if experiment.kind == "mlp":
        fixed = ", ".join(f"{k}={v}" for k, v in experiment.fixed.items()) or "the defaults"
        statuses = collections.Counter(r["status"] for r in records)
        versions = next((r["versions"] for r in records if r.get("versions")), {})
        wall = sum(r.get("wall_time_s", 0) for r in records)
        outcome_text = ", ".join(f"{statuses.get(s, 0)} {s}" for s in ("ok", "did_not_learn", "diverged", "failed"))
        setup = (
            f"**Varied:** {', '.join(experiment.varied_settings) or 'nothing'}. **Fixed:** {fixed}.\n"
            f"**Seeds per configuration:** {seeds}. **Runs:** {len(records)} ({outcome_text}), "
            f"{wall / 60:.1f} min of training. Only `ok` runs count as successes (experiments/engine/outcomes.py)."
        )
    else:
        from experiments.config.versions import package_versions

        versions = package_versions()
        setup = (
            f"**Parameters:** {', '.join(f'{k}={v}' for k, v in experiment.params.items())}.\n"
            f"**Seeds:** {seeds}. {wall:.0f} s."
        )
    lead = [name for name in figures[:1] if name == "headline.png"]  # the answer at a glance, under the question
    images = "\n".join(f"![{name}]({name})" for name in figures if name not in lead)
    text = f"""# {experiment.name}

{experiment.description}

**Question.** {experiment.question}
{"".join(f"{chr(10)}![{name}]({name}){chr(10)}" for name in lead)}
{setup}

## Answer

{chr(10).join(f.markdown() for f in found) or "No claims declared."}

## Results

{table.to_markdown(index=False)}

{images}

{_files_note(experiment, exp_dir)}

_Generated {datetime.datetime.now().isoformat(timespec='seconds')} with {', '.join(f'{k} {v}' for k, v in versions.items())}._
"""
    files.write_text_atomic(os.path.join(exp_dir, EXPERIMENT_REPORT_FILE), text)


# -- The whole suite --------------------------------------------------------------------------------


def _experiment_dirs(logdir, name):
    """(dataset, directory) of each run of experiment `name`: logdir/name on the default data set,
    logdir/<dataset>/name on any other."""
    found = []
    default = os.path.join(logdir, name)
    if findings.load(default):
        found.append((findings.load(default).get("dataset", "digits"), default))
    if os.path.isdir(logdir):
        for entry in sorted(os.listdir(logdir)):
            candidate = os.path.join(logdir, entry, name)
            if entry != name and os.path.isdir(candidate) and findings.load(candidate):
                found.append((entry, candidate))
    return found


def claim_entries(logdir, specs_dir=spec.SPECS_DIR):
    """The claims.json entries of everything run so far, and the experiments' data."""
    entries, done, missing = [], [], []
    for name in spec.available(specs_dir):
        dirs = _experiment_dirs(logdir, name)
        if not dirs:
            missing.append(name)
        for dataset, directory in dirs:
            data = findings.load(directory)
            done.append((name, dataset, directory, data))
            for finding in data["findings"]:
                item = {field: finding.get(field) for field in CLAIM_FIELDS}
                item.update(experiment=name, dataset=dataset)
                item["source"] = item["source"] or []
                item["id"] = item["id"] or ""
                entries.append(item)
    return entries, done, missing


def _interval_text(entry):
    effect, ci = entry.get("effect"), entry.get("ci") or [None, None]
    if effect is None:
        return "—"
    # null ends are infinite: no finite interval reaches 95% (e.g. the sign test at n < 6)
    low = f"{ci[0]:+.3g}" if ci[0] is not None else "-∞"
    high = f"{ci[1]:+.3g}" if ci[1] is not None else "+∞"
    return f"{effect:+.3g} [{low}, {high}]"


def build(logdir, specs_dir=spec.SPECS_DIR):
    """Writes logdir/REPORT.md, logdir/claims.json and logdir/claims.png; returns REPORT.md's path."""
    entries, done, missing = claim_entries(logdir, specs_dir)
    # One entry per declared claim (per data set); the kinds' own unnamed checks stay in the sections.
    files.write_json_atomic(os.path.join(logdir, CLAIMS_FILE), [_strict(e) for e in entries if e["id"]])
    forest = forest_plot([e for e in entries if e["id"]], os.path.join(logdir, FOREST_FILE))
    datasets = sorted({e["dataset"] for e in entries})
    verdicts = collections.Counter(e["verdict"] for e in entries if e["id"])
    names = spec.available(specs_dir)
    lines = [
        "# What the notes claim, and what this machine measured",
        "",
        f"{len({n for n, *_ in done})} of {len(names)} experiments have been run"
        + (f", on {', '.join(datasets)}" if datasets else "")
        + ". Verdicts: " + (", ".join(f"{n} {v}" for v, n in verdicts.most_common()) or "none yet") + ".",
        "",
        "Each verdict follows one rule, written before the runs (experiments/evidence/decision.py): the per-seed "
        "differences between arms on paired seeds, their mean and 95% interval; _supported_ / _contradicted_ "
        "when the interval excludes 0 in / against the claimed direction, _no effect_ when it lies inside ± "
        "the claim's margin, _inconclusive_ otherwise (with the seeds that would settle it), _measured_ for a "
        "quantity with no claimed direction, _no information_ when every arm failed. Only runs that learned "
        "(`ok`) count as successes.",
        "",
    ]
    lines += _claims_table(entries, datasets)
    if forest:
        lines += ["", f"![Every claim's effect with its 95% interval]({FOREST_FILE})"]
    measured = {e["id"] for e in entries}
    waiting = [entry for entry in catalogue.load() if entry.id not in measured]
    if waiting:
        tested_by = catalogue.tested_by(specs_dir)
        lines += ["", f"**Claims of the notes without a verdict yet** ({len(waiting)} of {len(catalogue.load())}): "
                  + "; ".join(f"`{e.id}` ({tested_by.get(e.id, 'no experiment')})" for e in waiting) + "."]
    if missing:
        lines += ["", "**Not run yet:** " + ", ".join(f"`{n}`" for n in missing)
                  + f". Run them with `python experiments/run.py {' '.join(missing)}`."]
    for name, dataset, directory, data in done:
        rel = os.path.relpath(directory, logdir)
        title = name if dataset == "digits" else f"{name} ({dataset})"
        lines += ["", f"## {title}", "", data["description"], "", f"**Question.** {data['question']}", "",
                  f"Seeds per configuration: {data['seeds']}; runs: {data['runs']}.", ""]
        lines += [findings.from_dict(f).markdown() for f in data["findings"]]
        table_path = os.path.join(directory, "results.csv")
        if os.path.exists(table_path):
            lines += ["", _compact_table(pd.read_csv(table_path)).to_markdown(index=False)]
        for figure in data.get("figures", []):
            if os.path.exists(os.path.join(directory, figure)):
                lines += ["", f"![{name} {figure}]({rel}/{figure})"]
    lines += ["", f"_Built {datetime.datetime.now().isoformat(timespec='seconds')} from {os.path.abspath(logdir)}._", ""]
    path = os.path.join(logdir, REPORT_FILE)
    files.write_text_atomic(path, "\n".join(lines))
    return path


def _strict(entry):
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return {k: clean(v) for k, v in entry.items()}


def _claims_table(entries, datasets):
    claimed = [e for e in entries if e["id"]]
    if not claimed:
        return ["No claims have been tested yet."]
    by_id = {}
    for entry in claimed:
        by_id.setdefault(entry["id"], {})[entry["dataset"]] = entry
    first = datasets[0] if len(datasets) == 1 else ("digits" if "digits" in datasets else datasets[0])
    header = ["id", "verdict", "effect [95% interval]", "n", "seeds", "metric", "notes", "experiment"]
    others = [d for d in datasets if d != first] if len(datasets) > 1 else []
    header += [f"verdict on {d}" for d in others]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for claim_id, per_dataset in by_id.items():
        entry = per_dataset.get(first) or next(iter(per_dataset.values()))
        seeds = f"{entry['seeds']}{' (budget spent)' if entry.get('budget_exhausted') else ''}" if entry.get("seeds") else "—"
        row = [f"`{claim_id}`", entry["verdict"], _interval_text(entry), str(entry.get("n") or "—"), seeds,
               entry.get("metric") or "", ", ".join(entry.get("source") or []), entry["experiment"]]
        row += [per_dataset[d]["verdict"] if d in per_dataset else "not run" for d in others]
        lines.append("| " + " | ".join(row) + " |")
    if len(datasets) > 1:
        lines += ["", "**One answer per claim across data sets** (pooled: random-effects mean in units of the "
                  "claim's margin, with I², the share of the spread between data sets beyond chance):", ""]
        for claim_id, per_dataset in by_id.items():
            line = f"- `{claim_id}`: " + synthesis.synthesis_line({d: e["verdict"] for d, e in per_dataset.items()})
            pool = synthesis.pooled(list(per_dataset.values()))
            if pool:
                line += f"; pooled {pool[0]:+.2f} [{pool[1]:+.2f}, {pool[2]:+.2f}] margins, I² = {100 * pool[3]:.0f}%"
            lines.append(line + ".")
    return lines


def _compact_table(table):
    """The columns a reader needs: what varies, n, outcomes and the main metrics' mean ± std."""
    if "group" not in table.columns or "val_loss_mean" not in table.columns:
        return table
    out = pd.DataFrame({"configuration": table["group"]})
    for metric in ("val_loss", "val_accuracy", "train_loss"):
        mean, std = table[f"{metric}_mean"], table[f"{metric}_std"]
        out[metric] = [
            "—" if pd.isna(m) else f"{m:.4g}" + ("" if pd.isna(s) else f" ± {s:.2g}") for m, s in zip(mean, std)
        ]
    out["ok/n"] = [f"{o}/{n}" for o, n in zip(table["ok"], table["n"])]
    for column in ("did_not_learn", "diverged"):
        if column in table.columns:
            out[column] = table[column]
    return out


def validate_entries(entries):
    """Raises ValueError when claims.json entries break the schema (used by tests and readers)."""
    for entry in entries:
        if set(entry) != set(CLAIM_FIELDS):
            raise ValueError(f"claims.json entry has fields {sorted(entry)}; expected {sorted(CLAIM_FIELDS)}")
        if entry["verdict"] not in VERDICTS:
            raise ValueError(f"verdict {entry['verdict']!r} not one of {VERDICTS}")
        if entry["verdict"] in TESTED and (entry["n"] is None or entry["metric"] in (None, "")):
            raise ValueError(f"tested claim {entry['id']!r} lacks n or metric")


