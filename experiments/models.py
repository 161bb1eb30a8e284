"""The network every experiment trains: an MLP whose shape and initialization are settings."""

import keras


def make_initializer(name, seed):
    """A Keras initializer by name; see `experiments.settings.INITIALIZERS` for the choices."""
    if name == "unit_normal":
        return keras.initializers.RandomNormal(stddev=1.0, seed=seed)
    if name == "tiny":
        return keras.initializers.RandomNormal(stddev=0.01, seed=seed)
    return keras.initializers.get({"class_name": name, "config": {"seed": seed}})


def build_mlp(
    num_features,
    num_classes,
    width=128,
    depth=2,
    activation="relu",
    initializer="he_normal",
    batch_norm=False,
    seed=0,
):
    """Dense(width) x depth, then a softmax classifier.

    With `batch_norm`, each hidden layer is Dense (no bias: BN's shift replaces it) ->
    BatchNormalization -> activation, the placement of Ioffe & Szegedy (2015). Each layer gets
    its own initializer seed derived from `seed`, so runs are reproducible layer by layer.
    """
    inputs = keras.Input(shape=(num_features,), name="inputs")
    x = inputs
    for i in range(depth):
        x = keras.layers.Dense(
            width,
            use_bias=not batch_norm,
            kernel_initializer=make_initializer(initializer, seed + i),
            name=f"dense_{i + 1}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i + 1}")(x)
        x = keras.layers.Activation(activation, name=f"{activation}_{i + 1}")(x)
    outputs = keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_initializer=make_initializer("glorot_uniform", seed + depth),
        name="classifier",
    )(x)
    return keras.Model(inputs, outputs, name="mlp")
