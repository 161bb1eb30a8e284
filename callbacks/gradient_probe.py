"""Gradients, weights and updates on a probe batch, with the backend's own autodiff.

The one place where `GradientStatistics` depends on the backend:
- TensorFlow: `tf.GradientTape` inside two `tf.function`s (the norms are computed in the
  graph; one copy to Python per logged step);
- JAX: `jax.grad` of the loss through the model's layers under `keras.StatelessScope` (the
  variables' values are arguments, as in `model.stateless_call`), compiled with `jax.jit`;
- torch: `torch.autograd.grad` of the same loss.
Per layer of a `keras.Sequential` model the backpropagated gradient `d loss / d a_l` is taken
with respect to the layer's output: watched on the tape (TensorFlow), or as the gradient with
respect to a zero added to each output (JAX and torch: `a_l + 0` has the same value).

Everything runs under `keras.StatelessScope`, so batch-norm statistics, dropout seeds and
metrics are untouched (on torch, torch's global generator is forked too). Under `tf.distribute` the probe runs once, in the cross-replica
context, at the (identical) mirrored values. Norms are float32 on TensorFlow, float64 of
the float32 values elsewhere: the same to float32 rounding.

Kept across fits: the compiled measuring functions of a model are made once per (model, model
compilation, tracked variables, walked layers, probe batch's shapes and dtypes) and reused by
every later `fit` of the same model (the experiment runner reuses compiled models across runs,
experiments/run_cache.py). The probe batch is an argument of the compiled functions, never a
captured constant, so a new batch of the same shapes measures with the same graphs; the graphs
capture the variables themselves and read their current values at every call. A new
`model.compile` (a new train function) makes new ones. The cache holds the model only weakly.
"""

import weakref

import keras
import numpy as np
from keras import tree

# The order of the norms in the packed vector `after` returns.
PACKED = (
    "global_gradient_norm", "gradient_norms", "weight_norms", "update_norms", "update_ratios",
    "activation_norms", "output_gradient_norms",
)  # fmt: skip


# model -> {key: (weak reference to the train function they were made for, measure)}
MEASURES = weakref.WeakKeyDictionary()


def make_probe(model, variables, layers, probe_data):
    """A probe for this `fit`: `before(model)` just before a step, `after(model, measured)`
    after it. `layers`: the Sequential model's layers to walk one by one, or []."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        convert, measure_class = tf.convert_to_tensor, _TensorFlowMeasure
    else:
        convert, measure_class = keras.ops.convert_to_tensor, _AutodiffMeasure
    probe = tree.map_structure(lambda value: None if value is None else convert(value), tuple(probe_data))
    return _Probe(_measure_for(model, variables, layers, probe, measure_class), probe)


def _measure_for(model, variables, layers, probe, measure_class):
    """The model's measure for these variables, layers and probe shapes, made once."""
    signature = repr(tree.map_structure(lambda t: None if t is None else (tuple(t.shape), str(t.dtype)), probe))
    # The measure holds the variables and layers, so their ids stay theirs while it lives.
    key = (tuple(id(v) for v in variables), tuple(id(layer) for layer in layers), signature)
    train_function = getattr(model, "train_function", None)
    per_model = MEASURES.setdefault(model, {})
    made_for, measure = per_model.get(key, (None, None))
    if measure is None or train_function is None or made_for() is not train_function:
        measure = measure_class(model, variables, layers, probe)
        if train_function is not None:
            # A recompiled model (a new train function) may compute another loss: measure anew.
            per_model[key] = (weakref.ref(train_function), measure)
    return measure


class _Probe:
    """One fit's probe batch bound to its model's measure."""

    def __init__(self, measure, probe):
        self._measure, self._probe = measure, probe

    def before(self, model):
        """`(gradients, weights, norms)` at the weights the next step starts from."""
        return self._measure.before(self._probe)

    def after(self, model, gradients, weights, norms):
        """`(updates, packed)`: the step's updates and every norm as one numpy vector."""
        return self._measure.after(gradients, weights, norms)


