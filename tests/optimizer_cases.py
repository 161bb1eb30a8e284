"""The optimizer variants under test, with their float64 references, and the problem they run on.

The problem is a noisy quadratic on three tensors of different shapes::

    loss(w) = sum(0.5 * curvature * w ** 2 + noise_t * w)
    gradient_t = curvature * w_t + noise_t

With `curvature=0` the gradients are a fixed random sequence (both sides see exactly the same
numbers); with `curvature > 0` each gradient depends on the weights the optimizer produced, so a
wrong update also changes the next gradient. The reference computes its gradients from its own
float64 weights.

Shared by the tests and by benchmarks/optimizer_accuracy.py.
"""

import keras
import numpy as np
import tensorflow as tf

import optimizers
from reference import AdagradReference, AdamReference, RMSpropReference, SGDReference

SHAPES = ((3,), (4, 5), (2, 3, 4))

# (case id, our optimizer's arguments, the reference's arguments). Every case gives both sides
# the same hyperparameters; epsilon is large where its placement is the variant under test, so
# that the wrong placement would fail the comparison.
SGD_CASES = [
    ("sgd", dict(learning_rate=0.05), dict()),
    ("sgd-momentum", dict(learning_rate=0.05, momentum=0.9), dict(momentum=0.9)),
    (
        "sgd-nesterov",
        dict(learning_rate=0.05, momentum=0.9, nesterov=True),
        dict(momentum=0.9, nesterov=True),
    ),
    (
        "sgd-ema",
        dict(learning_rate=0.2, momentum=0.8, momentum_form="ema"),
        dict(momentum=0.8, momentum_form="ema"),
    ),
    (
        "sgd-ema-nesterov",
        dict(learning_rate=0.2, momentum=0.8, nesterov=True, momentum_form="ema"),
        dict(momentum=0.8, nesterov=True, momentum_form="ema"),
    ),
]
ADAGRAD_CASES = [
    ("adagrad", dict(learning_rate=0.1), dict()),
    (
        "adagrad-notes",  # the notes' form: cache from zero, epsilon outside the root
        dict(
            learning_rate=0.1,
            initial_accumulator_value=0.0,
            epsilon=0.1,
            epsilon_inside_sqrt=False,
        ),
        dict(initial_accumulator_value=0.0, epsilon=0.1, epsilon_inside_sqrt=False),
    ),
    (
        "adagrad-inside",
        dict(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=0.1),
        dict(initial_accumulator_value=0.5, epsilon=0.1),
    ),
]
RMSPROP_CASES = [
    ("rmsprop", dict(learning_rate=0.01), dict()),
    (
        "rmsprop-notes",  # epsilon outside the root
        dict(learning_rate=0.01, rho=0.5, epsilon=0.1, epsilon_inside_sqrt=False),
        dict(rho=0.5, epsilon=0.1, epsilon_inside_sqrt=False),
    ),
    ("rmsprop-momentum", dict(learning_rate=0.01, momentum=0.9), dict(momentum=0.9)),
    ("rmsprop-centered", dict(learning_rate=0.01, centered=True), dict(centered=True)),
    (
        "rmsprop-centered-momentum-outside",
        dict(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=0.1, centered=True,
             epsilon_inside_sqrt=False),
        dict(rho=0.8, momentum=0.5, epsilon=0.1, centered=True, epsilon_inside_sqrt=False),
    ),
]
ADAM_CASES = [
    ("adam", dict(learning_rate=0.01), dict()),
    (
        "adam-eps-hat",  # Keras's default form, with an epsilon large enough to matter
        dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=0.1),
        dict(beta_1=0.5, beta_2=0.9, epsilon=0.1),
    ),
    (
        "adam-notes",  # epsilon inside the root of the bias-corrected cache
        dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=0.1, epsilon_inside_sqrt=True),
        dict(beta_1=0.5, beta_2=0.9, epsilon=0.1, epsilon_inside_sqrt=True),
    ),
    (
        "adam-uncorrected",
        dict(learning_rate=0.01, epsilon=0.1, bias_correction=False),
        dict(epsilon=0.1, bias_correction=False),
    ),
    (
        "adam-uncorrected-inside",
        dict(learning_rate=0.01, epsilon=0.1, bias_correction=False, epsilon_inside_sqrt=True),
        dict(epsilon=0.1, bias_correction=False, epsilon_inside_sqrt=True),
    ),
    (
        "adam-amsgrad",  # beta_2 = 0.95: v falls often enough in 100 steps for the max to act
        dict(learning_rate=0.01, beta_2=0.95, amsgrad=True),
        dict(beta_2=0.95, amsgrad=True),
    ),
    (
        "adam-amsgrad-inside",
        dict(learning_rate=0.01, beta_2=0.9, epsilon=0.1, amsgrad=True, epsilon_inside_sqrt=True),
        dict(beta_2=0.9, epsilon=0.1, amsgrad=True, epsilon_inside_sqrt=True),
    ),
]

