"""What a run and the runner are told: every setting of a run with its type, default and allowed
values; the runner's options; the metrics and which way is better for each."""
