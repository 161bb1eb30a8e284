"""Float64 numpy references for the four optimizers, written from the published equations.

Each reference is a class with `init(weights)` (the starting state: a dict of arrays, named as
the Keras slot variables are) and `step(weights, gradient, state, t, learning_rate)`, which
returns the new weights and updates `state` in place; `t` is the 1-based step count and
`learning_rate` the value for this step (a schedule is evaluated by the caller). Everything is
float64 so that the references are exact to ~1e-16 and any float32 optimizer can be judged
against them.

These are deliberately written from the papers and the course notes, not from the optimizer
code: plain assignments in the order the equations are printed.
"""

import numpy as np


class SGDReference:
    """Mini-batch SGD with momentum, in two forms.

    "keras" (Sutskever et al., 2013, eq. 1-2; the notes' first form: keep a fraction of the
    previous update, subtract the scaled gradient)::

        v_t = mu * v_{t-1} - lr * g_t
        w_t = w_{t-1} + v_t                        # Nesterov: w_{t-1} + mu * v_t - lr * g_t

    "ema" (the notes' "gradient descent with momentum": an exponentially weighted average of
    the gradients, learning rate outside)::

        V_t = beta * V_{t-1} + (1 - beta) * g_t
        w_t = w_{t-1} - lr * V_t                   # Nesterov: lr * (beta * V_t + (1 - beta) * g_t)

    The Nesterov "ema" step is the "keras" Nesterov step rewritten with V = -v / (lr * (1 - beta)).
    """

    def __init__(self, momentum=0.0, nesterov=False, momentum_form="keras"):
        self.momentum = momentum
        self.nesterov = nesterov
        self.momentum_form = momentum_form

    def init(self, weights):
        return {"momentum": np.zeros_like(weights)} if self.momentum else {}

    def step(self, weights, gradient, state, t, learning_rate):
        mu, lr, g = self.momentum, learning_rate, gradient
        if not mu:
            return weights - lr * g
        if self.momentum_form == "keras":
            state["momentum"] = mu * state["momentum"] - lr * g
            if self.nesterov:
                return weights + mu * state["momentum"] - lr * g
            return weights + state["momentum"]
        state["momentum"] = mu * state["momentum"] + (1.0 - mu) * g
        if self.nesterov:
            return weights - lr * (mu * state["momentum"] + (1.0 - mu) * g)
        return weights - lr * state["momentum"]


class AdagradReference:
    """AdaGrad (Duchi et al., 2011; the notes' "cache")::

        G_t = G_{t-1} + g_t ** 2,   G_0 = initial_accumulator_value
        w_t = w_{t-1} - lr * g_t / (sqrt(G_t) + eps)       # the notes
        w_t = w_{t-1} - lr * g_t / sqrt(G_t + eps)         # epsilon inside (Keras)
    """

    def __init__(self, initial_accumulator_value=0.1, epsilon=1e-7, epsilon_inside_sqrt=True):
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon
        self.epsilon_inside_sqrt = epsilon_inside_sqrt

    def init(self, weights):
        return {"accumulator": np.full_like(weights, self.initial_accumulator_value)}

    def step(self, weights, gradient, state, t, learning_rate):
        state["accumulator"] = state["accumulator"] + gradient**2
        cache = state["accumulator"]
        if self.epsilon_inside_sqrt:
            return weights - learning_rate * gradient / np.sqrt(cache + self.epsilon)
        return weights - learning_rate * gradient / (np.sqrt(cache) + self.epsilon)


