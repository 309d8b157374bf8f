"""Export: versioned, atomic, self-describing; the artefact stands alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfs2s import modalities as M
from tfs2s.inference.testing import TINY_OVERRIDES
from tfs2s.serving import export as export_mod
from tfs2s.serving import testing
from tfs2s.serving.export import (
    METADATA_FILE,
    ExportError,
    export_models,
    export_trained,
    load_run,
    next_version,
    pad_steps,
    verify_export,
)
from tfs2s.serving.models_config import versions
from tfs2s.serving.signatures import SERVING_DEFAULT, TRANSLATE, spec_from_models
from tfs2s.serving.warmup import WARMUP_BATCH_SIZES, WARMUP_FILE, example_inputs, read_warmup
from tfs2s.training.metrics import to_class7

L = 4
#: Words per segment of the tiny trained T_A run (``tiny_run``, ``tiny_export``).
RUN_STEPS = TINY_OVERRIDES["data.max_seq_len"]


@pytest.fixture(scope="module")
def stand_in():
    s = testing.stand_in_models("T_V", L)
    spec = spec_from_models("T_V", s.sentiment_model, s.translators[0], max_seq_len=L)
    return spec, s


def _export(stand_in, out, **kwargs):
    spec, s = stand_in
    return export_models(spec, s.sentiment_model, s.translators[0], out=out, **kwargs)


def _leftovers(model_dir: Path) -> list[str]:
    return sorted(p.name for p in model_dir.iterdir() if not p.name.isdigit())


# --------------------------------------------------------------------------- stand-in models


def test_exporting_twice_gives_versions_1_and_2_with_the_full_layout(stand_in, tmp_path):
    first = _export(stand_in, tmp_path, name="m")
    second = _export(stand_in, tmp_path, name="m", verify=False)
    assert (first.version, second.version) == (1, 2)
    assert first.path == tmp_path / "m" / "1" and second.path == tmp_path / "m" / "2"
    assert versions(tmp_path / "m") == [1, 2] and _leftovers(tmp_path / "m") == []
    for r in (first, second):
        for name in ("saved_model.pb", "variables", WARMUP_FILE, METADATA_FILE):
            assert (r.path / name).exists(), name
    meta = json.loads((first.path / METADATA_FILE).read_text())
    assert meta == stand_in[0].to_dict()
    assert meta["inputs"] == {"text": 6} and meta["targets"] == {"video": 3}


def test_next_version_counts_only_integer_directories(tmp_path):
    assert next_version(tmp_path / "missing") == 1
    for name in ("3", "10", "latest", ".tmp-export-x", "7a"):
        (tmp_path / name).mkdir()
    (tmp_path / "11").write_text("a file, not a version")
    assert versions(tmp_path) == [3, 10] and next_version(tmp_path) == 11


def test_an_existing_version_is_never_overwritten(stand_in, tmp_path):
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "1" / "keep").write_text("old")
    (tmp_path / "m" / "2").write_text("a stray file where version 2 would go")
    result = _export(stand_in, tmp_path, name="m", verify=False)
    assert result.version == 3
    assert (tmp_path / "m" / "1" / "keep").read_text() == "old"
    assert (tmp_path / "m" / "2").read_text().startswith("a stray file")


def _fail_after_partial_write(monkeypatch):
    def write_then_fail(path, logs):
        (Path(path) / "assets.extra").mkdir(exist_ok=True)
        (Path(path) / WARMUP_FILE).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(export_mod, "write_warmup", write_then_fail)


def test_failed_export_leaves_no_partial_version(stand_in, tmp_path, monkeypatch):
    _export(stand_in, tmp_path, name="m", verify=False)
    _fail_after_partial_write(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        _export(stand_in, tmp_path, name="m")
    assert versions(tmp_path / "m") == [1] and _leftovers(tmp_path / "m") == []
    # a model directory the failed export created is removed again
    with pytest.raises(OSError, match="disk full"):
        _export(stand_in, tmp_path, name="new")
    assert not (tmp_path / "new").exists()


def test_verification_failure_publishes_nothing(stand_in, tmp_path):
    spec, s = stand_in
    other = testing.stand_in_models("T_V", L, seed=1)
    path = _export(stand_in, tmp_path, name="m").path
    with pytest.raises(ExportError, match="'sentiment' differs from the Keras model"):
        verify_export(path, spec, other.sentiment_model, s.translators[0])
    with pytest.raises(ExportError, match="'translation' differs from the Keras model"):
        verify_export(path, spec, s.sentiment_model, other.translators[0])


def test_a_warmup_request_that_does_not_fit_publishes_nothing(stand_in, tmp_path, monkeypatch):
    spec, _ = stand_in
    real_logs = export_mod.warmup_logs

    def bad_logs(spec, name, batch_sizes):
        logs = real_logs(spec, name, batch_sizes)
        logs[-1].predict_log.request.inputs["text"].CopyFrom(
            tf.make_tensor_proto(np.zeros((1, L, 5), np.float32))
        )
        return logs

    monkeypatch.setattr(export_mod, "warmup_logs", bad_logs)
    with pytest.raises(ExportError, match=r"does not fit: input 'text' is float32 \(1, 4, 5\)"):
        _export(stand_in, tmp_path, name="m")
    assert not (tmp_path / "m").exists()


def test_model_name_must_be_one_path_component(stand_in, tmp_path):
    for name in ("", "..", "a/b"):
        with pytest.raises(ValueError, match="single path component"):
            _export(stand_in, tmp_path, name=name)
    # `models.config` once broke `tfs2s models-config`; spaces and `$` broke REST URLs
    for name in ("models.config", "my model", "a$b", ".hidden", "-x"):
        with pytest.raises(ValueError, match="expected letters, digits"):
            _export(stand_in, tmp_path, name=name)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- a real tiny run


@pytest.fixture(scope="module")
def real(tiny_export):
    result, trained = tiny_export
    return result, trained, tf.saved_model.load(str(result.path))


def _keras(trained, inputs, length):
    padded = pad_steps(inputs, length)
    steps = inputs[M.MASK].shape[1]
    out = trained.sentiment_model(padded, training=False)
    sentiment, attention = np.asarray(out["sentiment"]), np.asarray(out["attention"])
    translation = np.asarray(trained.translators[0](padded, training=False)["translation"])
    return sentiment.reshape(-1), translation[:, :steps], attention[:, :steps]


FRESH_PROCESS = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import tensorflow as tf

    path, *inputs_files = sys.argv[1:]
    loaded = tf.saved_model.load(path)
    for inputs_file in inputs_files:
        inputs = dict(np.load(inputs_file))
        out = {}
        for sig in ("serving_default", "translate"):
            res = loaded.signatures[sig](**{k: tf.constant(v) for k, v in inputs.items()})
            out.update({f"{sig}/{k}": v.numpy() for k, v in res.items()})
        folder, name = os.path.split(inputs_file)  # in-N.npz -> out-N.npz
        np.savez(os.path.join(folder, "out-" + name.removeprefix("in-")), **out)
    meta = json.loads(loaded.metadata().numpy().decode())
    print(json.dumps({"tfs2s_imported": "tfs2s" in sys.modules, "topology": meta["topology"]}))
    """
)


