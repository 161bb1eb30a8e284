"""How noisy is a mini-batch gradient? Measured exactly on digits (notes 003 and 004).

Every per-example gradient `g_i` (i = 1..N, the whole training split) of the project's MLP fits
in memory, so the full-batch gradient and the covariance of the per-example gradients are
known exactly, not estimated:

    G        = mean_i g_i                              # the full-batch gradient
    Sigma    = mean_i (g_i - G)(g_i - G)^T             # per-example covariance (the data set is
                                                       #   the population: 1/N)
    B_simple = tr(Sigma) / |G|^2                       # McCandlish et al. (2018), eq. 2.8

A batch of B examples drawn without replacement, as the training pipeline draws them, has

    E |g_B - G|^2 = tr(Sigma) / B * (N - B) / (N - 1)  # so E |g_B - G|^2 / |G|^2 = B_simple / B * ...

the notes' "small batches give noisier gradients", with a 1/B law (times the finite-population
factor, which is >= 0.9 for B <= N / 10). The error is measured by drawing `draws` batches of
each size: with the centred Gram matrix K = (g - G)(g - G)^T, |g_B - G|^2 = sum_{i,j in B}
K_ij / B^2, exact for each draw. The log-log slope of the mean squared error against B is
fitted on the sizes where the finite-population factor is >= 0.9 (a 1/B law is a slope of -1).

B_simple is measured at initialization and after training (SGD at `learning_rate`, batch
`train_batch_size`, as in the `batch_size_lr` experiment) for each of `checkpoint_epochs`.
McCandlish et al. predict that the best learning rate grows about linearly with B for
B << B_noise and stops growing near B_crit ~ B_simple; this is set beside where the best rate
of `batch_size_lr` stops growing, read from that experiment's results when it has been run.

`noise_scale_from_two_batch_sizes` is McCandlish et al.'s unbiased estimator (their appendix
A.1) from gradient norms at two batch sizes, for when per-example gradients are not available.

References:
    McCandlish, Kaplan, Amodei and the OpenAI Dota team (2018), "An Empirical Model of
    Large-Batch Training", https://arxiv.org/abs/1812.06162
"""

import math
import os

import numpy as np

from experiments.evidence.findings import Finding
from experiments.kinds.result import KindResult
from experiments.outputs import files, hparams_sessions

DEFAULT_PARAMS = {
    "width": 128,  # the project's default MLP
    "depth": 2,
    "learning_rate": 0.1,  # SGD between checkpoints
    "train_batch_size": 32,
    "checkpoint_epochs": [0, 1, 15],  # 15: batch_size_lr's epoch budget
    "batch_sizes": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    "draws": 200,  # batches drawn per size
    "limit": 0,  # examples of digits to use (0: all)
}
SLOPE_FIT_MIN_FACTOR = 0.9  # finite-population factor (N - B) / (N - 1) of the sizes the slope is fitted on
CHUNK = 256  # examples per per-example-gradient computation


# --- the estimators (numpy, float64) ---------------------------------------------------------


def noise_statistics(per_example_gradients):
    """(G, tr(Sigma), |G|^2, B_simple) from the (N, P) per-example gradients, Sigma with 1/N."""
    g = np.asarray(per_example_gradients, dtype=np.float64)
    mean = g.mean(axis=0)
    trace = float(((g - mean) ** 2).sum(axis=1).mean())
    squared_norm = float(mean @ mean)
    return mean, trace, squared_norm, trace / squared_norm


def expected_batch_error(trace, num_examples, batch_size):
    """E |g_B - G|^2 for a batch drawn without replacement: tr(Sigma) / B * (N - B) / (N - 1)."""
    if num_examples == 1:
        return 0.0
    return trace / batch_size * (num_examples - batch_size) / (num_examples - 1)


def centred_gram(per_example_gradients):
    g = np.asarray(per_example_gradients, dtype=np.float64)
    centred = g - g.mean(axis=0)
    return centred @ centred.T


def sampled_batch_errors(gram, batch_size, draws, rng):
    """|g_B - G|^2 for `draws` batches of `batch_size` drawn without replacement."""
    n = len(gram)
    errors = np.empty(draws)
    for k in range(draws):
        idx = rng.choice(n, size=batch_size, replace=False)
        errors[k] = gram[np.ix_(idx, idx)].sum() / batch_size**2
    return errors