class _TensorFlowMeasure:
    def __init__(self, model, variables, layers, probe):
        import tensorflow as tf

        self._tf = tf
        # Weakly: the cache of measures must not keep the model alive.
        self._model, self._variables, self._layers = weakref.ref(model), variables, layers
        self._measure_before = tf.function(self._measure_before_step, autograph=False)
        self._measure_after = tf.function(self._measure_after_step, autograph=False)

    def before(self, probe):
        return self._measure_before(*probe)

    def after(self, gradients, weights, norms):
        updates, packed = self._measure_after(weights, norms)
        return updates, packed.numpy()

    def _measure_before_step(self, x, y, sample_weight):
        tf, model = self._tf, self._model()
        with keras.StatelessScope():  # batch-norm statistics, seeds, metrics stay untouched
            with tf.GradientTape() as tape:
                outputs = []
                if self._layers:
                    y_pred = x
                    for layer in self._layers:
                        y_pred = layer(y_pred, training=True)
                        tape.watch(y_pred)
                        outputs.append(y_pred)
                else:
                    y_pred = model(x, training=True)
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            targets = [*self._variables, *outputs]
            gradients = tape.gradient(loss, targets)
        # A variable the loss does not use has no gradient: its norm is 0.
        gradients = [tf.zeros_like(t) if g is None else g for g, t in zip(gradients, targets)]
        variable_gradients = gradients[: len(self._variables)]
        gradient_norms = self._norms(variable_gradients)
        norms = {
            "gradient_norms": gradient_norms,
            "global_gradient_norm": tf.sqrt(tf.reduce_sum(tf.square(gradient_norms)))[None],
            "activation_norms": self._norms(outputs),
            "output_gradient_norms": self._norms(gradients[len(self._variables) :]),
        }
        return variable_gradients, [tf.identity(v) for v in self._variables], norms

    def _measure_after_step(self, weights_before, norms):
        tf = self._tf
        updates = [tf.cast(v, tf.float32) - tf.cast(w, tf.float32) for v, w in zip(self._variables, weights_before)]
        weight_norms = self._norms(weights_before)
        update_norms = self._norms(updates)
        ratios = tf.where(
            weight_norms > 0,
            update_norms / tf.where(weight_norms > 0, weight_norms, 1.0),
            float("nan"),
        )
        norms = dict(norms, weight_norms=weight_norms, update_norms=update_norms, update_ratios=ratios)
        # One vector, so that Python reads everything with one copy.
        return updates, tf.concat([norms[key] for key in PACKED], axis=0)

    def _norms(self, tensors):
        """The L2 (Frobenius) norm of each tensor, as one float32 vector."""
        tf = self._tf
        if not tensors:
            return tf.zeros([0], tf.float32)
        # sqrt(sum(t * t)) over all elements: tf.norm's value, with a third of its graph ops
        # (each op costs tracing and the first call's graph optimization on every new model).
        return tf.stack([tf.sqrt(tf.reduce_sum(tf.square(tf.cast(t, tf.float32)))) for t in tensors])


