import dataclasses

import numpy as np
import pytest

from tfs2s.config import ModelConfig, TrainConfig
from tfs2s.topology import parse_topology
from tfs2s.training.stage_memo import StageMemo
from tfs2s.training.trainer import Trainer

MODEL = ModelConfig(hidden=4, regressor_hidden=4, unroll=True)
TRAIN = TrainConfig(epochs=2, translator_epochs=2, batch_size=30, patience=3, learning_rate=0.03)


@pytest.fixture(scope="module")
def source():
    from tfs2s.data.pipeline import InMemorySource
    from tfs2s.data.synthetic import make_synthetic

    dims = {"text": 5, "audio": 4, "video": 3}
    return InMemorySource(make_synthetic(segments=60, max_seq_len=4, dims=dims))


def _weights(trainer):
    return [v.numpy() for part in trainer.models.parts for v in part.variables]


def _trainer(source, topology, memo, **train):
    # Eager steps: tracing would cost more than these tiny runs. That graph-mode runs are
    # bitwise the same too: every run of the paper (benchmarks/results, docs/results).
    cfg = dataclasses.replace(TRAIN, **train)
    return Trainer(parse_topology(topology), MODEL, cfg, source, stage_memo=memo, run_eagerly=True)


@pytest.fixture(scope="module")
def t_a_stage(source):
    """A memo holding T_A's first stage at seed 0."""
    memo = StageMemo()
    _trainer(source, "T_A", memo, translator_epochs=1, epochs=1).train(seed=0, verbose=0)
    (key,) = memo._results
    return memo, key


def test_embed_reuses_the_first_stage_x_y_trained_and_ends_bitwise_the_same(source):
    memo = StageMemo()
    producer = _trainer(source, "T_A", memo)
    for seed in (0, 1):
        producer.train(seed=seed, verbose=0)
        assert producer.reused == {}
    assert len(memo) == 2  # one stage per seed

    shared = _trainer(source, "embed_TA_V", memo)
    alone = _trainer(source, "embed_TA_V", None)
    for seed in (1, 0):
        got = shared.train(seed=seed, verbose=0).history
        assert shared.reused == {"translation_1": "T_A"}
        # the stage was not trained here: no epoch timed for it
        assert [p.name for p in shared.timing.phases] == ["translation_2", "regression"]
        want = alone.train(seed=seed, verbose=0).history
        assert alone.reused == {}
        assert got == want
        assert any(row["phase"] == "translation_1" for row in got)
        for a, b in zip(_weights(shared), _weights(alone), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "topology, train",
    [
        ("embed_TA_V", {"batch_size": 20}),  # other batches
        ("embed_TA_V", {"translator_epochs": 2}),  # another budget
        ("embed_TV_A", {}),  # another first stage (T -> V)
        ("embed_AT_V", {}),  # another source
    ],
)
def test_a_stage_trained_differently_misses_the_memo(source, t_a_stage, topology, train):
    memo, key = t_a_stage
    budget = {"translator_epochs": 1, "epochs": 1}
    same = _trainer(source, "embed_TA_V", memo, **budget)
    assert same._stage_key(same.phases[0], 0) == key
    consumer = _trainer(source, topology, memo, **{**budget, **train})
    assert consumer._stage_key(consumer.phases[0], 0) != key
    same.reinitialize(1)  # another seed: other initial weights
    assert same._stage_key(same.phases[0], 1) != key


def test_the_memo_is_off_without_one_and_for_joint_training_and_strategies(source):
    import tensorflow as tf

    memo = StageMemo()
    joint = _trainer(source, "T_A", memo, mode="joint")
    assert joint._stage_key(joint.phases[0], 0) is None  # it trains every part at once
    t = Trainer(
        parse_topology("T_A"),
        MODEL,
        TRAIN,
        source,
        strategy=tf.distribute.OneDeviceStrategy("/cpu:0"),
        stage_memo=memo,
    )
    assert t._stage_key(t.phases[0], 0) is None
    t = Trainer(parse_topology("T_A"), MODEL, TRAIN, source, strategy=tf.distribute.get_strategy())
    assert t._stage_key(t.phases[0], 0) is None  # no memo given
