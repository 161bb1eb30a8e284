"""The unscaled examples a loader returns, bundled, downloaded or a user's own."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class RawData:
    """What a loader returns: unscaled examples, either pooled (`x_val is None`: we split them)
    or already split, the largest pixel value for `unit`, and one example's shape."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray = None
    y_val: np.ndarray = None
    max_value: float = 1.0
    input_shape: tuple = ()

    @property
    def num_classes(self):
        labels = self.y_train if self.y_val is None else np.concatenate([self.y_train, self.y_val])
        return int(labels.max()) + 1