class _AutodiffMeasure:
    """JAX and torch: gradients from the backend's autodiff, norms in numpy."""

    def __init__(self, model, variables, layers, probe):
        self._variables = variables
        gradients = _jax_gradients if keras.backend.backend() == "jax" else _torch_gradients
        self._compiled = gradients(weakref.ref(model), variables, layers, probe)

    def before(self, probe):
        variable_gradients, outputs, output_gradients = self._compiled(*probe)
        gradient_norms = _norms(variable_gradients)
        norms = {
            "gradient_norms": gradient_norms,
            "global_gradient_norm": np.sqrt(np.sum(np.square(gradient_norms)))[None],
            "activation_norms": _norms(outputs),
            "output_gradient_norms": _norms(output_gradients),
        }
        weights = [np.array(keras.ops.convert_to_numpy(v)) for v in self._variables]
        return variable_gradients, weights, norms

    def after(self, gradients, weights, norms):
        now = [keras.ops.convert_to_numpy(v) for v in self._variables]
        updates = [np.float32(v) - np.float32(w) for v, w in zip(now, weights)]
        weight_norms, update_norms = _norms(weights), _norms(updates)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(weight_norms > 0, update_norms / np.where(weight_norms > 0, weight_norms, 1.0), np.nan)
        norms = dict(norms, weight_norms=weight_norms, update_norms=update_norms, update_ratios=ratios)
        return updates, np.concatenate([np.asarray(norms[key], np.float64) for key in PACKED])


def _norms(arrays):
    return np.array([np.sqrt(np.sum(np.square(np.float64(a)))) for a in arrays], np.float64)


def _forward(model, layers, x, y, sample_weight, perturbations):
    """The loss, and each walked layer's output plus its zero perturbation."""
    outputs = []
    if layers:
        y_pred = x
        for layer, zero in zip(layers, perturbations):
            y_pred = keras.ops.add(layer(y_pred, training=True), zero)
            outputs.append(y_pred)
    else:
        y_pred = model(x, training=True)
    loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
    return loss, outputs


def _output_shapes(model, layers, x):
    with keras.StatelessScope():
        shapes, y = [], x
        for layer in layers:
            y = layer(y, training=True)
            shapes.append((tuple(y.shape), y.dtype))
    return shapes


def _jax_gradients(model_ref, variables, layers, probe):
    """`compute(x, y, sample_weight)`, jitted once: the probe batch is an argument."""
    import jax

    model = model_ref()
    others = [v for v in model.variables if all(v is not t for t in variables)]
    zeros = [jax.numpy.zeros(shape, dtype) for shape, dtype in _output_shapes(model, layers, probe[0])]
    del model  # held weakly: the cache of measures must not keep it alive

    def loss_of(values, perturbations, other_values, x, y, sample_weight):
        mapping = list(zip(variables, values)) + list(zip(others, other_values))
        with keras.StatelessScope(state_mapping=mapping):
            return _forward(model_ref(), layers, x, y, sample_weight, perturbations)

    gradient = jax.jit(jax.grad(loss_of, argnums=(0, 1), has_aux=True))

    def compute(x, y, sample_weight):
        (variable_gradients, output_gradients), outputs = gradient(
            [v.value for v in variables], zeros, [v.value for v in others], x, y, sample_weight
        )
        return [np.asarray(g) for g in variable_gradients], [np.asarray(o) for o in outputs], [np.asarray(g) for g in output_gradients]

    return compute


def _torch_gradients(model_ref, variables, layers, probe):
    """`compute(x, y, sample_weight)`: torch needs no compilation; the output shapes, once."""
    import torch

    with torch.random.fork_rng():
        shapes = _output_shapes(model_ref(), layers, probe[0])

    def compute(x, y, sample_weight):
        # Keras's unseeded dropout on torch draws from torch's global generator: fork it, so
        # that training draws the same masks as without the probe.
        with torch.random.fork_rng(), torch.enable_grad(), keras.StatelessScope():
            zeros = [torch.zeros(shape, dtype=dtype, requires_grad=True) for shape, dtype in shapes]
            loss, outputs = _forward(model_ref(), layers, x, y, sample_weight, zeros)
            targets = [v.value for v in variables] + zeros
            gradients = torch.autograd.grad(loss, targets, allow_unused=True)
        gradients = [torch.zeros_like(t) if g is None else g for g, t in zip(gradients, targets)]
        as_numpy = [g.detach().cpu().numpy() for g in gradients]
        return (
            as_numpy[: len(variables)],
            [o.detach().cpu().numpy() for o in outputs],
            as_numpy[len(variables) :],
        )

    return compute
