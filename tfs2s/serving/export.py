"""Export a trained run as a versioned TF-Serving SavedModel.

Layout (what ``tensorflow_model_server --model_base_path=<out>/<name>`` watches)::

    <out>/<name>/<version>/saved_model.pb
                           variables/
                           assets.extra/tf_serving_warmup_requests
                           assets.extra/tfs2s.json

Versions are integers, the next one is ``max(existing) + 1`` (1 for the first) and
an existing version is never overwritten. A version is written into a hidden
temporary directory beside its target (TF-Serving only loads directories named by
integers), checked, and renamed into place, so a reader never sees a partial version
and a failed export leaves nothing behind. The temporary directory's name records its
owner (host and process); an export that was killed leaves it behind, and the next
export into the same model directory removes it once that process is gone.

A version directory gets the permissions of the umask (like ``mkdir``), so a model
server running as another user can read it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tfs2s import modalities as M
from tfs2s.serving import DEFAULT_JIT_COMPILE
from tfs2s.serving.models_config import MODELS_CONFIG_FILE, versions
from tfs2s.serving.signatures import (
    ATTENTION,
    SERVING_DEFAULT,
    TRANSLATION,
    ServingModule,
    ServingSpec,
    spec_from_models,
)
from tfs2s.serving.warmup import (
    WARMUP_BATCH_SIZES,
    example_inputs,
    read_warmup,
    warmup_logs,
    write_warmup,
)

#: The export's self-description (:meth:`ServingSpec.to_json`), beside the warmup file.
METADATA_FILE = os.path.join("assets.extra", "tfs2s.json")

TMP_PREFIX = ".tmp-export-"

#: Most absolute difference allowed between the SavedModel and the Keras model.
VERIFY_ATOL = 1e-4


#: What a model name may hold (a directory, a models.config entry, a REST URL part).
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ExportError(RuntimeError):
    """The written SavedModel does not reproduce the Keras model."""


class RunDirectoryError(ValueError):
    """A run directory cannot be exported: missing, corrupt or inconsistent parts."""


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where an export went.

    Attributes:
        path: the version directory, ``<out>/<name>/<version>``.
        version: the integer version.
        spec: what it serves.
        seconds: wall-clock seconds of each export step (``trace``, ``save``,
            ``warmup``, ``verify_load``, ``verify_run``, ``total``; ``load_run`` when
            exported from a run directory), for the benchmark and the curious.
    """

    path: Path
    version: int
    spec: ServingSpec
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def next_version(model_dir: str | os.PathLike) -> int:
    """``max(existing) + 1``, or 1 when there is none."""
    found = versions(model_dir)
    return found[-1] + 1 if found else 1


def _publish(tmp: Path, model_dir: Path) -> int:
    """Rename ``tmp`` to the next free version; never replaces an existing one."""
    version = next_version(model_dir)
    while True:
        target = model_dir / str(version)
        # taken by a concurrent export (or a stray file) since we listed: try the next
        if not target.exists():
            try:
                os.rename(tmp, target)
                return version
            except OSError:
                if not target.exists():
                    raise
        version += 1


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks ("0" if unknown), so that a
    recycled pid is not mistaken for the owner of a temporary directory."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # the command name (field 2) may hold spaces; fields after it are plain
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def _make_tmp_dir(model_dir: Path) -> Path:
    """``model_dir/.tmp-export-<host>-<pid>-<start>-<random>``, created with the umask's
    permissions (``tempfile.mkdtemp`` would make it, and so the version, 0700)."""
    pid = os.getpid()
    while True:
        tag = f"{_host_tag()}-{pid}-{_process_start(pid)}-{secrets.token_hex(4)}"
        tmp = model_dir / f"{TMP_PREFIX}{tag}"
        try:
            tmp.mkdir(mode=0o777)
            return tmp
        except FileExistsError:
            continue


#: A temporary directory named without its owner (``mkdtemp``, by earlier tfs2s versions) is
#: taken as abandoned once it has not changed for this long; no export takes that long.
LEGACY_TMP_MAX_AGE_S = 3600.0


