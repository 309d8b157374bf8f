"""The optimizers of ``train.optimizer``: Adam and AdamW update each weight with one kernel.

Keras 3's Adam updates a weight with about a dozen TensorFlow ops (two moment updates,
the bias correction recomputed per weight, the step), each paying the executor's cost per
op; a joint ``embed_TV_A`` step has about 50 weights, so its optimizer was over half of
the ops of a training step. TensorFlow's ``ResourceApplyAdam`` kernel does the same update
(``m``, ``v`` and the weight, with Adam's bias correction) in one op. Clipping and decoupled
weight decay stay Keras's (they run before the update, as in Keras).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


class _OneKernelAdamStep:
    """``update_step`` of Adam by ``ResourceApplyAdam``; Keras's own where it differs
    (AMSGrad, sparse gradients).

    The scalars every weight's update reads (the bias corrections ``beta ** step``, the
    learning rate, epsilon) are made once per step and shared by all weights: made per
    weight they were about 10 ops each, a sixth of a joint step's graph.
    """

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Set through __dict__: TensorFlow's attribute tracking would wrap a dict.
        self.__dict__["_step_scalars"] = {}
        try:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        finally:
            self.__dict__["_step_scalars"] = None

    def _adam_scalars(self, dtype, learning_rate):
        shared = self.__dict__.get("_step_scalars")
        key = (dtype, id(learning_rate))
        if shared is not None and key in shared:
            return shared[key]
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        scalars = {
            "beta1_power": tf.pow(beta_1, step),
            "beta2_power": tf.pow(beta_2, step),
            "lr": tf.cast(learning_rate, dtype),
            "beta1": beta_1,
            "beta2": beta_2,
            "epsilon": tf.cast(self.epsilon, dtype),
        }
        if shared is not None:
            shared[key] = scalars
        return scalars

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        weight, m, v = (
            x.value if isinstance(x, keras.Variable) else x
            for x in (variable, self._momentums[index], self._velocities[index])
        )
        dtype = weight.dtype
        tf.raw_ops.ResourceApplyAdam(
            var=weight.handle,
            m=m.handle,
            v=v.handle,
            grad=tf.cast(gradient, dtype),
            **self._adam_scalars(dtype, learning_rate),
        )


@keras.saving.register_keras_serializable(package="tfs2s")
class OneKernelAdam(_OneKernelAdamStep, keras.optimizers.Adam):
    """``keras.optimizers.Adam``, each weight updated by one ``ResourceApplyAdam`` op."""


@keras.saving.register_keras_serializable(package="tfs2s")
class OneKernelAdamW(_OneKernelAdamStep, keras.optimizers.AdamW):
    """``keras.optimizers.AdamW``, each weight updated by one ``ResourceApplyAdam`` op
    (the decoupled weight decay is Keras's, applied before)."""


#: ``train.optimizer`` values with a one-kernel version.
_ONE_KERNEL = {"adam": OneKernelAdam, "adamw": OneKernelAdamW}


def build_optimizer(
    name: str,
    learning_rate: float,
    weight_decay: float,
    clipnorm: float | None,
    ema_momentum: float | None = None,
) -> keras.optimizers.Optimizer:
    """The ``train.optimizer`` optimizer (``adam``, ``adamw``, ``sgd`` or ``rmsprop``).

    Args:
        name: the optimizer's Keras name.
        learning_rate: its learning rate.
        weight_decay: decoupled weight decay of every weight (``adamw``: AdamW's own);
            0 for none.
        clipnorm: clip each gradient to this L2 norm; None for no clipping.
        ema_momentum: keep a moving average of the weights with this momentum (Keras's
            ``use_ema``); None for none.
    """
    config: dict[str, Any] = {"learning_rate": learning_rate}
    if ema_momentum is not None:
        config.update(use_ema=True, ema_momentum=ema_momentum)
    if name == "adamw" or weight_decay > 0:
        config["weight_decay"] = weight_decay
    if clipnorm is not None:
        config["clipnorm"] = clipnorm
    if name in _ONE_KERNEL:
        return _ONE_KERNEL[name](**config)
    return keras.optimizers.get({"class_name": name, "config": config})
