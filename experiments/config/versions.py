"""The versions a run trained with, saved in its record and in the reports."""

import platform


def package_versions():
    """Python, TensorFlow, Keras and numpy, the Keras backend that ran, and the device kind."""
    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "backend": keras.backend.backend(),  # the one that ran: Keras picks it at import
        "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
    }