def _owner_alive(name: str, mtime: float | None = None) -> bool:
    """Whether the export owning temporary directory ``name`` may still be running."""
    parts = name[len(TMP_PREFIX) :].split("-")
    if len(parts) == 1 and mtime is not None:
        return time.time() - mtime < LEGACY_TMP_MAX_AGE_S
    if len(parts) != 4 or parts[0] != _host_tag() or not parts[1].isdigit():
        # another host's (a shared file system) or an unknown layout: cannot tell
        return True
    pid = int(parts[1])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    start = _process_start(pid)
    return start == "0" or parts[2] == "0" or start == parts[2]


def remove_stale_tmp_dirs(model_dir: str | os.PathLike) -> list[Path]:
    """Remove temporary export directories whose owner process is gone; return them.

    A directory of a live export (or one whose owner cannot be told, e.g. made on
    another host) is left alone.
    """
    removed = []
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return removed
    for entry in model_dir.iterdir():
        if not entry.name.startswith(TMP_PREFIX) or not entry.is_dir():
            continue
        try:
            mtime = entry.stat().st_mtime
        except OSError:
            continue  # removed meanwhile
        if not _owner_alive(entry.name, mtime):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def check_finite_weights(model, what: str) -> None:
    """Refuse a model holding NaN or inf weights (a diverged training).

    Raises:
        ExportError: naming the first such weight and how many values are non-finite.
    """
    from tfs2s.training.trained_model import nonfinite_weight

    found = nonfinite_weight(model)
    if found is not None:
        raise ExportError(
            f"{what}'s weight {found[0]!r} holds {found[1]} non-finite value(s) (NaN or "
            "inf): the training diverged; refusing to export it"
        )


def pad_steps(inputs: Mapping[str, np.ndarray], length: int) -> dict[str, np.ndarray]:
    """Zero-pad request arrays along steps to ``length``: what the signatures do in the graph."""
    return {
        k: np.pad(v, [(0, 0), (0, length - v.shape[1])] + [(0, 0)] * (v.ndim - 2))
        for k, v in inputs.items()
    }


def _check_request(spec: ServingSpec, signature: str, inputs: Mapping[str, np.ndarray]) -> str:
    """Why a warmup request does not fit its signature ("" if it fits)."""
    if signature not in spec.signature_names:
        return f"unknown signature {signature!r}"
    if set(inputs) != set(spec.input_names):
        return f"inputs {sorted(inputs)}, expected {sorted(spec.input_names)}"
    batch, steps = inputs[M.MASK].shape if inputs[M.MASK].ndim == 2 else (None, None)
    for name, x in inputs.items():
        shape = (batch, steps) if name == M.MASK else (batch, steps, spec.inputs[name])
        if x.dtype != np.float32 or x.shape != shape or not 1 <= steps <= spec.max_seq_len:
            return f"input {name!r} is {x.dtype} {x.shape}, expected {spec.expected(name)}"
    return ""


#: The verification requests: a full-length one and a short one whose batch is not a
#: power of two, both in the same XLA batch bucket (4), so each signature compiles once.
VERIFY_BATCHES: tuple[int, int] = (4, 3)


