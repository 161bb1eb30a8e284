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
from keras import ops
from reference import AdagradReference, AdamReference, RMSpropReference, SGDReference

import optimizers
from optimizers import hyperparameters

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
    """Runs `optimizer` on the problem through `keras.Variable`s, on whichever backend Keras runs.

    Returns (weights after each step: a list over steps of lists of arrays, the optimizer's
    slot variables at the end as {(tensor index, slot name): array}).

    `compiled` picks each backend's own way to compile a training step, so the update rule is
    tested as Keras's `fit` runs it there:
    - TensorFlow: `optimizer.apply` inside a `tf.function` (~5x faster than eager for 100 steps).
    - JAX: `optimizer.stateless_apply` inside `jax.jit`, variables passed in and out as arrays,
      as Keras's JAX trainer does; the results are written back to the variables at the end.
    - PyTorch: eager `optimizer.apply`, as Keras's torch trainer runs by default;
      `torch.compile` would add tens of seconds of Inductor compilation per optimizer here
      and is not what a default torch `fit` runs.
    With `compiled=False`, eager `optimizer.apply` on every backend.
    """
    variables = [
        keras.Variable(w, name=f"w{i}", dtype="float32") for i, w in enumerate(problem["initial"])
    ]
    curvatures = [ops.convert_to_tensor(c) for c in problem["curvatures"]]
    optimizer.build(variables)
    backend = keras.backend.backend()
    if compiled and backend == "jax":
        history = _run_jax_jit(optimizer, variables, curvatures, problem)
    else:
        history = _run_stateful(optimizer, variables, curvatures, problem, compiled)
    return history, slot_values(optimizer, len(variables))


def _gradients(curvatures, weights, noise):
    return [ops.add(ops.multiply(c, w), n) for c, w, n in zip(curvatures, weights, noise)]


def _run_stateful(optimizer, variables, curvatures, problem, compiled):
    def step(noise):
        optimizer.apply(_gradients(curvatures, variables, noise), variables)

    if compiled and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        step = tf.function(step)
    history = []
    for t in range(problem["steps"]):
        step([ops.convert_to_tensor(n[t]) for n in problem["noise"]])
        history.append([np.array(ops.convert_to_numpy(v)) for v in variables])
    return history


def _run_jax_jit(optimizer, variables, curvatures, problem):
    import jax

    @jax.jit
    def step(weights, optimizer_state, noise):
        gradients = _gradients(curvatures, weights, noise)
        return optimizer.stateless_apply(optimizer_state, gradients, weights)

    weights = [v.value for v in variables]
    optimizer_state = [v.value for v in optimizer.variables]
    history = []
    for t in range(problem["steps"]):
        noise = [ops.convert_to_tensor(n[t]) for n in problem["noise"]]
        weights, optimizer_state = step(weights, optimizer_state, noise)
        history.append([np.array(w) for w in weights])
    for variable, value in zip(variables, weights):
        variable.assign(value)
    for variable, value in zip(optimizer.variables, optimizer_state):
        variable.assign(value)
    return history


def slot_values(optimizer, n_tensors):
    """{(tensor index, slot name): value} read from the optimizer's public `variables`.

    Keras names a slot `<variable name>_<slot name>`, e.g. `w1_velocity`.
    """
    slots = {}
    for variable in optimizer.variables:
        prefix, _, slot = variable.name.partition("_")
        if prefix.startswith("w") and prefix[1:].isdigit() and int(prefix[1:]) < n_tensors:
            slots[(int(prefix[1:]), slot)] = np.array(ops.convert_to_numpy(variable))
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


def assert_same_trajectory(actual, expected, rtol, label=""):
    _, max_rel = scaled_errors(actual, expected)
    assert max_rel < rtol, f"{label}: max error relative to scale {max_rel:.3g} >= {rtol:g}"


def assert_identical(actual, expected, label=""):
    assert len(actual) == len(expected)
    for step, (step_actual, step_expected) in enumerate(zip(actual, expected), start=1):
        for a, e in zip(step_actual, step_expected):
            np.testing.assert_array_equal(a, e, err_msg=f"{label} step {step}")


# Keras's torch built-ins are separate multi-tensor implementations (torch._foreach_* calls,
# keras/src/backend/torch/optimizers/) that order some operations differently from the
# `keras.ops` update rules: equal to float32 rounding there (measured: 1.4e-6 relative to
# scale after 100 steps). On JAX, XLA simplifies arithmetic with the built-ins' constant
# hyperparameters, which ours read from variables (optimizers/hyperparameters.py): equal to
# float32 rounding too (seen: one element 1 ulp apart, RMSprop with rho=0.5, momentum=0.9).
# Bit for bit on TensorFlow.
BUILTIN_RTOL = 1e-5


def assert_matches_builtin(actual, expected, label=""):
    if keras.backend.backend() in ("torch", "jax"):
        assert_same_trajectory(actual, expected, BUILTIN_RTOL, label)
    else:
        assert_identical(actual, expected, label)


def assert_variables_match_builtin(ours, builtin, label=""):
    """Exactly Keras's variables, in its order: the hyperparameters ours hold in variables
    (optimizers/hyperparameters.py) are not among them."""
    held = {id(v) for v in hyperparameters.variables(ours)}
    assert not held & {id(v) for v in ours.variables}
    state = list(ours.variables)
    assert [v.name for v in state] == [v.name for v in builtin.variables]
    for a, b in zip(state, builtin.variables):
        assert_matches_builtin([[a.numpy()]], [[b.numpy()]], label=f"{label} {a.name}")
