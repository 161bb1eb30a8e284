"""One training run, settings in and a record out: the model, the optimizer and schedule, the
training loop, the per-process cache of compiled models, seeds stacked in one graph, and the run
directory every run writes."""
