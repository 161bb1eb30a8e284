"""The forest plot (`logs/claims.png`): every claim's effect with its interval, side by side.

- Effects are in units of each claim's practical margin (effect / margin), so rows are comparable:
  the shaded band [-1, 1] is "no practical difference"; a claim with no margin is drawn in units of
  its interval's largest end and says so.
- The claimed direction is always to the right: a claim that says "less" has its effect negated.
- One colour per verdict; every row is the same height, whatever the number of claims.
- Intervals reaching past the axis end in an arrow at the edge (not stretched to fill it).
"""

import math
import os

COLOURS = {"supported": "tab:green", "contradicted": "tab:red", "no effect": "tab:blue",
           "inconclusive": "tab:orange", "measured": "black", "no information": "lightgray"}  # fmt: skip
ROW_INCHES = 0.28
LIMIT = 12.0  # margins: the axis runs from -LIMIT to +LIMIT


def scaled(entry):
    """(effect, low, high, unit text) of an entry in margins, claimed direction to the right."""
    sign = -1.0 if entry.get("direction") == "less" else 1.0
    low, high = entry.get("ci") or [None, None]
    margin = entry.get("margin") or 0.0
    if margin > 0:
        unit, text = margin, ""
    else:
        ends = [abs(v) for v in (entry["effect"], low, high) if v is not None and math.isfinite(v)]
        unit, text = (max(ends) / 4 if ends and max(ends) > 0 else 1.0), " (no margin: units of its interval)"
    low = -math.inf if low is None else low
    high = math.inf if high is None else high
    values = sorted((sign * low / unit, sign * high / unit))
    return sign * entry["effect"] / unit, values[0], values[1], text


def forest_plot(entries, path):
    """Writes the plot of `entries` (claims.json entries, with `margin` and `direction`) to path."""
    rows = [e for e in entries if e.get("effect") is not None]
    if not rows:
        return None
    from experiments.outputs.figures import plt, save_figure

    fig, ax = plt.subplots(figsize=(10, ROW_INCHES * len(rows) + 1.4))
    ax.axvspan(-1, 1, color="0.9", zorder=0, label="no practical difference (± margin)")
    ax.axvline(0, color="black", lw=0.8)
    for i, entry in enumerate(rows):
        effect, low, high, text = scaled(entry)
        colour = COLOURS.get(entry["verdict"], "black")
        shown = (max(low, -LIMIT), min(high, LIMIT))
        ax.plot(shown, [i, i], color=colour, lw=2)
        for end, edge, marker in ((low, -LIMIT, "<"), (high, LIMIT, ">")):
            if end < edge if edge < 0 else end > edge:
                ax.plot(edge, i, marker, color=colour, ms=5)
        ax.plot(min(max(effect, -LIMIT), LIMIT), i, "o", color=colour, ms=4)
        label = f"{entry['id']} ({entry['dataset']})" if entry.get("dataset", "digits") != "digits" else entry["id"]
        ax.text(LIMIT * 1.03, i, f"{entry['verdict']}{text}", va="center", fontsize=7, color=colour)
        rows[i] = label
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(-LIMIT, LIMIT)
    for verdict, colour in COLOURS.items():
        ax.plot([], [], color=colour, lw=2, label=verdict)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.12, 1.0), frameon=False)
    ax.set_xlabel("effect in units of the claim's margin; the claimed direction to the right")
    ax.set_title("Every claim: effect and interval (arrows: the interval goes on past the axis)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, os.path.dirname(path), os.path.basename(path))
    return path