def noise_scale_from_two_batch_sizes(small_squared_norm, big_squared_norm, small_batch, big_batch):
    """McCandlish et al.'s unbiased estimates (|G|^2, tr(Sigma)) from |g_B|^2 at two sizes:

        |G|^2    ~ (B_big |g_big|^2 - B_small |g_small|^2) / (B_big - B_small)
        tr(Sigma) ~ (|g_small|^2 - |g_big|^2) / (1 / B_small - 1 / B_big)

    (for batches drawn with replacement, E |g_B|^2 = |G|^2 + tr(Sigma) / B). Average each over
    many batches before taking the ratio: the ratio of averages is the noise scale.
    """
    squared_norm = (big_batch * big_squared_norm - small_batch * small_squared_norm) / (big_batch - small_batch)
    trace = (small_squared_norm - big_squared_norm) / (1 / small_batch - 1 / big_batch)
    return squared_norm, trace


def log_log_slope(batch_sizes, errors):
    slope, _ = np.polyfit(np.log(batch_sizes), np.log(errors), 1)
    return float(slope)


# --- the model's per-example gradients (TensorFlow) ------------------------------------------


def per_example_gradient_function(model):
    """f(x, y) -> (N, P) float32: the gradient of each example's cross-entropy loss w.r.t.
    every weight, for the model's current weights (traced once, called at every checkpoint)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def chunk(xb, yb):
        with tf.GradientTape() as tape:
            losses = tf.keras.losses.sparse_categorical_crossentropy(yb, model(xb, training=False))
        jacobians = tape.jacobian(losses, model.trainable_variables, experimental_use_pfor=True)
        return tf.concat([tf.reshape(j, (tf.shape(xb)[0], -1)) for j in jacobians], axis=1)

    def gradients(x, y):
        return np.concatenate([chunk(x[i : i + CHUNK], y[i : i + CHUNK]).numpy() for i in range(0, len(x), CHUNK)])

    return gradients


def measure_seed(params, seed):
    """Per checkpoint: the noise statistics and the sampled batch errors of one initialization."""
    import keras

    from experiments.config.settings import resolve
    from experiments.data import datasets
    from experiments.engine import factory
    from experiments.engine.models import build_mlp
    from experiments.engine.training import training_batches

    dataset = datasets.load_dataset("digits", limit=params["limit"] or None)
    x, y = dataset.x_train, dataset.y_train
    keras.utils.set_random_seed(seed)
    model = build_mlp(dataset.num_features, dataset.num_classes, params["width"], params["depth"], seed=seed)
    config = resolve({"optimizer": "sgd", "learning_rate": params["learning_rate"], "seed": seed})
    model.compile(optimizer=factory.make_optimizer(config, 1), loss="sparse_categorical_crossentropy")
    batches = training_batches(dataset, params["train_batch_size"], seed)
    rng = np.random.default_rng(seed)
    sizes = [b for b in params["batch_sizes"] if b <= len(x)]
    gradients_of = per_example_gradient_function(model)
    rows, trained = [], 0
    for epoch in sorted(params["checkpoint_epochs"]):
        if epoch > trained:
            model.fit(batches, epochs=epoch, initial_epoch=trained, shuffle=False, verbose=0)
            trained = epoch
        gradients = gradients_of(x, y)
        _, trace, squared_norm, b_simple = noise_statistics(gradients)
        gram = centred_gram(gradients)
        errors = {b: sampled_batch_errors(gram, b, params["draws"], rng) for b in sizes}
        rows.append({
            "seed": seed, "epoch": epoch, "examples": len(x), "draws": params["draws"], "parameters": gradients.shape[1],
            "trace_sigma": trace, "grad_norm_sq": squared_norm, "b_simple": b_simple,
            "errors": {b: float(e.mean()) for b, e in errors.items()},
            "errors_sem": {b: float(e.std(ddof=1) / math.sqrt(len(e))) for b, e in errors.items()},
        })  # fmt: skip
    return rows


# --- batch_size_lr: where the best rate stops growing ----------------------------------------


def best_rate_by_batch_size(logdir):
    """{batch size: best learning rate} from `batch_size_lr`'s results.csv, or None if not run."""
    import pandas as pd

    path = os.path.join(logdir, "batch_size_lr", "results.csv")
    if not os.path.exists(path):
        return None
    table = pd.read_csv(path)
    table = table[table.ok > 0].dropna(subset=["val_loss_mean"])
    if table.empty:
        return None
    best = table.loc[table.groupby("batch_size").val_loss_mean.idxmin()]
    return {int(b): float(lr) for b, lr in zip(best.batch_size, best.learning_rate)}