def test_fresh_process_without_tfs2s_matches_keras(real, tmp_path):
    # One fresh process (seconds of TensorFlow start-up) answers batches of the full length
    # and of a shorter one.
    result, trained, _ = real
    lengths = (RUN_STEPS, 3)
    inputs = {}
    for steps in lengths:
        inputs[steps] = example_inputs(result.spec.inputs, batch=5, steps=steps, seed=steps)
        np.savez(tmp_path / f"in-{steps}.npz", **inputs[steps])
    script = tmp_path / "serve.py"
    script.write_text(FRESH_PROCESS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            str(result.path),
            *(str(tmp_path / f"in-{steps}.npz") for steps in lengths),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["tfs2s_imported"] is False and report["topology"] == "T_A"
    meta = json.loads((result.path / METADATA_FILE).read_text())
    assert meta["signatures"]["serving_default"]["outputs"]["attention"] == (
        "float32 (batch, steps)"
    )
    for steps in lengths:
        _check_served_like_keras(
            dict(np.load(tmp_path / f"out-{steps}.npz", allow_pickle=True)),
            _keras(trained, inputs[steps], result.spec.max_seq_len),
            inputs[steps],
            steps,
        )


def _check_served_like_keras(out, keras_out, inputs, steps):
    sentiment, translation, attention = keras_out
    np.testing.assert_allclose(out["serving_default/sentiment"], sentiment, atol=1e-5)
    np.testing.assert_array_equal(
        out["serving_default/polarity"], (sentiment >= 0).astype(np.int32)
    )
    np.testing.assert_array_equal(
        out["serving_default/sentiment_class"], to_class7(out["serving_default/sentiment"])
    )
    labels = np.where(sentiment >= 0, b"non-negative", b"negative")
    assert out["serving_default/polarity_label"].tolist() == labels.tolist()
    served = out["serving_default/attention"]
    assert served.shape == (5, steps)
    np.testing.assert_allclose(served, attention, atol=1e-5)
    assert np.all(served[inputs["mask"] == 0] == 0.0)
    np.testing.assert_allclose(served.sum(axis=1), 1.0, atol=1e-5)
    assert out["translate/translation"].shape == (5, steps, 74)
    np.testing.assert_allclose(out["translate/translation"], translation, atol=1e-5)


def _saved_model_cli() -> list[str]:
    script = Path(sys.executable).with_name("saved_model_cli")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


def test_saved_model_cli_lists_the_signatures(real):
    result, _, _ = real
    proc = subprocess.run(
        [*_saved_model_cli(), "show", "--dir", str(result.path), "--all"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout

    def tensors(signature: str, kind: str) -> dict[str, tuple[str, str]]:
        block = text.split(f"signature_def['{signature}']:", 1)[1].split("Method name is:", 1)[0]
        part = block.split("output(s):", 1)[0 if kind == "inputs" else 1]
        found = re.findall(
            kind + r"\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([^)]*\))", part
        )
        return {name: (dtype, shape) for name, dtype, shape in found}

    expected_inputs = {"text": ("DT_FLOAT", "(-1, -1, 300)"), "mask": ("DT_FLOAT", "(-1, -1)")}
    for sig in (SERVING_DEFAULT, TRANSLATE):
        assert tensors(sig, "inputs") == expected_inputs
    assert tensors(SERVING_DEFAULT, "outputs") == {
        "sentiment": ("DT_FLOAT", "(-1)"),
        "polarity": ("DT_INT32", "(-1)"),
        "polarity_label": ("DT_STRING", "(-1)"),
        "sentiment_class": ("DT_INT32", "(-1)"),
        "attention": ("DT_FLOAT", "(-1, -1)"),
    }
    assert tensors(TRANSLATE, "outputs") == {"translation": ("DT_FLOAT", "(-1, -1, 74)")}
    assert text.count("Method name is: tensorflow/serving/predict") >= 2


def test_warmup_requests_parse_and_run_against_the_signatures(real):
    result, _, loaded = real
    logs = list(read_warmup(result.path))
    seen = []
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.name == "tfs2s"
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        assert {k: v.dtype for k, v in inputs.items()} == {"text": np.float32, "mask": np.float32}
        batch = inputs["mask"].shape[0]
        assert inputs["text"].shape == (batch, RUN_STEPS, 300)
        assert inputs["mask"].shape == (batch, RUN_STEPS)
        out = loaded.signatures[request.model_spec.signature_name](
            **{k: tf.constant(v) for k, v in inputs.items()}
        )
        assert all(v.shape[0] == batch for v in out.values())
        seen.append((request.model_spec.signature_name, batch))
    assert sorted(seen) == sorted(
        (s, b) for s in (SERVING_DEFAULT, TRANSLATE) for b in WARMUP_BATCH_SIZES
    )


def test_model_server_session_serves_the_export_and_checks_inputs(real):
    result, _, loaded = real
    session = testing.ModelServerSession(result.path)
    try:
        inputs = example_inputs(result.spec.inputs, batch=3, steps=RUN_STEPS - 1)
        got = session.run(SERVING_DEFAULT, inputs)
        want = loaded.signatures[SERVING_DEFAULT](**{k: tf.constant(v) for k, v in inputs.items()})
        np.testing.assert_allclose(got["sentiment"], want["sentiment"].numpy(), atol=1e-6)
        inputs["text"] = inputs["text"][..., :299]
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            session.run(SERVING_DEFAULT, inputs)
        message = f"input `text` must be float32 (batch, steps<={RUN_STEPS}, 300); found last dim"
        assert f"{message}] [299]" in str(info.value)
    finally:
        session.close()


def test_a_seq2seq_run_without_its_translator_is_refused(tmp_path):
    s = testing.stand_in_models("embed_AV_T", L)
    s.translators = []
    with pytest.raises(ValueError, match=r"none of its translators reads \['audio', 'mask'\]"):
        export_trained(s, L, out=tmp_path)
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- robustness


def test_version_directories_get_the_umask_permissions(stand_in, tmp_path):
    """Not mkdtemp's 0700: a model server running as another user must read them."""
    old = os.umask(0o022)
    try:
        result = _export(stand_in, tmp_path, name="m", verify=False)
    finally:
        os.umask(old)
    assert result.path.stat().st_mode & 0o777 == 0o755
    assert (result.path / "variables").stat().st_mode & 0o777 == 0o755
    assert (result.path / "saved_model.pb").stat().st_mode & 0o777 == 0o644


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporary_directories_of_killed_exports_are_removed(stand_in, tmp_path):
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    host, me = export_mod._host_tag(), os.getpid()
    dead = model_dir / f"{export_mod.TMP_PREFIX}{host}-{_dead_pid()}-12345-dead0000"
    live = model_dir / (
        f"{export_mod.TMP_PREFIX}{host}-{me}-{export_mod._process_start(me)}-live0000"
    )
    other_host = model_dir / f"{export_mod.TMP_PREFIX}0000beef-{_dead_pid()}-1-other000"
    # named by mkdtemp (earlier tfs2s): removed once untouched for an hour
    legacy_old, legacy_new = (model_dir / f"{export_mod.TMP_PREFIX}{n}" for n in ("ab1", "cd2"))
    for d in (dead, live, other_host, legacy_old, legacy_new):
        (d / "variables").mkdir(parents=True)
    two_hours_ago = time.time() - 7200
    os.utime(legacy_old, (two_hours_ago, two_hours_ago))
    _export(stand_in, tmp_path, name="m", verify=False)
    assert not dead.exists() and not legacy_old.exists()
    assert _leftovers(model_dir) == sorted([live.name, other_host.name, legacy_new.name])


def test_the_temporary_directory_names_its_owner(stand_in, tmp_path, monkeypatch):
    seen = []

    def spy(path, *args, **kwargs):
        seen.append(Path(path).name)
        return verify_export(path, *args, **kwargs)

    monkeypatch.setattr(export_mod, "verify_export", spy)
    _export(stand_in, tmp_path, name="m")
    (name,) = seen
    assert name.startswith(f"{export_mod.TMP_PREFIX}{export_mod._host_tag()}-{os.getpid()}-")
    assert export_mod._owner_alive(name)


def test_non_finite_weights_are_refused_even_without_verification(tmp_path):
    s = testing.stand_in_models("T_V", L)
    spec = spec_from_models("T_V", s.sentiment_model, s.translators[0], max_seq_len=L)
    weight = s.sentiment_model.weights[0]
    value = weight.numpy()
    value.flat[0] = np.nan
    weight.assign(value)
    with pytest.raises(ExportError, match=r"holds 1 non-finite value\(s\) \(NaN or inf\)"):
        export_models(spec, s.sentiment_model, s.translators[0], out=tmp_path, verify=False)
    assert not any(tmp_path.iterdir())


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A copy of the tiny run to tamper with."""
    import shutil

    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


def _cli_export(run_dir, out, capsys) -> tuple[int, str]:
    from tfs2s.cli import main

    code = main(["export", "--run", str(run_dir), "--out", str(out), "--no-jit-compile"])
    return code, capsys.readouterr().err.strip()


def test_a_corrupt_model_file_is_named_as_corrupt(run_copy, tmp_path, capsys):
    model = run_copy / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    code, err = _cli_export(run_copy, tmp_path / "serving", capsys)
    assert code == 2
    assert err.startswith(f"tfs2s: error: {model} is corrupt: not a readable Keras archive")
    assert len(err.splitlines()) == 1 and "not found" not in err.lower()
    assert not (tmp_path / "serving").exists()


def test_a_missing_model_file_is_refused(run_copy, tmp_path):
    (run_copy / "model.keras").unlink()
    with pytest.raises(export_mod.RunDirectoryError, match=r"model.keras does not exist"):
        export_mod.export_run(run_copy, out=tmp_path / "serving")


@pytest.mark.parametrize(
    "change, message",
    [
        ("topology: T_A", r"disagree \('T_V' vs 'T_A'\)"),
        ("  hidden: 4", r"disagree \(model.hidden: 8 vs 4\)"),
    ],
    ids=["topology", "model"],
)
def test_a_run_directory_mixing_two_runs_is_refused(run_copy, tmp_path, change, message):
    """A re-run with other settings rewrote params.yaml: export must not trust it."""
    params = run_copy / "params.yaml"
    text = params.read_text()
    assert change in text
    new = {"topology: T_A": "topology: T_V", "  hidden: 4": "  hidden: 8"}[change]
    params.write_text(text.replace(change, new, 1))
    with pytest.raises(export_mod.RunDirectoryError, match=message):
        export_mod.export_run(run_copy, out=tmp_path / "serving")
    assert not (tmp_path / "serving").exists()


def test_max_seq_len_recorded_with_the_model_must_match_params(run_copy, tmp_path):
    trained = run_copy / "trained.json"
    meta = json.loads(trained.read_text())
    meta["data"] = {"max_seq_len": 20}
    trained.write_text(json.dumps(meta))
    params = run_copy / "params.yaml"
    params.write_text(params.read_text().replace(f"max_seq_len: {RUN_STEPS}", "max_seq_len: 10"))
    with pytest.raises(export_mod.RunDirectoryError, match=r"data.max_seq_len: 10 vs 20"):
        export_mod.export_run(run_copy, out=tmp_path / "serving")


# --------------------------------------------------------------------------- export time


def test_export_traces_each_model_once(stand_in, tmp_path, monkeypatch):
    """tf.saved_model.save used to trace every signature again (unrolled LSTMs: seconds)."""
    from tfs2s.serving.signatures import ServingModule

    traces = {"sentiment": 0, "translator": 0}

    def counting(name, method):
        def call(self, inputs):
            traces[name] += 1
            return method(self, inputs)

        return call

    monkeypatch.setattr(
        ServingModule, "_call_sentiment", counting("sentiment", ServingModule._call_sentiment)
    )
    monkeypatch.setattr(
        ServingModule, "_call_translator", counting("translator", ServingModule._call_translator)
    )
    result = _export(stand_in, tmp_path, name="m")
    assert traces == {"sentiment": 1, "translator": 1}
    assert set(result.seconds) >= {"trace", "save", "verify_load", "verify_run", "total"}


def test_verification_compiles_one_xla_program_per_signature(stand_in):
    """Its requests share one batch bucket, yet cover batch and step padding."""
    spec, _ = stand_in
    requests = export_mod.verification_inputs(spec)
    batches = [x[M.MASK].shape[0] for x in requests]
    steps = [x[M.MASK].shape[1] for x in requests]
    assert len({1 << (b - 1).bit_length() for b in batches}) == 1
    assert any(b & (b - 1) for b in batches)  # one batch is not a power of two
    assert max(steps) == spec.max_seq_len and min(steps) < spec.max_seq_len


def test_an_xla_export_serves_lstms_as_loops_checked_against_the_trained_models(
    tiny_run, tmp_path, monkeypatch
):
    import keras

    trained, steps = load_run(tiny_run)

    def lstms(model):
        return [x for x in model._flatten_layers() if isinstance(x, keras.layers.LSTM)]

    translator = trained.translators[0]
    for model in (trained.sentiment_model, translator):
        loops = export_mod.served_model(model, jit_compile=True)
        assert lstms(model) and all(x.unroll for x in lstms(model))
        assert lstms(loops) and not any(x.unroll for x in lstms(loops))
        x = example_inputs(
            {n: model.input[n].shape[-1] for n in model.input if n != M.MASK}, 3, steps
        )
        x[M.MASK][1, 2:] = 0.0
        for key, want in model(x, training=False).items():
            np.testing.assert_allclose(loops(x, training=False)[key], want, atol=1e-5)
        assert export_mod.served_model(loops, jit_compile=True) is loops
    # an unrolled encoder saved before exact_backward_mask stays unrolled (as loops it
    # would compute another function on padded steps)
    from tfs2s.models.sequence_encoder import SequenceEncoder

    config = SequenceEncoder(3, 2, unroll=True).get_config()
    del config["exact_backward_mask"]
    old = SequenceEncoder.from_config(config)
    assert export_mod.served_model(old, jit_compile=True) is old
    assert (
        export_mod.served_model(SequenceEncoder(3, 2, unroll=True), jit_compile=True).unroll
        is False
    )
    checked = []
    real_verify = export_mod.verify_export

    def verify(path, spec, sentiment_model, translator):
        checked.append((sentiment_model, translator))
        return real_verify(path, spec, sentiment_model, translator)

    monkeypatch.setattr(export_mod, "verify_export", verify)
    start = time.perf_counter()
    result = export_mod.export_trained(trained, steps, jit_compile=True, out=tmp_path, name="m")
    assert checked == [(trained.sentiment_model, translator)]
    assert result.spec.jit_compile and result.path.is_dir()
    print(f"XLA export of the tiny T_A run: {time.perf_counter() - start:.1f} s")


def test_exports_hold_no_xla_compiled_lstm_loops():
    """TF-Serving runs XLA on CPU only with its XLA flag: the graph variant must hold no
    XLA program, so looped LSTMs are served by Keras's loop (the same function)."""
    import keras

    from tfs2s.layers.xla_lstm import XlaLSTM
    from tfs2s.models.sentiment_regressor import SentimentRegressor

    keras.utils.set_random_seed(0)
    model = SentimentRegressor(3, 4, depth=2, xla_loops=True)
    served = export_mod.served_model(model, jit_compile=False)
    assert any(isinstance(x, XlaLSTM) for x in model._flatten_layers())
    assert not any(isinstance(x, XlaLSTM) for x in served._flatten_layers())
    x = {"sequence": np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")}
    x["mask"] = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "float32")
    for key, want in model(x).items():
        np.testing.assert_allclose(served(x)[key], want, atol=1e-5)
    assert export_mod.served_model(served, jit_compile=False) is served