class RMSpropReference:
    """RMSprop (Hinton, 2012, lecture 6e; centered: Graves, 2013, eq. 38-41)::

        S_t = rho * S_{t-1} + (1 - rho) * g_t ** 2          # the notes' S_dw
        A_t = rho * A_{t-1} + (1 - rho) * g_t               # centered only
        D_t = S_t - A_t ** 2 if centered else S_t
        D_t = D_t / (1 - rho ** t)                          # bias_correction only (not in Keras)
        u_t = lr * g_t / sqrt(D_t + eps)                    # epsilon inside (Keras)
        u_t = lr * g_t / (sqrt(D_t) + eps)                  # epsilon outside (the notes)
        B_t = momentum * B_{t-1} + u_t;  w_t = w_{t-1} - B_t    # momentum > 0
        w_t = w_{t-1} - u_t                                     # momentum = 0

    `bias_correction=True` is the notes' remark that the Adam correction "is sometimes also done
    in RMSprop": it is what `Adam(beta_1=0)` computes.
    """

    def __init__(
        self,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        epsilon_inside_sqrt=True,
        bias_correction=False,
    ):
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        self.epsilon_inside_sqrt = epsilon_inside_sqrt
        self.bias_correction = bias_correction

    def init(self, weights):
        state = {"velocity": np.zeros_like(weights)}
        if self.momentum:
            state["momentum"] = np.zeros_like(weights)
        if self.centered:
            state["average_gradient"] = np.zeros_like(weights)
        return state

    def step(self, weights, gradient, state, t, learning_rate):
        rho, g = self.rho, gradient
        state["velocity"] = rho * state["velocity"] + (1.0 - rho) * g**2
        mean_square = state["velocity"]
        if self.centered:
            state["average_gradient"] = rho * state["average_gradient"] + (1.0 - rho) * g
            mean_square = mean_square - state["average_gradient"] ** 2
        if self.bias_correction:
            mean_square = mean_square / (1.0 - rho**t)
        if self.epsilon_inside_sqrt:
            increment = learning_rate * g / np.sqrt(mean_square + self.epsilon)
        else:
            increment = learning_rate * g / (np.sqrt(mean_square) + self.epsilon)
        if self.momentum:
            state["momentum"] = self.momentum * state["momentum"] + increment
            return weights - state["momentum"]
        return weights - increment


class AdamReference:
    """Adam (Kingma & Ba, 2014, Algorithm 1 and the note before Section 2.1; AMSGrad: Reddi
    et al., 2018, Algorithm 2 with Adam's bias correction, as Keras and PyTorch do it)::

        m_t = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        v_t = beta_2 * v_{t-1} + (1 - beta_2) * g_t ** 2
        v_t = max(vmax_{t-1}, v_t)  (stored as vmax_t)             # amsgrad only
        # epsilon inside the root, bias corrected (the notes, Ng's lecture):
        w_t = w_{t-1} - lr * m_hat / sqrt(v_hat + eps),   m_hat = m_t / (1 - beta_1 ** t),
                                                          v_hat = v_t / (1 - beta_2 ** t)
        # "epsilon hat" (Kingma & Ba, end of Section 2; Keras's default):
        lr_t = lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        w_t = w_{t-1} - lr_t * m_t / (sqrt(v_t) + eps)
        # no bias correction: m_hat = m_t, v_hat = v_t, lr_t = lr.
    """

    def __init__(
        self,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        bias_correction=True,
        epsilon_inside_sqrt=False,
    ):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.bias_correction = bias_correction
        self.epsilon_inside_sqrt = epsilon_inside_sqrt

    def init(self, weights):
        state = {"momentum": np.zeros_like(weights), "velocity": np.zeros_like(weights)}
        if self.amsgrad:
            state["velocity_hat"] = np.zeros_like(weights)
        return state

    def step(self, weights, gradient, state, t, learning_rate):
        b1, b2, g, lr = self.beta_1, self.beta_2, gradient, learning_rate
        state["momentum"] = b1 * state["momentum"] + (1.0 - b1) * g
        state["velocity"] = b2 * state["velocity"] + (1.0 - b2) * g**2
        m, v = state["momentum"], state["velocity"]
        if self.amsgrad:
            state["velocity_hat"] = np.maximum(state["velocity_hat"], v)
            v = state["velocity_hat"]
        correction_1 = 1.0 - b1**t if self.bias_correction else 1.0
        correction_2 = 1.0 - b2**t if self.bias_correction else 1.0
        if self.epsilon_inside_sqrt:
            m_hat, v_hat = m / correction_1, v / correction_2
            return weights - lr * m_hat / np.sqrt(v_hat + self.epsilon)
        lr_t = lr * np.sqrt(correction_2) / correction_1
        return weights - lr_t * m / (np.sqrt(v) + self.epsilon)
