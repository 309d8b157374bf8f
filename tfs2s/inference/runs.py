"""Open a finished run directory, or an exported SavedModel version, for inference.

A training run directory holds ``params.yaml`` (the resolved config) and ``model.keras``
(the sentiment model, with its own normalisation statistics). A directory with
``params.yaml`` but no ``model.keras`` is a run that was killed or is still training:
it is refused, never half-used. An exported SavedModel version
(``serving/<name>/<version>``, written by ``tfs2s export``) describes itself in
``assets.extra/tfs2s.json`` and is scored through its ``serving_default`` signature.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfs2s import modalities as M
from tfs2s.config import DataConfig, RunConfig, apply_overrides, load_yaml
from tfs2s.topology import Topology, parse_topology
from tfs2s.training.trained_model import SENTIMENT_FILE as MODEL_FILE

PARAMS_FILE = "params.yaml"
SAVED_MODEL_FILE = "saved_model.pb"
SERVING_METADATA = Path("assets.extra") / "tfs2s.json"
#: The sentiment model's (and ``serving_default``'s) per-step attention output:
#: float32 (batch, steps), summing to 1 over the real steps, 0 on padding.
ATTENTION = "attention"


@dataclasses.dataclass
class TrainedRun:
    """A trained sentiment model and what it was trained with.

    Attributes:
        path: the run directory or SavedModel version directory.
        topology: the parsed topology.
        max_seq_len: padded steps the model was trained on.
        dims: modality name -> feature size, of every modality read at inference.
        data: the run's data config (``DataConfig()`` with ``max_seq_len`` for a
            SavedModel, which does not record its data).
        eval_batch_size: batch size the run was evaluated with.
        model: the Keras sentiment model (None for a SavedModel).
        signature: the ``serving_default`` concrete function (None for a Keras run).
        seed: the training seed (None for a SavedModel).
    """

    path: Path
    topology: Topology
    max_seq_len: int
    dims: dict[str, int]
    data: DataConfig
    eval_batch_size: int
    model: Any = None
    signature: Any = None
    seed: int | None = None

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def inference_modalities(self) -> tuple[str, ...]:
        return self.topology.inference_modalities

    @property
    def training_modalities(self) -> tuple[str, ...]:
        return self.topology.training_modalities

    @property
    def is_saved_model(self) -> bool:
        return self.signature is not None

    def norm_stats(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The train statistics the model normalises with (Keras runs only)."""
        if self.model is None:
            raise ValueError(f"{self.path}: a SavedModel does not expose its normalisation")
        return {
            name: (np.asarray(s["mean"], np.float32), np.asarray(s["variance"], np.float32))
            for name, s in self.model.norm_stats.items()
        }

    def check_source(self, source, extra: Sequence[str] = ()) -> None:
        """Refuse a source lacking a modality the model reads or of another feature size.

        Args:
            source: a :class:`~tfs2s.data.pipeline.DataSource`.
            extra: further modalities that must be present (e.g. for a corruption study),
                checked for size too when the model knows their size.

        Raises:
            ValueError: naming the run, the modality, the expected and the found size.
        """
        needed = list(dict.fromkeys([*self.inference_modalities, *extra]))
        # A SavedModel records no data: without --data the built-in data is read.
        hint = (
            "; a SavedModel does not record the data it was trained on: name it with --data "
            "(and --data-map)"
            if self.is_saved_model and str(source.source).startswith("synthetic")
            else ""
        )
        missing = [n for n in needed if n not in source.dims]
        if missing:
            raise ValueError(
                f"run {self.path} ({self.topology.name}) reads {list(needed)} but the data "
                f"({source.source}) has only {list(source.modalities)}; missing: {missing}{hint}"
            )
        for name, dim in self.dims.items():
            if source.dims[name] != dim:
                raise ValueError(
                    f"run {self.path} ({self.topology.name}): modality {name!r} has "
                    f"{source.dims[name]} features in the data ({source.source}) but the model "
                    f"expects {dim}{hint}"
                )
        if source.max_seq_len != self.max_seq_len:
            raise ValueError(
                f"run {self.path} was trained with max_seq_len={self.max_seq_len} but the data "
                f"({source.source}) has {source.max_seq_len} steps per segment"
            )

    def predict_batch(self, features: Mapping[str, Any], attention: bool = False) -> dict:
        """Score one batch.

        Args:
            features: ``{modality: float32 (batch, steps, dim), "mask": (batch, steps)}``;
                modalities the model does not read are ignored.
            attention: also return the regressor's attention weights.

        Returns:
            ``{"sentiment": float32 (batch,)}`` and, with ``attention``,
            ``"attention": float32 (batch, steps)``, zero on padding.
        """
        inputs = {k: features[k] for k in (*self.inference_modalities, M.MASK)}
        if self.signature is not None:
            out = self.signature(**inputs)
        else:
            out = self.model.predict_on_batch(inputs)
        result = {"sentiment": np.asarray(out["sentiment"], np.float32).reshape(-1)}
        if attention:
            if ATTENTION not in out:
                raise ValueError(
                    f"{self.path}: the model has no {ATTENTION!r} output (exported by an older "
                    "tfs2s); export the run again, or explain the run directory"
                )
            result[ATTENTION] = np.asarray(out[ATTENTION], np.float32)
        return result


