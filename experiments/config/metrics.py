"""The metrics a run's record holds, and which way is better for each: decided here, once.

Every metric that ranks runs (tuning picks a best value, a claim picks its best configuration,
a grid's best rate) reads its direction from `higher_is_better`.
"""

# What an experiment may tune on and report as its headline (`metric = ...` in a spec).
TUNING_METRICS = ("val_loss", "val_accuracy", "train_loss")
# Larger is better for these; every other metric is a loss, a time or a count, smaller is better.
HIGHER_IS_BETTER = frozenset({"val_accuracy", "train_accuracy", "best_val_accuracy", "learned"})


def higher_is_better(metric):
    return metric in HIGHER_IS_BETTER


def orientation(metric):
    """+1 where larger is better, -1 where smaller is: `orientation(m) * value` grows with quality."""
    return 1.0 if higher_is_better(metric) else -1.0