def where_rate_stops_growing(best_rates):
    """(last batch size up to which the best rate grows, the next one or None)."""
    sizes = sorted(best_rates)
    for small, big in zip(sizes, sizes[1:]):
        if not best_rates[big] > best_rates[small]:
            return small, big
    return sizes[-1], None


# --- the experiment --------------------------------------------------------------------------


def check_params(params):
    for name in ("width", "train_batch_size", "draws"):
        if params[name] < 1:
            raise ValueError(f"params.{name} must be >= 1; got {params[name]!r}")
    if not params["learning_rate"] > 0:
        raise ValueError(f"params.learning_rate must be > 0; got {params['learning_rate']!r}")
    for name in ("batch_sizes", "checkpoint_epochs"):
        values = params[name]
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            raise ValueError(f"params.{name} must list integers >= 0; got {values!r}")
    if min(params["batch_sizes"]) < 1 or len(params["batch_sizes"]) < 2:
        raise ValueError(f"params.batch_sizes needs two or more sizes >= 1; got {params['batch_sizes']!r}")
    if params["draws"] < 2:
        raise ValueError(f"params.draws must be >= 2; got {params['draws']!r}")


def run(params, seeds, exp_dir):
    """Returns a KindResult; its measurements are per (seed, checkpoint)."""
    check_params(params)
    rows = [row for seed in range(seeds) for row in measure_seed(params, seed)]
    files.write_json_atomic(os.path.join(exp_dir, "measurements.json"), rows)
    slopes = [log_log_slope(_fitted_sizes(r), [r["errors"][b] for b in _fitted_sizes(r)]) for r in rows]
    last = max(r["epoch"] for r in rows)
    measurements = {
        "batch_error_slope": slopes,
        "b_simple_at_init": [r["b_simple"] for r in rows if r["epoch"] == min(r["epoch"] for r in rows)],
        "b_simple_after_training": [r["b_simple"] for r in rows if r["epoch"] == last],
    }
    findings = [_noise_finding(rows), _critical_batch_finding(rows, os.path.dirname(os.path.normpath(exp_dir)))]
    figures = [_plot(rows, exp_dir)]
    hparams_sessions.write_session_groups(exp_dir, _as_records(rows, slopes), metrics=("b_simple", "slope"))
    return KindResult(_table(rows, slopes), findings, figures, measurements)


def _fitted_sizes(row):
    n = row["examples"]
    return [b for b in row["errors"] if (n - b) / (n - 1) >= SLOPE_FIT_MIN_FACTOR]


def _noise_finding(rows):
    by_epoch = {}
    for r in rows:
        by_epoch.setdefault(r["epoch"], []).append(r["b_simple"])
    listing = "; ".join(
        f"epoch {e}: {np.mean(v):.3g} (range {min(v):.3g}-{max(v):.3g})" for e, v in sorted(by_epoch.items())
    )
    # Each size's mean of `draws` exact errors against tr(Sigma)/B (N-B)/(N-1), in standard errors.
    deviations = [
        abs(r["errors"][b] - expected_batch_error(r["trace_sigma"], r["examples"], b)) / r["errors_sem"][b]
        for r in rows for b in r["errors"] if r["errors_sem"][b] > 0
    ]  # fmt: skip
    within = float(np.mean(np.array(deviations) <= 2)) if deviations else math.nan
    return Finding(
        "Gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018), measured exactly",
        "measured",
        f"Per checkpoint, over {len(by_epoch[min(by_epoch)])} initialization(s), N = {rows[0]['examples']} "
        f"examples, P = {rows[0]['parameters']} weights: {listing}. At B = B_simple a batch gradient's "
        "squared error equals |G|^2; the noise scale grows as training shrinks |G|. The mean of "
        f"{rows[0]['draws']} exactly computed batch errors lies within two standard errors of "
        f"tr(Sigma)/B (N-B)/(N-1) in {100 * within:.0f}% of the (size, seed, checkpoint) cells (about 95% "
        "expected if the formula holds; per-example gradients are heavy-tailed late in training).",
        experiment="minibatch_noise",
    )


