"""``tf.distribute`` strategies by name."""

from __future__ import annotations

import tensorflow as tf


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Build a strategy.

    Args:
        name: ``auto`` (MirroredStrategy over all GPUs when there are several, else the
            default strategy), ``one`` (the default strategy on one device), ``mirrored``
            (MirroredStrategy over all GPUs, or over all logical CPU devices when there is
            no GPU) or ``multiworker`` (MultiWorkerMirroredStrategy from ``TF_CONFIG``).
    """
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected auto, one, mirrored or multiworker")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True where this process should write the run's artefacts."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief
