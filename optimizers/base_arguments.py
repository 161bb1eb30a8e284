"""The keyword arguments our optimizers hand on to Keras's base class, documented once for all four."""

# In the order of Keras's own signatures (keras.optimizers.SGD, Adam, ...).
BASE_ARGUMENTS = (
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)

BASE_ARGUMENTS_DOC = f"""
    Keras's base optimizer arguments (`**kwargs`): {", ".join(f"`{a}`" for a in BASE_ARGUMENTS)}.
    They are applied by Keras's base class exactly as for Keras's built-ins (see
    `keras.optimizers.Optimizer`): weight decay is decoupled, clipping and loss scaling act on
    the gradients before the update rule, EMA and gradient accumulation around it.
"""


def document_base_arguments(cls):
    """Class decorator: appends `BASE_ARGUMENTS_DOC` to the class docstring (shown by `help()`)."""
    if cls.__doc__ is not None:  # None under `python -OO`.
        cls.__doc__ = cls.__doc__.rstrip() + "\n" + BASE_ARGUMENTS_DOC
    return cls