def _critical_batch_finding(rows, logdir):
    last = max(r["epoch"] for r in rows)
    final = float(np.mean([r["b_simple"] for r in rows if r["epoch"] == last]))
    initial = float(np.mean([r["b_simple"] for r in rows if r["epoch"] == min(r["epoch"] for r in rows)]))
    best = best_rate_by_batch_size(logdir)
    if best is None:
        text = (
            f"`batch_size_lr` has not been run (no {os.path.join(logdir, 'batch_size_lr', 'results.csv')}), "
            f"so the predicted critical batch size (B_crit ~ B_simple = {final:.3g} after {last} epochs, "
            f"{initial:.3g} at initialization) has nothing to be set beside. Run "
            "`python experiments/run.py batch_size_lr` with the same --logdir, then this one again."
        )
    else:
        stop, after = where_rate_stops_growing(best)
        rates = ", ".join(f"B={b}: lr {r:.3g}" for b, r in sorted(best.items()))
        where = (
            f"grows up to B = {stop} and not from {stop} to {after}"
            if after
            else f"still grows at the largest batch size tried ({stop})"
        )
        text = (
            f"`batch_size_lr`'s best rate per batch size: {rates}; it {where}. McCandlish et al. predict "
            f"growth up to about B_simple: {initial:.3g} at initialization, {final:.3g} after {last} epochs. "
            + _agreement(stop, after, initial, final)
        )
    return Finding(
        "Critical batch size predicted by B_simple, beside where batch_size_lr's best rate stops growing",
        "measured",
        text,
        experiment="minibatch_noise",
    )


def _agreement(stop, after, initial, final):
    low, high = min(initial, final), max(initial, final)
    if after is None:
        return (
            "The best rate is still growing at the largest batch tried, consistent with a critical batch "
            f"size above {stop}" + (" (B_simple agrees)." if high >= stop else f", above B_simple's {high:.3g}.")
        )
    if low <= after and high >= stop:
        return f"The growth stops between {stop} and {after}, inside B_simple's range over training: consistent."
    return f"The growth stops between {stop} and {after}, outside B_simple's range {low:.3g}-{high:.3g}: not consistent."


def _table(rows, slopes):
    from experiments.outputs.tables import table_of_rows

    return table_of_rows([
        {
            "seed": r["seed"], "epoch": r["epoch"], "tr_sigma": f"{r['trace_sigma']:.4g}",
            "grad_norm_sq": f"{r['grad_norm_sq']:.4g}", "b_simple": f"{r['b_simple']:.4g}", "slope": f"{s:.3f}",
            **{f"err_B{b}": f"{e:.3g}" for b, e in r["errors"].items() if b in (1, 8, 64, 512)},
        }
        for r, s in zip(rows, slopes)
    ])  # fmt: skip


def _as_records(rows, slopes):
    return [
        {
            "group": f"epoch={r['epoch']}", "seed": r["seed"], "status": "ok",
            "config": {"checkpoint_epoch": r["epoch"], "seed": r["seed"]},
            "metrics": {"b_simple": r["b_simple"], "slope": s},
        }
        for r, s in zip(rows, slopes)
    ]  # fmt: skip


def _plot(rows, exp_dir):
    from matplotlib import colormaps

    from experiments.outputs.figures import figure, save_figure

    fig = figure(12, 4.5)
    ax, bx = fig.subplots(1, 2)
    epochs = sorted({r["epoch"] for r in rows})
    colours = colormaps["viridis"](np.linspace(0, 0.85, len(epochs)))
    for colour, epoch in zip(colours, epochs):
        part = [r for r in rows if r["epoch"] == epoch]
        sizes = sorted(part[0]["errors"])
        relative = np.array([[r["errors"][b] / r["grad_norm_sq"] for b in sizes] for r in part])
        ax.loglog(sizes, relative.mean(axis=0), "o", color=colour, label=f"measured, epoch {epoch}")
        n = part[0]["examples"]
        theory = [np.mean([expected_batch_error(r["trace_sigma"], n, b) / r["grad_norm_sq"] for r in part]) for b in sizes]
        ax.loglog(sizes, theory, "-", color=colour, alpha=0.7, label=f"B_simple/B (N-B)/(N-1), epoch {epoch}")
        bx.bar(str(epoch), np.mean([r["b_simple"] for r in part]), color=colour)
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="batch size B", ylabel="E|g_B - G|² / |G|²", title="Error of a batch gradient (relative)")
    ax.legend(fontsize=7)
    bx.set(xlabel="epochs trained", ylabel="B_simple = tr(Σ)/|G|²", title="Gradient noise scale", yscale="log")
    return save_figure(fig, exp_dir, "gradient_noise.png")
