"""Hyperparameters held in variables, so that an already traced step reads their current values.

Keras holds a number learning rate in a variable: assigning a new rate changes what an already
traced train function does. It keeps momentum, rho, the betas and epsilon as Python floats,
constants of the traced graph, so a new value needs a new trace. Ours hold them as Keras holds
the rate (optax's `inject_hyperparams` does the same for its transformations), and so do our
decay schedules their rates (`initial_learning_rate`, a piecewise schedule's `values`):

```python
class RMSprop(keras.optimizers.Optimizer):
    rho = Hyperparameter(check_unit_interval, terms=lambda rho: {"rho": rho, "one_minus_rho": 1 - rho})
    ...
        rho = term(self, "rho", variable.dtype)      # in update_step: a variable read
```

`optimizer.rho` reads and sets a Python float (checked by `check`: the error names the argument);
a set also assigns one variable per term the rule reads. Each term is computed in Python float64
and rounded once to float32 (`keras.backend.floatx()`, as Keras's learning rate), exactly as the
Python constant it replaces: `1 - rho` rounded, not `1 - float32(rho)`, so a step is bit for bit
the one the graph with constants takes. What changes the graph's structure (momentum switched
off, `centered`, `amsgrad`, a schedule's boundaries) stays a Python setting read when tracing.
"""

import keras
from keras import ops

# Where an owner keeps its {term: variable}, outside Keras's attribute tracking (an optimizer's
# variables are tracked once, by `add_variable`).
_VARIABLES = "_hyperparameter_variables"
_TERM_NAMES = "_hyperparameter_terms"  # {hyperparameter: its term names}


class Hyperparameter:
    """A hyperparameter mirrored in variables, one per term of the rule that reads it.

    Args:
        check: `check(name, value)` returns the value to keep or raises `ValueError`.
        terms: `terms(value)` gives `{term name: number}`, the numbers the rule reads; defaults
            to the value itself under the hyperparameter's name. A list-valued hyperparameter
            (a piecewise schedule's rates) gives one term per entry; their number is fixed.
        dtype: The variables' dtype; defaults to `keras.backend.floatx()` (Keras's for a rate).

    On an optimizer the variables are its own (`add_variable`): its state, saved with it, and
    JAX's compiled step gets them as arguments. Elsewhere (a schedule) they are plain
    non-trainable `keras.Variable`s, read at every step on TensorFlow and torch; JAX's
    compiled step captures their values when it is traced.
    """

    def __init__(self, check, terms=None, dtype=None):
        self.check = check
        self.terms = terms
        self.dtype = dtype

    def __set_name__(self, owner, name):
        self.name = name
        if self.terms is None:
            self.terms = lambda value: {name: value}

    def __get__(self, owner, owner_type=None):
        if owner is None:
            return self
        try:
            return owner.__dict__[self.name]
        except KeyError:  # before `__init__` set it; attribute lookups expect AttributeError
            raise AttributeError(self.name) from None

    def __set__(self, owner, value):
        value = self.check(self.name, value)
        terms = self.terms(value)
        before = owner.__dict__.setdefault(_TERM_NAMES, {}).get(self.name)
        if before is not None and before != tuple(terms):
            raise ValueError(
                f"Argument `{self.name}` cannot change its number of values after construction "
                f"({len(before)}). Received: {self.name}={value!r}"
            )
        variables = owner.__dict__.setdefault(_VARIABLES, {})
        for term_name, number in terms.items():
            if term_name in variables:
                variables[term_name].assign(number)
            else:
                variables[term_name] = _new_variable(owner, term_name, number, self.dtype or keras.backend.floatx())
        owner.__dict__[_TERM_NAMES][self.name] = tuple(terms)
        owner.__dict__[self.name] = value


def _new_variable(owner, name, number, dtype):
    initializer = keras.initializers.Constant(number)
    if isinstance(owner, keras.optimizers.Optimizer):
        return owner.add_variable(shape=(), initializer=initializer, dtype=dtype, aggregation="only_first_replica",
                                  name=name)  # fmt: skip
    return keras.Variable(initializer, shape=(), dtype=dtype, trainable=False, name=name)


def term(owner, name, dtype):
    """The variable of term `name`, cast to `dtype` (the trained variable's), for an update rule."""
    return ops.cast(owner.__dict__[_VARIABLES][name], dtype)


def held(owner):
    """The names of the hyperparameters `owner` holds in variables (none for Keras's own)."""
    names = []
    for cls in type(owner).__mro__:
        for name, attribute in vars(cls).items():
            if isinstance(attribute, Hyperparameter) and name not in names:
                names.append(name)
    return tuple(names)


def set_held(owner, name, value):
    """`owner.<name> = value` for a held hyperparameter, its variables assigned in every case.

    TensorFlow's trackable objects (Keras's optimizers there) skip `owner.name = value` when
    `value` is the very object `owner.name` holds: a variable assigned behind the descriptor's
    back (an optimizer's variables reset to their first values) would keep its value. Sweeps
    hit it: the configurations of one spec share their number objects.
    """
    descriptor = next((vars(cls)[name] for cls in type(owner).__mro__ if name in vars(cls)), None)
    if not isinstance(descriptor, Hyperparameter):
        raise ValueError(f"{type(owner).__name__} holds no hyperparameter {name!r} in variables; held: {held(owner)}")
    descriptor.__set__(owner, value)


def variables(owner):
    """The variables behind `held(owner)`, every term's."""
    return list(owner.__dict__.get(_VARIABLES, {}).values())


def copy_held(source, target):
    """Sets `target`'s held hyperparameters to `source`'s, in nested schedules too.

    `target` is an object of the same class built alike, e.g. the schedule a compiled model's
    optimizer traced with, and `source` the schedule another run would build: afterwards the
    traced step computes `source`'s rates, as far as they are held (the rest must be equal).
    """
    if type(source) is not type(target):
        raise ValueError(f"copy_held needs two objects of one class; got {type(source).__name__} "
                         f"and {type(target).__name__}")  # fmt: skip
    for name in held(source):
        set_held(target, name, getattr(source, name))
    for name, value in vars(source).items():
        parts = value if isinstance(value, (list, tuple)) else [value]
        target_value = getattr(target, name)
        target_parts = target_value if isinstance(target_value, (list, tuple)) else [target_value]
        for part, target_part in zip(parts, target_parts):
            if isinstance(part, keras.optimizers.schedules.LearningRateSchedule):
                copy_held(part, target_part)
