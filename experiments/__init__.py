"""Scripted experiments on how neural networks are optimized: `python experiments/run.py`."""
