"""Signatures on stand-in models: inputs, outputs, padding and in-graph checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from tfs2s import modalities as M
from tfs2s.serving import testing
from tfs2s.serving.export import pad_steps
from tfs2s.serving.signatures import (
    POLARITY_LABELS,
    SERVING_DEFAULT,
    TRANSLATE,
    ServingModule,
    ServingSpec,
    next_power_of_two,
    sentiment_outputs,
    spec_from_models,
)
from tfs2s.serving.warmup import example_inputs
from tfs2s.training.metrics import to_class7

L = 4
DIMS = testing.TINY_DIMS


def _spec(topology: str, jit_compile: bool = True) -> tuple[ServingSpec, testing.StandIn]:
    s = testing.stand_in_models(topology, L)
    translator = s.translators[0] if s.translators else None
    spec = spec_from_models(
        topology,
        s.sentiment_model,
        translator,
        max_seq_len=L,
        target_dims=DIMS,
        jit_compile=jit_compile,
    )
    return spec, s


@pytest.mark.parametrize(
    "topology, inputs, targets",
    [
        ("T_V", {"text": 6}, {"video": 3}),
        ("embed_AV_T", {"audio": 5}, {"text": 6}),
        ("concat_TV_A", {"text": 6, "video": 3}, {"audio": 5}),
        ("T_concat_AV", {"text": 6}, {"audio": 5, "video": 3}),
        ("baseline_TAV", {"text": 6, "audio": 5, "video": 3}, {}),
        ("baseline_A", {"audio": 5}, {}),
    ],
)
def test_spec_serves_exactly_the_inference_modalities(topology, inputs, targets):
    spec, _ = _spec(topology)
    assert spec.inputs == inputs and spec.targets == targets
    assert spec.input_names == (*inputs, M.MASK)
    assert spec.signature_names == (
        (SERVING_DEFAULT,) if not targets else (SERVING_DEFAULT, TRANSLATE)
    )
    meta = json.loads(spec.to_json())
    assert meta["topology"] == topology and meta["max_seq_len"] == L
    assert meta["jit_compile"] is True
    assert meta["server_flags"] == ["--xla_cpu_compilation_enabled=true"]
    assert ServingSpec.from_dict(meta) == spec
    for name, dim in inputs.items():
        assert (
            meta["signatures"][SERVING_DEFAULT]["inputs"][name]
            == f"float32 (batch, steps<={L}, {dim})"
        )


def test_spec_rejects_inputs_that_do_not_fit_the_topology():
    with pytest.raises(
        ValueError, match=r"reads \['audio'\] at inference, found inputs \['text'\]"
    ):
        ServingSpec("embed_AV_T", L, {"text": 6}, {"text": 6})
    with pytest.raises(ValueError, match="translate targets"):
        ServingSpec("baseline_T", L, {"text": 6}, {"video": 3})
    s = testing.stand_in_models("T_concat_AV", L)
    with pytest.raises(ValueError, match="feature size of each target"):
        spec_from_models("T_concat_AV", s.sentiment_model, s.translators[0], max_seq_len=L)
    with pytest.raises(ValueError, match="add up to 9 but the translator outputs 8"):
        spec_from_models(
            "T_concat_AV",
            s.sentiment_model,
            s.translators[0],
            max_seq_len=L,
            target_dims={"audio": 6, "video": 3},
        )


def test_sentiment_outputs_match_the_paper_metrics():
    x = np.array([-3.7, -2.5, -1.5, -0.5, -0.01, 0.0, 0.49, 0.5, 1.5, 2.5, 3.2], np.float32)
    out = {k: v.numpy() for k, v in sentiment_outputs(tf.constant(x)).items()}
    np.testing.assert_array_equal(out["sentiment"], x)
    np.testing.assert_array_equal(out["polarity"], (x >= 0).astype(np.int32))
    np.testing.assert_array_equal(out["sentiment_class"], to_class7(x))
    assert out["sentiment_class"].tolist() == [-3, -2, -2, 0, 0, 0, 0, 0, 2, 2, 3]
    labels = [POLARITY_LABELS[p].encode() for p in out["polarity"]]
    assert out["polarity_label"].tolist() == labels
    assert {k: v.dtype for k, v in out.items() if k != "polarity_label"} == {
        "sentiment": np.float32,
        "polarity": np.int32,
        "sentiment_class": np.int32,
    }


def test_next_power_of_two():
    n = tf.constant([0, 1, 2, 3, 4, 5, 63, 64, 65, 1000])
    assert next_power_of_two(n).numpy().tolist() == [1, 1, 2, 4, 4, 8, 64, 64, 128, 1024]


@pytest.mark.parametrize("jit_compile", [True, False], ids=["xla", "graph"])
@pytest.mark.parametrize("steps, batch", [(1, 3), (3, 1), (L, 5)])
def test_serving_default_pads_and_matches_keras(steps, batch, jit_compile):
    spec, s = _spec("concat_TV_A", jit_compile)
    module = ServingModule(spec, s.sentiment_model, s.translators[0])
    x = example_inputs(spec.inputs, batch=batch, steps=steps, seed=steps)
    got = module.run(SERVING_DEFAULT, x)
    want = s.sentiment_model(pad_steps(x, L))["sentiment"].numpy()
    assert got["sentiment"].shape == (batch,)
    np.testing.assert_allclose(got["sentiment"].numpy(), want, atol=1e-5)
    assert got["polarity"].dtype == tf.int32 and got["polarity_label"].dtype == tf.string
    attention = got["attention"].numpy()
    assert attention.shape == (batch, steps)
    want = s.sentiment_model(pad_steps(x, L))["attention"].numpy()[:, :steps]
    np.testing.assert_allclose(attention, want, atol=1e-5)
    assert np.all(attention[x["mask"] == 0] == 0)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-5)


def test_translate_returns_request_steps_and_splits_a_concat_target():
    spec, s = _spec("T_concat_AV")
    module = ServingModule(spec, s.sentiment_model, s.translators[0])
    x = example_inputs(spec.inputs, batch=3, steps=3)
    got = {k: v.numpy() for k, v in module.run(TRANSLATE, x).items()}
    want = s.translators[0](pad_steps(x, L))["translation"].numpy()[:, :3]
    assert set(got) == {"translation", "translation_audio", "translation_video"}
    np.testing.assert_allclose(got["translation"], want, atol=1e-5)
    np.testing.assert_array_equal(got["translation_audio"], got["translation"][..., :5])
    np.testing.assert_array_equal(got["translation_video"], got["translation"][..., 5:])


def test_baseline_has_no_translate_signature():
    spec, s = _spec("baseline_TV")
    module = ServingModule(spec, s.sentiment_model)
    assert set(module.signature_functions()) == {SERVING_DEFAULT}


@pytest.fixture(scope="module")
def saved_t_v(tmp_path_factory):
    spec, s = _spec("T_V")
    module = ServingModule(spec, s.sentiment_model, s.translators[0])
    path = str(tmp_path_factory.mktemp("sm") / "1")
    tf.saved_model.save(module, path, signatures=module.signature_functions())
    return path, spec


BAD = {
    "last dim": (
        {"text": np.zeros((2, 3, 5), np.float32)},
        "input `text` must be float32 (batch, steps<=4, 6); found last dim] [5]",
    ),
    "rank 2": (
        {"text": np.zeros((2, 3), np.float32)},
        "input `text` must be float32 (batch, steps<=4, 6); found rank] [2]",
    ),
    "rank 4": (
        {"text": np.zeros((2, 3, 6, 1), np.float32)},
        "input `text` must be float32 (batch, steps<=4, 6); found rank] [4]",
    ),
    "steps": (
        {"text": np.zeros((2, 5, 6), np.float32), "mask": np.ones((2, 5), np.float32)},
        "input `mask` must be float32 (batch, steps<=4); found steps] [5]",
    ),
    "mask rank": (
        {"mask": np.ones((2, 3, 1), np.float32)},
        "input `mask` must be float32 (batch, steps<=4); found rank] [3]",
    ),
    "batch": (
        {"text": np.zeros((3, 3, 6), np.float32)},
        "inputs `text` and `mask` must have the same batch and steps; found (batch, steps)] [3 3] [and] [2 3]",
    ),
}


#: Values the signatures must refuse (shapes fine): a confident label from any of these
#: would be a wrong answer.
def _nan_at(shape, index, value=np.nan):
    a = np.zeros(shape, np.float32) if len(shape) == 3 else np.ones(shape, np.float32)
    a[index] = value
    return a


BAD_VALUES = {
    "nan text": (
        {"text": _nan_at((2, 3, 6), (1, 2, 4))},
        "input `text` must be finite; found non-finite values (NaN or inf):] [1]",
    ),
    "inf text": (
        {"text": _nan_at((2, 3, 6), (0, 0, 0), -np.inf)},
        "input `text` must be finite; found non-finite values (NaN or inf):] [1]",
    ),
    "nan mask": (
        {"mask": _nan_at((2, 3), (0, 1))},
        "input `mask` must be finite; found non-finite values (NaN or inf):] [1]",
    ),
    "inf mask": (
        {"mask": _nan_at((2, 3), (1, 0), np.inf)},
        "input `mask` must be finite",
    ),
    "mask not binary": (
        {"mask": _nan_at((2, 3), (1, 2), 0.5)},
        "input `mask` must hold only 0 and 1; found other values:] [0.5]",
    ),
    "all-zero mask row": (
        {"mask": np.array([[1, 1, 0], [0, 0, 0]], np.float32)},
        "input `mask` must have at least one real step (a 1) in every example; "
        "found none in examples (steps] [3] [)] [1]",
    ),
    "zero steps": (
        {"text": np.zeros((2, 0, 6), np.float32), "mask": np.zeros((2, 0), np.float32)},
        "input `mask` must have at least one real step (a 1) in every example; "
        "found none in examples (steps] [0] [)] [0 1]",
    ),
    "left padded": (
        {"mask": np.array([[1, 1, 1], [0, 1, 1]], np.float32)},
        "input `mask` must be right-padded (1s, then 0s) in every example; "
        "found a 1 after a 0 in examples] [1]",
    ),
}


def _bad_inputs(change):
    x = {"text": np.zeros((2, 3, 6), np.float32), "mask": np.ones((2, 3), np.float32)}
    x.update(change)
    return x


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("signature", [SERVING_DEFAULT, TRANSLATE])
def test_loaded_signature_rejects_bad_inputs_clearly(saved_t_v, case, signature):
    path, _ = saved_t_v
    fn = tf.saved_model.load(path).signatures[signature]
    change, message = BAD[case]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        fn(**{k: tf.constant(v) for k, v in _bad_inputs(change).items()})
    assert message in str(info.value)


@pytest.fixture(scope="module")
def server_session(saved_t_v):
    """One model-server session of ``saved_t_v`` for the module (loading one takes ~1 s); a
    rejected request leaves it serving, as the tests below check."""
    session = testing.ModelServerSession(saved_t_v[0])
    yield session
    session.close()


@pytest.mark.parametrize("case", sorted(BAD))
def test_model_server_session_rejects_bad_inputs_clearly(server_session, case):
    """No client-side shape check stands in front of the graph in TF-Serving."""
    change, message = BAD[case]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        server_session.run(SERVING_DEFAULT, _bad_inputs(change))
    assert message in str(info.value)
    ok = server_session.run(SERVING_DEFAULT, _bad_inputs({}))
    assert ok["sentiment"].shape == (2,)


@pytest.fixture(scope="module")
def saved_t_v_graph(tmp_path_factory):
    """``saved_t_v`` without XLA."""
    spec, s = _spec("T_V", jit_compile=False)
    module = ServingModule(spec, s.sentiment_model, s.translators[0])
    path = str(tmp_path_factory.mktemp("sm_graph") / "1")
    tf.saved_model.save(module, path, signatures=module.signature_functions())
    return path, spec


def test_loaded_signatures_reject_bad_values_naming_the_input(saved_t_v, saved_t_v_graph, tmp_path):
    """In a fresh process, as a server would load it: no NaN label, no empty-mask answer.

    One process loads both exports, with XLA and without (a process costs seconds)."""
    for case, (change, _) in BAD_VALUES.items():
        np.savez(tmp_path / f"{case}.npz", **_bad_inputs(change))
    script = (
        "import glob, json, os, sys, numpy as np, tensorflow as tf\n"
        "out = {}\n"
        "for kind, path in (('xla', sys.argv[1]), ('graph', sys.argv[2])):\n"
        "    loaded = tf.saved_model.load(path)\n"
        "    out[kind] = {}\n"
        "    for f in sorted(glob.glob(os.path.join(sys.argv[3], '*.npz'))):\n"
        "        x = {k: tf.constant(v) for k, v in np.load(f).items()}\n"
        "        for sig in ('serving_default', 'translate'):\n"
        "            key = f'{os.path.basename(f)[:-4]}/{sig}'\n"
        "            try:\n"
        "                loaded.signatures[sig](**x)\n"
        "                out[kind][key] = 'no error'\n"
        "            except tf.errors.InvalidArgumentError as e:\n"
        "                out[kind][key] = e.message\n"
        "print(json.dumps(out))\n"
    )
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", script, saved_t_v[0], saved_t_v_graph[0], str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(found) == ["graph", "xla"]
    for kind, answers in found.items():
        assert len(answers) == 2 * len(BAD_VALUES), kind
        for key, got in answers.items():
            assert BAD_VALUES[key.split("/")[0]][1] in got, (kind, key, got)


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_model_server_session_rejects_bad_values(server_session, case):
    change, message = BAD_VALUES[case]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        server_session.run(SERVING_DEFAULT, _bad_inputs(change))
    assert message in str(info.value)


def test_metadata_is_kept_in_the_saved_model(saved_t_v):
    path, spec = saved_t_v
    loaded = tf.saved_model.load(path)
    assert json.loads(loaded.metadata().numpy().decode()) == spec.to_dict()
