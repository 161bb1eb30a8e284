"""Number hyperparameters held in optimizer variables, so that a traced step reads their values.

Keras holds a number learning rate in a variable: assigning a new rate changes what an already
traced train function does. It keeps momentum, rho, the betas and epsilon as Python floats,
constants of the traced graph, so a new value needs a new trace. Ours hold them as Keras holds
the rate (optax's `inject_hyperparams` does the same for its transformations):

```python
class RMSprop(keras.optimizers.Optimizer):
    rho = Hyperparameter(check_unit_interval, rho=lambda rho: rho, one_minus_rho=lambda rho: 1 - rho)
    ...
        rho = term(self, "rho", variable.dtype)      # in update_step: a variable read
```

`optimizer.rho` reads and sets a Python float (checked by `check`: the error names the argument);
a set also assigns one variable per term the update rule reads. Each term is computed in Python
float64 and rounded once to float32 (as Keras's learning rate, in `keras.backend.floatx()`),
exactly as the Python constant it replaces: `1 - rho` rounded, not `1 - float32(rho)`, so a step
is bit for bit the one the graph with constants takes. The variables are the optimizer's own
(`add_variable`), so JAX's compiled step gets them as state and a saved optimizer keeps them.
What changes the graph's structure (momentum switched off, `centered`, `amsgrad`) stays a Python
setting read when tracing.
"""

import keras
from keras import ops

# Where an optimizer keeps its {term: variable}, outside Keras's attribute tracking (the
# variables are tracked once, by `add_variable`).
_VARIABLES = "_hyperparameter_variables"


class Hyperparameter:
    """A number hyperparameter mirrored in variables, one per term of the update rule.

    Args:
        check: `check(name, value)` returns the value to keep or raises `ValueError`.
        **terms: `{term name: function of the value}`, the numbers the update rule reads;
            defaults to the value itself under the hyperparameter's name.
    """

    def __init__(self, check, **terms):
        self.check = check
        self.terms = terms

    def __set_name__(self, owner, name):
        self.name = name
        self.terms = self.terms or {name: float}

    def __get__(self, optimizer, owner=None):
        if optimizer is None:
            return self
        try:
            return optimizer.__dict__[self.name]
        except KeyError:  # before `__init__` set it; attribute lookups expect AttributeError
            raise AttributeError(self.name) from None

    def __set__(self, optimizer, value):
        value = self.check(self.name, value)
        variables = optimizer.__dict__.setdefault(_VARIABLES, {})
        for term_name, function in self.terms.items():
            if term_name in variables:
                variables[term_name].assign(function(value))
            else:
                variables[term_name] = optimizer.add_variable(
                    shape=(),
                    initializer=keras.initializers.Constant(function(value)),
                    dtype=keras.backend.floatx(),
                    aggregation="only_first_replica",
                    name=term_name,
                )
        optimizer.__dict__[self.name] = value


def term(optimizer, name, dtype):
    """The variable of term `name`, cast to `dtype` (the trained variable's), for an update rule."""
    return ops.cast(optimizer.__dict__[_VARIABLES][name], dtype)


def held(optimizer):
    """The names of the hyperparameters `optimizer` holds in variables (none for Keras's own)."""
    names = []
    for cls in type(optimizer).__mro__:
        for name, attribute in vars(cls).items():
            if isinstance(attribute, Hyperparameter) and name not in names:
                names.append(name)
    return tuple(names)


def variables(optimizer):
    """The variables behind `held(optimizer)`, every term's."""
    return list(optimizer.__dict__.get(_VARIABLES, {}).values())
