import keras
import numpy as np
import pytest
import tensorflow as tf

from tfs2s.training.optimizers import OneKernelAdam, OneKernelAdamW, build_optimizer

RNG = np.random.default_rng(0)
START = [RNG.normal(size=s).astype("float32") for s in [(3, 4), (4,), (2, 2, 3)]]
GRADS = [[RNG.normal(size=w.shape).astype("float32") * 3 for w in START] for _ in range(6)]


def _train(optimizer):
    weights = [keras.Variable(w) for w in START]
    for grads in GRADS:
        optimizer.apply([tf.constant(g) for g in grads], weights)
    return [np.asarray(w) for w in weights]


@pytest.mark.parametrize(
    "ours, keras_class, kwargs",
    [
        (OneKernelAdam, keras.optimizers.Adam, {"learning_rate": 0.01}),
        (OneKernelAdam, keras.optimizers.Adam, {"learning_rate": 0.01, "weight_decay": 0.1}),
        (
            OneKernelAdamW,
            keras.optimizers.AdamW,
            {"learning_rate": 0.01, "weight_decay": 0.05, "clipnorm": 1.0},
        ),
    ],
)
def test_the_same_updates_as_keras(ours, keras_class, kwargs):
    want = _train(keras_class(**kwargs))
    got = _train(ours(**kwargs))
    moved = [not np.allclose(w, s) for w, s in zip(got, START, strict=True)]
    assert all(moved)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_the_update_is_one_kernel_a_weight():
    optimizer = OneKernelAdam(learning_rate=0.01)
    weights = [keras.Variable(w) for w in START]
    optimizer.build(weights)

    @tf.function
    def step(grads):
        optimizer.apply(grads, weights)

    graph = step.get_concrete_function([tf.TensorSpec(w.shape) for w in START]).graph
    types = [op.type for op in graph.get_operations()]
    assert types.count("ResourceApplyAdam") == len(START)
    assert "AssignSubVariableOp" not in types  # Keras's own update assigns by parts
    # the bias corrections are made once a step, not once a weight
    assert types.count("Pow") == 2


def test_amsgrad_keeps_keras_update():
    want = _train(keras.optimizers.Adam(0.01, amsgrad=True))
    got = _train(OneKernelAdam(0.01, amsgrad=True))
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)


def test_build_optimizer_names_and_config_round_trip():
    adamw = build_optimizer("adamw", 0.002, 0.0, 0.5)
    assert isinstance(adamw, OneKernelAdamW) and adamw.weight_decay == 0.0
    assert adamw.clipnorm == 0.5
    adam = build_optimizer("adam", 0.001, 0.01, None)
    assert isinstance(adam, OneKernelAdam) and adam.weight_decay == 0.01
    assert isinstance(build_optimizer("sgd", 0.1, 0.0, None), keras.optimizers.SGD)
    assert isinstance(build_optimizer("rmsprop", 0.1, 0.0, None), keras.optimizers.RMSprop)
    copy = keras.optimizers.deserialize(keras.optimizers.serialize(adamw))
    assert isinstance(copy, OneKernelAdamW) and copy.get_config() == adamw.get_config()