def verification_inputs(spec: ServingSpec) -> list[dict[str, np.ndarray]]:
    """The requests :func:`verify_export` runs through every signature.

    A full-length request (no step padding in the graph) and a short one (steps padded
    to ``max_seq_len``, and with XLA its batch of 3 padded to 4); segment lengths vary
    inside each, so masked steps are exercised too.
    """
    full, short = VERIFY_BATCHES
    return [
        example_inputs(spec.inputs, full, spec.max_seq_len, seed=0),
        example_inputs(spec.inputs, short, max(1, spec.max_seq_len // 2), seed=1),
    ]


def _keras_outputs(spec, signature, inputs, sentiment_model, translator) -> dict[str, np.ndarray]:
    """What ``signature`` must return for ``inputs``, from the Keras models."""
    padded = pad_steps(inputs, spec.max_seq_len)
    steps = inputs[M.MASK].shape[1]
    if signature == SERVING_DEFAULT:
        out = sentiment_model(padded, training=False)
        return {
            "sentiment": np.reshape(np.asarray(out["sentiment"]), [-1]),
            ATTENTION: np.asarray(out[ATTENTION])[:, :steps],
        }
    return {TRANSLATION: np.asarray(translator(padded, training=False)[TRANSLATION])[:, :steps]}


def verify_export(
    path: str | os.PathLike, spec: ServingSpec, sentiment_model, translator=None
) -> dict[str, float]:
    """Check the SavedModel at ``path`` before it is published.

    Every warmup request must fit its signature, and every signature must be exercised
    by one. The SavedModel is reloaded once and each signature runs the
    :func:`verification_inputs` (a full-length request and a short one of a batch that
    is not a power of two): its outputs must match the Keras models on the inputs padded
    to ``max_seq_len`` (``sentiment``, ``attention``, ``translation``), and
    ``attention`` must be 0 on padding and sum to 1 over the real steps. With XLA both
    requests fall in one batch bucket, so each signature compiles once here; the model
    server compiles the other buckets when it replays the warmup requests.

    Returns:
        Seconds spent reloading (``verify_load``) and running (``verify_run``).

    Raises:
        ExportError: a request does not fit, a signature fails or is not exercised by
            the warmup requests, or it differs from Keras by more than :data:`VERIFY_ATOL`.
    """
    import tensorflow as tf

    seen = set()
    for i, log in enumerate(read_warmup(path)):
        request = log.predict_log.request
        signature = request.model_spec.signature_name
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        problem = _check_request(spec, signature, inputs)
        if problem:
            raise ExportError(f"{path}: warmup request {i} does not fit: {problem}")
        seen.add(signature)
    missing = set(spec.signature_names) - seen
    if missing:
        raise ExportError(f"{path}: no warmup request exercises {sorted(missing)}")

    start = time.perf_counter()
    loaded = tf.saved_model.load(os.fspath(path))
    seconds = {"verify_load": round(time.perf_counter() - start, 3)}
    start = time.perf_counter()
    requests = verification_inputs(spec)
    try:
        functions = {name: loaded.signatures[name] for name in spec.signature_names}
    except KeyError as e:
        raise ExportError(f"{path}: signature {e} is missing") from e

    def serve(signature):
        fn = functions[signature]
        return [
            {k: v.numpy() for k, v in fn(**{n: tf.constant(a) for n, a in x.items()}).items()}
            for x in requests
        ]

    # Each signature's first call compiles its XLA program (seconds, single-threaded):
    # the signatures compile side by side while this thread computes the Keras outputs.
    with concurrent.futures.ThreadPoolExecutor(len(functions)) as pool:
        served = {name: pool.submit(serve, name) for name in functions}
        wanted = {
            name: [_keras_outputs(spec, name, x, sentiment_model, translator) for x in requests]
            for name in functions
        }
        for signature, future in served.items():
            try:
                results = future.result()
            except tf.errors.OpError as e:
                raise ExportError(f"{path}: signature {signature!r} fails: {e}") from e
            for inputs, want, got in zip(requests, wanted[signature], results, strict=True):
                _compare(path, signature, inputs, want, got)
    seconds["verify_run"] = round(time.perf_counter() - start, 3)
    return seconds


def _compare(path, signature, inputs, want, got) -> None:
    """Raise :class:`ExportError` unless ``got`` matches the Keras outputs ``want``."""
    for name, value in want.items():
        if name not in got:
            raise ExportError(f"{path}: signature {signature!r} has no output {name!r}")
        err = (
            float(np.max(np.abs(got[name] - value), initial=0.0))
            if got[name].shape == value.shape
            else np.inf
        )
        if not err <= VERIFY_ATOL:
            raise ExportError(
                f"{path}: signature {signature!r} output {name!r} differs from the Keras model "
                f"by {err:.3g} (allowed {VERIFY_ATOL}) on inputs of shape "
                f"{inputs[M.MASK].shape} (got {got[name].shape}, Keras {value.shape})"
            )
    if ATTENTION in want:
        _check_attention(path, got[ATTENTION], inputs[M.MASK])


def _check_attention(path, attention: np.ndarray, mask: np.ndarray) -> None:
    """``attention`` is exactly 0 on padding and sums to 1 over the real steps."""
    on_padding = float(np.max(np.abs(attention[mask == 0]), initial=0.0))
    total = float(np.max(np.abs(attention.sum(axis=1) - 1.0), initial=0.0))
    if on_padding != 0.0 or not total <= VERIFY_ATOL:
        raise ExportError(
            f"{path}: serving_default output {ATTENTION!r} must be 0 on padding and sum to 1 "
            f"over the real steps; found up to {on_padding:.3g} on padding, sums off by "
            f"{total:.3g}"
        )


def export_models(
    spec: ServingSpec,
    sentiment_model,
    translator=None,
    *,
    out: str | os.PathLike = "serving",
    name: str = "tfs2s",
    warmup_batch_sizes: Sequence[int] = WARMUP_BATCH_SIZES,
    verify: bool = True,
) -> ExportResult:
    """Write ``out/name/<next version>`` from Keras models described by ``spec``.

    Args:
        spec: what is served (:func:`~tfs2s.serving.signatures.spec_from_models`).
        sentiment_model: Keras model ``{modalities..., "mask"} -> {"sentiment", "attention"}``.
        translator: Keras model ``{sources..., "mask"} -> {"translation"}`` (seq2seq).
        out: the serving root (the directory mounted into the model server).
        name: the model name; its versions live in ``out/name``.
        warmup_batch_sizes: batch sizes of the warmup requests.
        verify: reload the SavedModel and check it against the Keras models first.

    Raises:
        ExportError: a model holds non-finite weights (checked even without ``verify``),
            or the SavedModel fails :func:`verify_export`; nothing is published.
    """
    import tensorflow as tf

    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(f"model name {name!r} must be a single path component")
    if not MODEL_NAME.fullmatch(name) or name == MODELS_CONFIG_FILE:
        # It is a directory, a models.config entry and a part of REST URLs: plain
        # characters only, and not the name of the file `tfs2s models-config` writes there.
        raise ValueError(
            f"model name {name!r}: expected letters, digits, '_', '-' and '.', starting with a "
            f"letter or digit, and not {MODELS_CONFIG_FILE!r}"
        )
    seconds: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = round(now - clock, 3)
        clock = now

    # Checked even without verify: a NaN model would serve a confident label for anything.
    check_finite_weights(sentiment_model, "the sentiment model")
    if translator is not None:
        check_finite_weights(translator, "the translator")
    # XLA compiles an LSTM loop in a fraction of the time of its unrolled steps, and runs
    # it faster (embed_AV_T, poster run: export 21 s -> 4 s, p50 0.83 -> 0.68 ms); the
    # verification below still compares with the models as trained.
    served = tuple(
        None if m is None else served_model(m, spec.jit_compile)
        for m in (sentiment_model, translator)
    )
    module = ServingModule(spec, *served)
    lap("trace")
    model_dir = Path(out) / name
    created = not model_dir.exists()
    model_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp_dirs(model_dir)
    tmp = _make_tmp_dir(model_dir)
    try:
        tf.saved_model.save(module, os.fspath(tmp), signatures=module.signature_functions())
        lap("save")
        write_warmup(tmp, warmup_logs(spec, name, warmup_batch_sizes))
        (tmp / METADATA_FILE).write_text(spec.to_json() + "\n")
        lap("warmup")
        if verify:
            checked = translator if module.translator is not None else None
            seconds.update(verify_export(tmp, spec, sentiment_model, checked))
            clock = time.perf_counter()
        version = _publish(tmp, model_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(model_dir.iterdir()):
            model_dir.rmdir()
        raise
    seconds["total"] = round(time.perf_counter() - start, 3)
    return ExportResult(model_dir / str(version), version, spec, seconds)


def _loopable(config) -> bool:
    """False when a nested Keras config holds an unrolled encoder saved before
    ``exact_backward_mask``: as loops it would compute another function on padded steps
    (see :class:`~tfs2s.models.sequence_encoder.SequenceEncoder`)."""
    if isinstance(config, dict):
        if (
            config.get("unroll") is True
            and config.get("bidirectional") is True
            and not config.get("exact_backward_mask", False)
        ):
            return False
        return all(_loopable(value) for value in config.values())
    if isinstance(config, list):
        return all(_loopable(value) for value in config)
    return True


def _switched_off(config, key: str) -> bool:
    """Set every ``key: True`` in a nested Keras config to False; whether one was True."""
    changed = False
    if isinstance(config, dict):
        for name, value in config.items():
            if name == key and value is True:
                config[name] = False
                changed = True
            else:
                changed |= _switched_off(value, key)
    elif isinstance(config, list):
        for value in config:
            changed |= _switched_off(value, key)
    return changed


def served_model(model, jit_compile: bool):
    """``model`` as an export serves it, rebuilt once at most: its looped LSTMs run by
    Keras's while loop, not an XLA-compiled one (``xla_loops``: a SavedModel holds no XLA
    program of its own; TF-Serving runs XLA on CPU only when started with its XLA flag,
    and in the XLA variant the loops are compiled with the rest anyway); with
    ``jit_compile``, its unrolled LSTMs as loops too (the same function, a smaller graph
    that XLA compiles faster), unless an encoder was saved before ``exact_backward_mask``
    (its unrolled function differs from the loop's on padded steps)."""
    config = model.get_config()
    keys = ("xla_loops", "unroll") if jit_compile and _loopable(config) else ("xla_loops",)
    # a list, not a generator: every key is switched off, not only up to the first found
    if not any([_switched_off(config, key) for key in keys]):
        return model
    from tfs2s.training.trained_model import rebuilt

    return rebuilt(model, config)


def _translator_for(trained, topology):
    """The translator serving ``translate``: the one reading the inference modalities."""
    wanted = set(topology.inference_modalities) | {M.MASK}
    for translator in reversed(list(getattr(trained, "translators", None) or [])):
        if set(translator.input) == wanted:
            return translator
    return None


def _target_dims(translator) -> dict[str, int] | None:
    """Feature size of each target of a ``ModalityTranslator`` (from its train statistics)."""
    targets = getattr(translator, "targets", None)
    stats = getattr(translator, "norm_stats", None)
    if not targets or not isinstance(stats, Mapping):
        return None
    return {name: len(stats[name]["mean"]) for name in targets if name in stats}


def export_trained(
    trained, max_seq_len: int, *, jit_compile: bool = DEFAULT_JIT_COMPILE, **kwargs
) -> ExportResult:
    """Export a :class:`~tfs2s.training.fit.TrainedModel`.

    Args:
        trained: the trained models (``topology``, ``sentiment_model``, ``translators``).
        max_seq_len: the run's ``data.max_seq_len``.
        jit_compile: XLA-compile the models (:attr:`ServingSpec.jit_compile`).
        **kwargs: passed to :func:`export_models` (``out``, ``name``, ``verify``, ...).
    """
    topology = trained.topology
    translator = _translator_for(trained, topology)
    if translator is None and not topology.is_baseline:
        found = [sorted(t.input) for t in getattr(trained, "translators", None) or []]
        raise ValueError(
            f"topology {topology.name} serves translate, but none of its translators reads "
            f"{sorted([*topology.inference_modalities, M.MASK])}; found {found}"
        )
    spec = spec_from_models(
        trained.topology,
        trained.sentiment_model,
        translator,
        max_seq_len=max_seq_len,
        target_dims=_target_dims(translator),
        jit_compile=jit_compile,
    )
    return export_models(spec, trained.sentiment_model, translator, **kwargs)


#: What a run directory must hold to be exported (translators as listed in trained.json).
PARAMS_FILE = "params.yaml"


def _read_keras(path: Path):
    """Load one ``.keras`` file, turning any failure into one line naming it."""
    import keras

    if not path.is_file():
        raise RunDirectoryError(
            f"{path} does not exist; the run is unfinished or was not written by `tfs2s train`"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
        if broken is not None:
            raise zipfile.BadZipFile(f"member {broken!r} fails its checksum")
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise RunDirectoryError(f"{path} is corrupt: not a readable Keras archive ({e})") from e
    try:
        return keras.saving.load_model(path)
    except Exception as e:  # noqa: BLE001 - any failure inside Keras' loader means the same
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunDirectoryError(f"{path} is corrupt: Keras cannot load it ({reason})") from e


def load_run(run_dir: str | os.PathLike):
    """Load a finished run for export, checking that its parts belong together.

    ``trained.json`` (written with the models) names the topology and the model and
    training configs; ``params.yaml`` must record the same ones, since it is the only
    record of ``data.max_seq_len``. The models' feature sizes must agree with each
    other and with their train statistics.

    Returns:
        (the :class:`~tfs2s.training.fit.TrainedModel`, ``max_seq_len``).

    Raises:
        RunDirectoryError: a part is missing, corrupt, or disagrees with another.
    """
    from tfs2s.config import load_yaml
    from tfs2s.topology import parse_topology
    from tfs2s.training.trained_model import METADATA_FILE as TRAINED_FILE
    from tfs2s.training.trained_model import (
        SENTIMENT_FILE,
        TrainedModel,
        records_disagreement,
        translator_file,
    )

    run_dir = Path(run_dir)
    params_path, trained_path = run_dir / PARAMS_FILE, run_dir / TRAINED_FILE
    for path in (params_path, trained_path):
        if not path.is_file():
            raise RunDirectoryError(
                f"{path} does not exist; expected a finished run directory written by `tfs2s train`"
            )
    try:
        cfg = load_yaml(params_path)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise RunDirectoryError(f"{params_path} cannot be read: {e}") from e
    try:
        meta = json.loads(trained_path.read_text())
        recorded = {
            "topology": parse_topology(meta["topology"]).name,
            "model": meta["model"],
            "train": meta["train"],
            "translators": int(meta["translators"]),
        }
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise RunDirectoryError(f"{trained_path} is corrupt: {e}") from e
    detail = records_disagreement(cfg, meta)
    if detail:
        raise RunDirectoryError(
            f"{run_dir}: {PARAMS_FILE} and {TRAINED_FILE} disagree ({detail}); the "
            "directory mixes two runs: train it again with --overwrite"
        )
    sentiment = _read_keras(run_dir / SENTIMENT_FILE)
    translators = [
        _read_keras(run_dir / translator_file(i)) for i in range(recorded["translators"])
    ]
    trained = TrainedModel(
        topology=parse_topology(recorded["topology"]),
        model_cfg=cfg.model,
        train_cfg=cfg.train,
        sentiment_model=sentiment,
        translators=translators,
        history=meta.get("history", []),
    )
    _check_dims(run_dir, trained)
    return trained, cfg.data.max_seq_len


def _check_dims(run_dir: Path, trained) -> None:
    """The models' input feature sizes agree with each other and their statistics."""
    from tfs2s.training.trained_model import SENTIMENT_FILE, translator_file

    def dims(model):
        structure = model.input if isinstance(model.input, Mapping) else {}
        return {k: int(v.shape[-1]) for k, v in structure.items() if k != M.MASK}

    def stats_dims(model):
        stats = getattr(model, "norm_stats", None)
        if not isinstance(stats, Mapping):
            return {}
        return {k: len(v["mean"]) for k, v in stats.items()}

    files = {SENTIMENT_FILE: trained.sentiment_model}
    files.update({translator_file(i): t for i, t in enumerate(trained.translators)})
    seen: dict[str, tuple[int, str]] = {}
    for file, model in files.items():
        for source in (dims(model), stats_dims(model)):
            for name, dim in source.items():
                if name in seen and seen[name][0] != dim:
                    raise RunDirectoryError(
                        f"{run_dir}: {file} reads {name} with {dim} features but "
                        f"{seen[name][1]} with {seen[name][0]}; the directory mixes two runs"
                    )
                seen.setdefault(name, (dim, file))
    wanted = set(trained.topology.inference_modalities)
    found = set(dims(trained.sentiment_model))
    if found != wanted:
        raise RunDirectoryError(
            f"{run_dir}: {SENTIMENT_FILE} reads {sorted(found)} but topology "
            f"{trained.topology.name} reads {sorted(wanted)} at inference"
        )


def export_run(run_dir: str | os.PathLike, **kwargs) -> ExportResult:
    """Export the finished run in ``run_dir`` for TF-Serving (see :func:`load_run`).

    ``kwargs`` go to :func:`export_trained` (``out``, ``name``, ``jit_compile``, ...).

    Raises:
        RunDirectoryError: the run directory is missing, corrupt or inconsistent.
        ExportError: the model holds non-finite weights, or the SavedModel fails its check.
    """
    start = time.perf_counter()
    trained, max_seq_len = load_run(run_dir)
    loaded = round(time.perf_counter() - start, 3)
    try:
        result = export_trained(trained, max_seq_len, **kwargs)
    except ExportError as e:
        raise ExportError(f"{run_dir}: {e}") from e
    result.seconds["load_run"] = loaded
    result.seconds["total"] = round(time.perf_counter() - start, 3)
    return result