def open_run(path: str | Path) -> TrainedRun:
    """Open a finished run directory or an exported SavedModel version directory.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds neither kind of artefact.
        ValueError: a half-written run (``params.yaml`` without ``model.keras``).
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(
            f"run directory {path} does not exist; expected a directory written by "
            "`tfs2s train` or an exported SavedModel version (serving/<name>/<version>)"
        )
    if (path / SAVED_MODEL_FILE).is_file():
        return _open_saved_model(path)
    if not (path / PARAMS_FILE).is_file():
        raise FileNotFoundError(
            f"{path} is not a run directory: it has no {PARAMS_FILE} (nor {SAVED_MODEL_FILE})"
        )
    if not (path / MODEL_FILE).is_file():
        raise ValueError(
            f"{path} is a half-written run: it has {PARAMS_FILE} but no {MODEL_FILE} (training "
            "was killed or is still running); train it to the end first"
        )
    cfg = load_yaml(path / PARAMS_FILE)
    return _open_keras(path, cfg)


def _open_keras(path: Path, cfg: RunConfig) -> TrainedRun:
    import keras

    import tfs2s.models  # noqa: F401  (registers the serializable classes)
    from tfs2s.training.trained_model import (
        METADATA_FILE,
        nonfinite_weight,
        records_disagreement,
    )

    # The parts must come from one run: params.yaml (the only record of the data shape),
    # trained.json and model.keras are written by the same training, and a folder that
    # mixes two runs would score with one run's model under another's settings.
    try:
        detail = records_disagreement(cfg, json.loads((path / METADATA_FILE).read_text()))
    except FileNotFoundError:
        raise ValueError(
            f"{path} is a half-written run: it has {MODEL_FILE} but no {METADATA_FILE}; "
            "train it again with --overwrite"
        ) from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{path / METADATA_FILE} is corrupt: {e}") from None
    if detail:
        raise ValueError(
            f"{path}: {PARAMS_FILE} and {METADATA_FILE} disagree ({detail}); the directory "
            "mixes two runs: train it again with --overwrite"
        )
    model = keras.saving.load_model(path / MODEL_FILE, compile=False)
    topology = parse_topology(cfg.topology)
    dims = {k: int(v.shape[-1]) for k, v in model.input.items() if k != M.MASK}
    if set(dims) != set(topology.inference_modalities):
        raise ValueError(
            f"{path / MODEL_FILE} reads {sorted(dims)} but {PARAMS_FILE}'s topology "
            f"{topology.name} reads {sorted(topology.inference_modalities)}; the directory "
            "mixes two runs: train it again with --overwrite"
        )
    bad = nonfinite_weight(model)
    if bad is not None:
        raise ValueError(
            f"{path / MODEL_FILE}: weight {bad[0]!r} holds {bad[1]} non-finite value(s) (NaN "
            "or inf), so every score would be meaningless: the training diverged; train it "
            "again (e.g. with a lower train.learning_rate)"
        )
    # Compiled as training compiled it, so predictions (and metrics) are bit-identical.
    model.compile(jit_compile=cfg.train.jit_compile)
    return TrainedRun(
        path=path,
        topology=topology,
        max_seq_len=cfg.data.max_seq_len,
        dims=dims,
        data=cfg.data,
        eval_batch_size=cfg.train.eval_batch_size,
        model=model,
        seed=cfg.train.seed,
    )


def _open_saved_model(path: Path) -> TrainedRun:
    import tensorflow as tf

    meta_path = path / SERVING_METADATA
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{path} holds a SavedModel without {SERVING_METADATA}; expected a version "
            "directory written by `tfs2s export`"
        )
    meta = json.loads(meta_path.read_text())
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["serving_default"]
    max_seq_len = int(meta["max_seq_len"])
    return TrainedRun(
        path=path,
        topology=parse_topology(meta["topology"]),
        max_seq_len=max_seq_len,
        dims={k: int(v) for k, v in meta["inputs"].items()},
        data=DataConfig(max_seq_len=max_seq_len),
        eval_batch_size=RunConfig().train.eval_batch_size,
        signature=_keep_alive(signature, loaded),
    )


def _keep_alive(signature, loaded):
    """A concrete function that holds its SavedModel (whose variables it reads)."""

    def call(**inputs):
        return signature(**inputs)

    call.saved_model = loaded
    return call


def data_config(run: TrainedRun, overrides: Mapping[str, Any]) -> DataConfig:
    """The run's own data config with the command's data options applied.

    A new ``data.path`` starts from the default file map and folds (the run's belong to
    its own data); ``max_seq_len`` and ``truncate`` stay the run's: the model was trained
    on segments of that shape.

    Args:
        run: the opened run.
        overrides: dotted ``data.*`` keys, e.g. ``{"data.path": "mosi-lite"}``.
    """
    bad = [k for k in overrides if not k.startswith("data.")]
    if bad:
        raise ValueError(f"only data.* settings apply to a trained run, found {bad}")
    base = dataclasses.asdict(run.data)
    if "data.path" in overrides and overrides["data.path"] != run.data.path:
        base.update(data_map=None, folds=None)
    if overrides.get("data.max_seq_len", run.max_seq_len) != run.max_seq_len:
        raise ValueError(
            f"data.max_seq_len: run {run.path} was trained with {run.max_seq_len} steps, "
            f"found {overrides['data.max_seq_len']}"
        )
    cfg = apply_overrides(RunConfig(data=DataConfig(**base)), dict(overrides))
    return cfg.data


def load_run_source(run: TrainedRun, overrides: Mapping[str, Any], extra: Sequence[str] = ()):
    """The :class:`DataSource` the options name, checked against ``run``."""
    from tfs2s.data.sources import load_source

    source = load_source(data_config(run, overrides))
    run.check_source(source, extra)
    return source
