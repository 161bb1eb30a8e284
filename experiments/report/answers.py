"""The answers a command ends with: one line per claim its experiments decided, in words a
learner reads: "[learning_rate] SUPPORTED: Too small a learning rate stagnates — effect on
train_loss +0.52 (95% interval +0.31 to +0.73), 5 paired seeds"."""

from experiments.evidence import findings as findings_module

VERDICT_WORDS = {
    "supported": "SUPPORTED",
    "contradicted": "CONTRADICTED",
    "no effect": "NO EFFECT",
    "inconclusive": "INCONCLUSIVE",
    "measured": "MEASURED",
    "no information": "NO INFORMATION",
}


def _number(value):
    return f"{value:.3g}"


def effect_words(finding):
    """The effect and its interval as a phrase; "" when the finding has no number."""
    if finding.effect is None:
        return ""
    metric = finding.metric or "the measure"
    if finding.verdict == "measured":
        text = f"{metric} measured {_number(finding.effect)}"
    else:
        text = f"effect on {metric} {finding.effect:+.3g}"
    low, high = finding.ci or (None, None)
    if low is not None and high is not None:
        text += f" (95% interval {low:+.3g} to {high:+.3g})"
    elif finding.ci is not None:
        text += " (no finite 95% interval at this n)"
    if finding.n:
        text += f", {finding.n} paired seeds" if finding.verdict != "measured" else f", n={finding.n}"
    return text


def answer_line(finding):
    """One line: the verdict, the claim, and the numbers behind it."""
    head = f"{VERDICT_WORDS.get(finding.verdict, finding.verdict)}: {finding.claim.rstrip('.')}"
    words = effect_words(finding)
    if words:
        head += f" — {words}"
    if finding.verdict == "inconclusive" and finding.needed_n:
        head += f"; about {finding.needed_n} seeds would settle it"
    name = f"[{finding.experiment}] " if finding.experiment else ""
    return f"{name}{head}."


def answer_lines(found):
    """A line per declared claim (those with an id) of `found` (Findings, or dicts from findings.json)."""
    lines = []
    for finding in found:
        if isinstance(finding, dict):
            finding = findings_module.from_dict(finding)
        if finding.id:
            lines.append(answer_line(finding))
    return lines
