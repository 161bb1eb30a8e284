"""The members' MLPs as one model of stacked variables, what the stacked path refuses, and each
member seen as a model of its own (for the initial loss and the validation halves)."""

import functools

import keras
import numpy as np


class NotStackable(ValueError):
    """The configuration cannot be trained as stacked seeds."""


def check_stackable(config, seeds):
    """Raises NotStackable naming the first setting the stacked path does not support."""
    seeds = list(seeds)
    if not seeds:
        raise NotStackable("train_stacked needs at least one seed; got none")
    if len(set(seeds)) != len(seeds):
        raise NotStackable(f"train_stacked needs distinct seeds; got {seeds}")
    refusals = (
        (config["model"] != "mlp", f"model={config['model']!r}: only the MLP is stacked"),
        (config["backend"] != "tensorflow", f"backend={config['backend']!r}: the stacked step is TensorFlow's"),
        (config["distribute"] != "none", f"distribute={config['distribute']!r}: one device only"),
        (config["clipnorm"] is not None, "clipnorm: a norm over a stacked kernel would mix the members"),
        (config["divergence_rollback"], "divergence_rollback=True: a rollback lowers one run's rate"),
    )
    for refused, why in refusals:
        if refused:
            raise NotStackable(f"cannot stack seeds: {why}")
    if keras.backend.backend() != "tensorflow":
        raise NotStackable(f"cannot stack seeds: this process runs Keras on {keras.backend.backend()!r}")


class StackedMLP:
    """The members' MLPs as one model of stacked variables: `(K, in, out)` kernels, `(K, out)`
    biases; with batch normalization `(K, units)` scales, offsets and moving statistics, each
    member's batch statistics taken over its own batch (Keras's BatchNormalization, per member).

    `template` is one member's model: its layers give the structure, and the stacked variables
    start as K copies of its weights (`assign` sets the members' own)."""

    def __init__(self, template, num_members):
        self.num_members = num_members
        self.paths = [v.path for v in template.weights]  # model.get_weights() order
        stacked = {}
        for variable in template.weights:
            value = np.repeat(keras.ops.convert_to_numpy(variable)[None], num_members, axis=0)
            name = variable.path.replace("/", "_")
            stacked[variable.path] = keras.Variable(value, name=name, dtype="float32", trainable=variable.trainable)
        self.stacked = stacked
        self.variables = [stacked[v.path] for v in template.trainable_weights]  # what the optimizer updates
        self.layers = []  # (kind, layer, its stacked variables)
        for layer in template.layers:
            own = {v.path.rsplit("/", 1)[1]: stacked[v.path] for v in layer.weights}
            if isinstance(layer, keras.layers.Dense):
                self.layers.append(("dense", layer, own))
            elif isinstance(layer, keras.layers.BatchNormalization):
                if layer.axis not in (-1, 1) or layer.renorm or not (layer.center and layer.scale):
                    raise NotStackable(f"cannot stack seeds: {layer.name} is not a plain BatchNormalization")
                self.layers.append(("batch_norm", layer, own))
            elif isinstance(layer, keras.layers.Activation):
                self.layers.append(("activation", layer, own))
            elif not isinstance(layer, keras.layers.InputLayer):
                raise NotStackable(f"cannot stack seeds: layer {layer.name} ({type(layer).__name__}) is not stacked")

    def logits(self, x, training=False):
        """x: (K, B, features), or (1, B, features) shared by every member; returns (K, B, classes).

        The classifier's softmax is left out: the loss takes the logits, as Keras's does from a
        softmax output (its cross-entropy reads the logits the softmax kept)."""
        import tensorflow as tf

        h = x
        last = self.layers[-1][1]
        for kind, layer, own in self.layers:
            if kind == "dense":
                h = tf.matmul(h, own["kernel"])
                if "bias" in own:
                    h = h + own["bias"][:, None, :]
                if layer is not last:
                    h = layer.activation(h)  # linear in build_mlp's hidden layers
            elif kind == "activation":
                h = layer.activation(h)
            else:
                h = self._batch_norm(h, layer, own, training)
        return h

    @staticmethod
    def _batch_norm(h, layer, own, training):
        import tensorflow as tf

        if training:
            mean, variance = keras.ops.moments(h, axes=[1], keepdims=True)  # over each member's batch
            momentum = layer.momentum
            own["moving_mean"].assign(own["moving_mean"] * momentum + mean[:, 0] * (1.0 - momentum))
            own["moving_variance"].assign(own["moving_variance"] * momentum + variance[:, 0] * (1.0 - momentum))
        else:
            mean, variance = own["moving_mean"][:, None, :], own["moving_variance"][:, None, :]
        return tf.nn.batch_normalization(
            h, mean, variance, own["beta"][:, None, :], own["gamma"][:, None, :], layer.epsilon
        )

    def numpy(self):
        """Every stacked weight as numpy, in `model.get_weights()` order."""
        return [keras.ops.convert_to_numpy(self.stacked[path]) for path in self.paths]

    def assign(self, values):
        """Sets every stacked weight from `values` (as `numpy()` gives them)."""
        for path, value in zip(self.paths, values):
            self.stacked[path].assign(value)

    def assign_members(self, member_weights):
        """Sets member k's weights from `member_weights[k]` (a `model.get_weights()` list)."""
        self.assign([np.stack(values) for values in zip(*member_weights)])


class MemberViews:
    """Member k as a model for `training.initial_loss` and `training.validation_halves`: calling
    `views[k](x)` gives member k's probabilities on `x` as its model's softmax layer gives them
    (`keras.activations.softmax`, which keeps the logits for Keras's cross-entropy), the logits
    of all members computed in one stacked pass (`logits_of`, x (B, features) -> (K, B, classes))
    and kept for the other members' calls."""

    def __init__(self, logits_of, num_members):
        self._logits_of, self._cache = logits_of, {}
        self._views = [functools.partial(self._member, k) for k in range(num_members)]

    def __getitem__(self, k):
        return self._views[k]

    def __iter__(self):
        return iter(self._views)

    def _member(self, k, x, training=False):
        x = np.ascontiguousarray(x, dtype=np.float32)
        key = (x.shape, x.tobytes())
        if key not in self._cache:
            if len(self._cache) >= 4:  # the members ask for the same few inputs in turn
                self._cache.clear()
            self._cache[key] = self._logits_of(x)
        return keras.activations.softmax(self._cache[key][k])
