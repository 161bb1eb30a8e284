"""The external check: our logistic regression, MLP and CNN on MNIST-1D at the paper's set-up,
against the paper's test accuracies (Greydanus 2020, "Scaling down deep learning"; the mnist1d
package README: logistic regression 32%, MLP 68%, CNN 94%).

    python benchmarks/mnist1d_reference.py [--seeds 3] [--epochs 200] [--jobs 2]

The paper's set-up (its train.py defaults): the data as `make_dataset(get_dataset_args())`
builds it (4,000 training and 1,000 test sequences of 40 points), Adam at learning rate 1e-2,
batch 100, 8,000 steps (200 epochs), no weight decay, test accuracy at the end. Its MLP: two
ReLU layers of 100 units (the second with a residual connection); its CNN: three stride-2 1-D
convolutions of 25 channels (kernels 5, 3, 3), ReLU, a linear classifier on the 125 flattened
features. Ours: the same data, split and optimizer settings; our MLP (no residual connection)
at width 100, depth 2; our CNN at 25 filters, depth 3 (kernels 3, "same" padding: also 125
features); our Adam; batches reshuffled every epoch (the paper walks the data in order); each
run trained by the experiment runner (experiments/engine/training.py). The validation set is the
paper's test set, so "val accuracy" below is its test accuracy.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from experiments.config.settings import resolve  # noqa: E402
from experiments.sweeps.planning import PlannedRun  # noqa: E402

PAPER_TEST_ACCURACY = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94}
PAPER_EPOCHS = 200  # 8,000 steps of 100 examples over 4,000
PAPER_SETUP = {
    "dataset": "mnist1d",
    "input_scaling": "raw",  # make_dataset already centres the data and scales it to unit deviation
    "optimizer": "adam",
    "learning_rate": 1e-2,
    "batch_size": 100,
    "activation": "relu",
}
MODELS = {
    "logistic": {"model": "mlp", "depth": 0},
    "mlp": {"model": "mlp", "width": 100, "depth": 2},
    "cnn": {"model": "cnn", "width": 25, "depth": 3},
}


def reference_runs(epochs=PAPER_EPOCHS, seeds=1):
    """One planned run per model and seed at the paper's set-up."""
    runs = []
    for name, model in MODELS.items():
        for seed in range(seeds):
            config = resolve({**PAPER_SETUP, **model, "epochs": epochs, "seed": seed})
            runs.append(PlannedRun("mnist1d_reference", name, f"{name}_seed{seed}", "final", config))
    return runs


def train(runs, logdir, jobs=1):
    """{model name: [record per seed]}, trained through the experiment runner's workers."""
    from experiments.config.options import RunnerOptions
    from experiments.sweeps.pools import make_pool

    pool = make_pool(RunnerOptions(logdir=logdir, jobs=jobs))
    records = {}
    try:
        for run, record in pool.map_runs(runs, logdir):
            records.setdefault(run.group, []).append(record)
    finally:
        pool.close()
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=PAPER_EPOCHS)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as logdir:
        records = train(reference_runs(args.epochs, args.seeds), logdir, args.jobs)
    wall = time.perf_counter() - started
    print(f"MNIST-1D at the paper's set-up: Adam lr 1e-2, batch 100, {args.epochs} epochs "
          f"({args.epochs * 40} steps), {args.seeds} seed(s); test accuracy at the end")
    print("| model | paper | ours: final (mean ± sd) | ours: best epoch | ours: train accuracy | runs |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in MODELS:
        ok = [r for r in records.get(name, []) if r["status"] == "ok"]
        final = [r["metrics"]["val_accuracy"] for r in ok]
        best = [r["metrics"]["best_val_accuracy"] for r in ok]
        train_accuracy = [r["metrics"]["train_accuracy"] for r in ok]
        if not ok:
            print(f"| {name} | {PAPER_TEST_ACCURACY[name]:.0%} | no run finished | | | 0 |")
            continue
        spread = statistics.stdev(final) if len(final) > 1 else 0.0
        print(f"| {name} | {PAPER_TEST_ACCURACY[name]:.0%} | {statistics.mean(final):.1%} ± {spread:.1%} | "
              f"{statistics.mean(best):.1%} | {statistics.mean(train_accuracy):.1%} | {len(ok)} |")
    print(f"wall time {wall:.0f} s on {os.cpu_count()} cores, --jobs {args.jobs} (shared machine: times are noisy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
