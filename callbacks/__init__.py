"""Keras callbacks that make optimization visible in TensorBoard and controllable while it runs.

Each callback does one thing and composes with `keras.callbacks.TensorBoard` and with the others.
"""

__all__ = []
