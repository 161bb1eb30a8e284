"""The networks the experiments train, one function per family: `build_mlp`, `build_cnn`, and a
user's own builder (`package.module:function`, see experiments/data/plugins.py). `build_model` picks
one from the run's `model` setting.

Every model takes the data set's flat rows, `(batch, features)`, as the training loop stores
them, reshapes them as its family needs (the MLP uses them as they are; the CNN and a user's
model see each example in its own shape, `Dataset.input_shape`), and ends in a softmax.
"""

import keras


def build_model(config, dataset):
    """The model `config["model"]` names, for `dataset`'s examples and classes."""
    name = config["model"]
    switches = dict(
        width=config["width"],
        depth=config["depth"],
        activation=config["activation"],
        initializer=config["initializer"],
        batch_norm=config["batch_norm"],
        seed=config["seed"],
    )
    if name == "mlp":
        return build_mlp(dataset.num_features, dataset.num_classes, **switches)
    if name == "cnn":
        return build_cnn(dataset.input_shape, dataset.num_classes, **switches)
    return build_user_model(name, dataset.input_shape, dataset.num_classes, config)


def make_initializer(name, seed):
    """A Keras initializer by name; see `experiments.config.settings.INITIALIZERS` for the choices."""
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


def build_cnn(
    input_shape,
    num_classes,
    width=128,
    depth=2,
    activation="relu",
    initializer="he_normal",
    batch_norm=False,
    seed=0,
    kernel_size=3,
):
    """Conv(width filters, kernel_size, stride 2) x depth, flattened, then a softmax classifier.

    1-D convolutions for sequences (`input_shape` of one axis, e.g. MNIST-1D's (40,)), 2-D for
    images ((height, width) or (height, width, channels)); a missing channel axis is added.
    Each layer halves every spatial axis ("same" padding) while the smallest is at least 4,
    then keeps the size (stride 1). With `batch_norm`: Conv (no bias) -> BatchNormalization ->
    activation, as in the MLP; the same per-layer initializer seeds. Depth 0 is a softmax
    regression on the pixels. Shaped after the MNIST-1D paper's CNN (Greydanus 2020: three
    stride-2 convolutions, a linear classifier on the flattened features).
    """
    input_shape = tuple(input_shape)
    if len(input_shape) not in (1, 2, 3):
        raise ValueError(f"build_cnn needs examples of 1 to 3 axes; got input_shape={input_shape}")
    image_shape = input_shape + (1,) if len(input_shape) < 3 else input_shape
    convolution = keras.layers.Conv1D if len(image_shape) == 2 else keras.layers.Conv2D
    num_features = 1
    for size in input_shape:
        num_features *= size
    inputs = keras.Input(shape=(num_features,), name="inputs")
    x = keras.layers.Reshape(image_shape, name="examples")(inputs)
    spatial = min(image_shape[:-1])
    for i in range(depth):
        stride = 2 if spatial >= 4 else 1
        spatial = -(-spatial // stride)
        x = convolution(
            width,
            kernel_size,
            strides=stride,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=make_initializer(initializer, seed + i),
            name=f"conv_{i + 1}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i + 1}")(x)
        x = keras.layers.Activation(activation, name=f"{activation}_{i + 1}")(x)
    x = keras.layers.Flatten(name="features")(x)
    outputs = keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_initializer=make_initializer("glorot_uniform", seed + depth),
        name="classifier",
    )(x)
    return keras.Model(inputs, outputs, name="cnn")


def build_user_model(reference, input_shape, num_classes, config):
    """A user's builder (`package.module:function`), fed each example in its own shape."""
    from experiments.data import plugins

    builder = plugins.load_callable(reference, "model")
    inner = builder(tuple(input_shape), num_classes, dict(config))
    num_features = 1
    for size in input_shape:
        num_features *= size
    inputs = keras.Input(shape=(num_features,), name="inputs")
    outputs = inner(keras.layers.Reshape(tuple(input_shape), name="examples")(inputs))
    return keras.Model(inputs, outputs, name=f"user_{reference.rsplit(':', 1)[1]}")