OUR_CLASSES = {
    "sgd": optimizers.SGD,
    "adagrad": optimizers.Adagrad,
    "rmsprop": optimizers.RMSprop,
    "adam": optimizers.Adam,
}
REFERENCE_CLASSES = {
    "sgd": SGDReference,
    "adagrad": AdagradReference,
    "rmsprop": RMSpropReference,
    "adam": AdamReference,
}
KERAS_CLASSES = {
    "sgd": keras.optimizers.SGD,
    "adagrad": keras.optimizers.Adagrad,
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
}


def family(case_id):
    return case_id.split("-")[0]


def all_cases():
    """(case id, our optimizer's kwargs, reference kwargs) for every variant."""
    return SGD_CASES + ADAGRAD_CASES + RMSPROP_CASES + ADAM_CASES


def make_problem(steps, curvature=True, seed=0):
    """Initial weights, per-element curvatures and per-step gradient noise, all float32 values."""
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    curvatures = [
        (rng.uniform(0.5, 2.0, size=s) if curvature else np.zeros(s)).astype(np.float32)
        for s in SHAPES
    ]
    noise = [rng.normal(size=(steps,) + s).astype(np.float32) for s in SHAPES]
    return {"initial": initial, "curvatures": curvatures, "noise": noise, "steps": steps}


def run_keras(optimizer, problem, compiled=True):
    """Runs `optimizer` on the problem through `optimizer.apply` on `keras.Variable`s.

    Returns (weights after each step: a list over steps of lists of arrays, the optimizer's
    slot variables at the end as {(tensor index, slot name): array}).
    """
    variables = [
        keras.Variable(w, name=f"w{i}", dtype="float32") for i, w in enumerate(problem["initial"])
    ]
    curvatures = [keras.ops.convert_to_tensor(c) for c in problem["curvatures"]]
    optimizer.build(variables)

    def step(noise):
        gradients = [c * v + n for c, v, n in zip(curvatures, variables, noise)]
        optimizer.apply(gradients, variables)

    if compiled:
        step = tf.function(step)  # ~5x faster than eager for 100 steps; same update code.
    history = []
    for t in range(problem["steps"]):
        step([keras.ops.convert_to_tensor(n[t]) for n in problem["noise"]])
        history.append([np.array(v.numpy()) for v in variables])
    return history, slot_values(optimizer, len(variables))


def slot_values(optimizer, n_tensors):
    """{(tensor index, slot name): value} read from the optimizer's public `variables`.

    Keras names a slot `<variable name>_<slot name>`, e.g. `w1_velocity`.
    """
    slots = {}
    for variable in optimizer.variables:
        prefix, _, slot = variable.name.partition("_")
        if prefix.startswith("w") and prefix[1:].isdigit() and int(prefix[1:]) < n_tensors:
            slots[(int(prefix[1:]), slot)] = np.array(variable.numpy())
    return slots


def run_reference(reference, problem, learning_rates):
    """The float64 reference on the same problem; `learning_rates[t - 1]` is step t's rate."""
    weights = [w.astype(np.float64) for w in problem["initial"]]
    curvatures = [c.astype(np.float64) for c in problem["curvatures"]]
    states = [reference.init(w) for w in weights]
    history = []
    for t in range(1, problem["steps"] + 1):
        weights = [
            reference.step(w, c * w + n[t - 1].astype(np.float64), s, t, learning_rates[t - 1])
            for w, c, n, s in zip(weights, curvatures, problem["noise"], states)
        ]
        history.append(weights)
    slots = {(i, name): value for i, s in enumerate(states) for name, value in s.items()}
    return history, slots


def scaled_errors(actual, expected):
    """(max abs error, max error relative to the scale of the tensor) over two histories.

    The scale of a tensor at a step is max(|expected|) over its elements, so the relative error
    is float32's natural measure (a value's rounding error is relative to its magnitude, and an
    element passing near zero does not make the ratio explode).
    """
    max_abs, max_rel = 0.0, 0.0
    for step_actual, step_expected in zip(actual, expected):
        for a, e in zip(step_actual, step_expected):
            error = float(np.max(np.abs(a.astype(np.float64) - e)))
            max_abs = max(max_abs, error)
            max_rel = max(max_rel, error / max(float(np.max(np.abs(e))), 1e-30))
    return max_abs, max_rel
