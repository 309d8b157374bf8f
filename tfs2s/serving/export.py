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
and a failed export leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tfs2s import modalities as M
from tfs2s.serving import DEFAULT_JIT_COMPILE
from tfs2s.serving.models_config import versions
from tfs2s.serving.signatures import (
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


class ExportError(RuntimeError):
    """The written SavedModel does not reproduce the Keras model."""


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where an export went.

    Attributes:
        path: the version directory, ``<out>/<name>/<version>``.
        version: the integer version.
        spec: what it serves.
    """

    path: Path
    version: int
    spec: ServingSpec


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


def verify_export(path: str | os.PathLike, spec: ServingSpec, sentiment_model, translator=None):
    """Check the SavedModel at ``path`` before it is published.

    Every warmup request must fit its signature; each signature runs its smallest and
    largest warmup batch and a short request whose batch is not a power of two, and must
    match the Keras models on them (given the inputs padded to ``max_seq_len``). Not
    every warmup request is run: with XLA each batch size compiles, and they only
    differ in batch size.

    Raises:
        ExportError: a request does not fit, a signature fails or is not exercised by
            the warmup requests, or it differs from Keras by more than :data:`VERIFY_ATOL`.
    """
    import tensorflow as tf

    requests: dict[str, list[dict[str, np.ndarray]]] = {}
    for i, log in enumerate(read_warmup(path)):
        request = log.predict_log.request
        signature = request.model_spec.signature_name
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        problem = _check_request(spec, signature, inputs)
        if problem:
            raise ExportError(f"{path}: warmup request {i} does not fit: {problem}")
        requests.setdefault(signature, []).append(inputs)
    missing = set(spec.signature_names) - set(requests)
    if missing:
        raise ExportError(f"{path}: no warmup request exercises {sorted(missing)}")

    loaded = tf.saved_model.load(os.fspath(path))
    short = example_inputs(spec.inputs, 3, max(1, spec.max_seq_len // 2), seed=1)
    for signature, found in requests.items():
        found.sort(key=lambda x: x[M.MASK].shape[0])
        for inputs in (found[0], found[-1], short):
            padded = pad_steps(inputs, spec.max_seq_len)
            if signature == SERVING_DEFAULT:
                name = "sentiment"
                want = np.reshape(sentiment_model(padded, training=False)[name], [-1])
            else:
                name = TRANSLATION
                steps = inputs[M.MASK].shape[1]
                want = np.asarray(translator(padded, training=False)[name])[:, :steps]
            try:
                fn = loaded.signatures[signature]
                got = fn(**{k: tf.constant(v) for k, v in inputs.items()})[name].numpy()
            except (KeyError, tf.errors.OpError) as e:
                raise ExportError(f"{path}: signature {signature!r} fails: {e}") from e
            err = (
                float(np.max(np.abs(got - want), initial=0.0))
                if got.shape == want.shape
                else np.inf
            )
            if not err <= VERIFY_ATOL:
                raise ExportError(
                    f"{path}: signature {signature!r} output {name!r} differs from the Keras "
                    f"model by {err:.3g} (allowed {VERIFY_ATOL}) on inputs of shape "
                    f"{inputs[M.MASK].shape} (got {got.shape}, Keras {want.shape})"
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
    """
    import tensorflow as tf

    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(f"model name {name!r} must be a single path component")
    module = ServingModule(spec, sentiment_model, translator)
    model_dir = Path(out) / name
    created = not model_dir.exists()
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=model_dir))
    try:
        tf.saved_model.save(module, os.fspath(tmp), signatures=module.signature_functions())
        write_warmup(tmp, warmup_logs(spec, name, warmup_batch_sizes))
        (tmp / METADATA_FILE).write_text(spec.to_json() + "\n")
        if verify:
            verify_export(tmp, spec, sentiment_model, module.translator)
        version = _publish(tmp, model_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(model_dir.iterdir()):
            model_dir.rmdir()
        raise
    return ExportResult(model_dir / str(version), version, spec)


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


def export_run(run_dir: str | os.PathLike, **kwargs) -> ExportResult:
    """Export the run in ``run_dir`` (``params.yaml`` + saved models) for TF-Serving.

    ``kwargs`` go to :func:`export_trained` (``out``, ``name``, ``jit_compile``, ...).
    """
    from tfs2s.config import load_yaml
    from tfs2s.training.fit import TrainedModel

    run_dir = Path(run_dir)
    params = run_dir / "params.yaml"
    if not params.is_file():
        raise FileNotFoundError(
            f"{params} does not exist; expected a run directory written by `tfs2s train`"
        )
    cfg = load_yaml(params)
    trained = TrainedModel.load(os.fspath(run_dir))
    return export_trained(trained, cfg.data.max_seq_len, **kwargs)
