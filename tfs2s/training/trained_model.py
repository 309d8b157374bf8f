"""The result of training one topology, and its files in a run directory.

:meth:`TrainedModel.save` writes ``model.keras`` (the servable sentiment model),
``translator.keras`` (the greedy translator, seq2seq topologies only) and
``trained.json`` (topology, configs, per-epoch history); :meth:`TrainedModel.load`
reads them back.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

# Model files name the tfs2s classes: importing the package registers them with Keras.
import tfs2s.models  # noqa: F401
from tfs2s.config import ModelConfig, TrainConfig
from tfs2s.topology import Topology, parse_topology

SENTIMENT_FILE = "model.keras"
TRANSLATOR_FILE = "translator.keras"
METADATA_FILE = "trained.json"


@dataclasses.dataclass
class TrainedModel:
    """The result of training one topology.

    Attributes:
        topology: the parsed topology.
        model_cfg: sizes the models were built with.
        train_cfg: how they were trained.
        sentiment_model: ``{inference modalities..., "mask"} -> {"sentiment": (batch,)}``,
            reading the source modalities only (``embed_XY_Z``: X only); compiled with
            the MAE loss, so ``evaluate`` and ``predict`` run compiled.
        translators: greedy inference translators ``{sources..., "mask"} ->
            {"translation": (batch, steps, target dims)}`` in the raw target scale, of the
            final target (``embed_XY_Z``: X to Z through both encoders); empty for
            baselines.
        history: one row per phase and epoch: ``{"phase", "epoch", "loss", "val_loss"}``
            (``val_loss`` is None without a valid split).
        max_seq_len: padded steps of the data it was trained on (recorded in
            ``trained.json`` so that an export reads it from the model, not the config).
    """

    topology: Topology
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    sentiment_model: keras.Model
    translators: list[keras.Model]
    history: list[dict[str, Any]]
    max_seq_len: int | None = None

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``model.keras``, ``translator.keras`` (if any) and ``trained.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        rebuilt(self.sentiment_model).save(directory / SENTIMENT_FILE)
        for i, translator in enumerate(self.translators):
            rebuilt(translator).save(directory / translator_file(i))
        metadata = {
            "topology": self.topology.name,
            "model": dataclasses.asdict(self.model_cfg),
            "train": dataclasses.asdict(self.train_cfg),
            "translators": len(self.translators),
            "history": self.history,
        }
        if self.max_seq_len is not None:
            metadata["data"] = {"max_seq_len": self.max_seq_len}
        (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=1))
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TrainedModel:
        """Load what :meth:`save` wrote."""
        directory = Path(directory)
        meta_path = directory / METADATA_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(
                f"{meta_path} does not exist; expected a directory written by TrainedModel.save"
            )
        metadata = json.loads(meta_path.read_text())
        return cls(
            topology=parse_topology(metadata["topology"]),
            model_cfg=ModelConfig(**metadata["model"]),
            train_cfg=TrainConfig(**metadata["train"]),
            sentiment_model=keras.saving.load_model(directory / SENTIMENT_FILE),
            translators=[
                keras.saving.load_model(directory / translator_file(i))
                for i in range(metadata["translators"])
            ],
            history=metadata["history"],
            max_seq_len=metadata.get("data", {}).get("max_seq_len"),
        )


def rebuilt(model: keras.Model, config: dict | None = None) -> keras.Model:
    """An uncompiled copy of ``model`` built from ``config`` (default: its own) with its
    weights: an artefact holding no optimizer state or loss, or a variant of the model."""
    copy = model.__class__.from_config(model.get_config() if config is None else config)
    copy.set_weights(model.get_weights())
    return copy


def translator_file(index: int) -> str:
    return TRANSLATOR_FILE if index == 0 else f"translator_{index}.keras"


def nonfinite_weight(model: keras.Model) -> tuple[str, int] | None:
    """The path of the first weight of ``model`` holding NaN or inf, and how many such
    values it holds (a diverged training); None when every weight is finite."""
    for weight in model.weights:
        value = np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight)
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        if bad:
            return weight.path, bad
    return None


def records_disagreement(cfg, meta: dict[str, Any]) -> str:
    """How a run's ``params.yaml`` (``cfg``, a :class:`~tfs2s.config.RunConfig`) and its
    ``trained.json`` (``meta``, written with the models) disagree: ``""`` when they record
    the same run, else the first differing settings (``found vs recorded``).

    Raises:
        KeyError, TypeError, ValueError: ``meta`` lacks or garbles a record.
    """
    recorded = {
        "topology": parse_topology(meta["topology"]).name,
        "model": meta["model"],
        "train": meta["train"],
    }
    params = {
        "topology": parse_topology(cfg.topology).name,
        "model": _as_json(dataclasses.asdict(cfg.model)),
        "train": _as_json(dataclasses.asdict(cfg.train)),
    }
    # The data settings the models depend on, where the run records them with the models
    # (``params.yaml`` is otherwise the only record of ``max_seq_len``).
    data = meta.get("data")
    if isinstance(data, dict):
        recorded["data"] = dict(data)
        all_data = _as_json(dataclasses.asdict(cfg.data))
        params["data"] = {k: all_data.get(k) for k in data}
    for key, want in recorded.items():
        want, found = _as_json(want), params[key]
        if isinstance(want, dict) and isinstance(found, dict):
            # Settings added to the config after the run was trained are absent from its
            # trained.json (and take their defaults when it is loaded): compare the rest.
            diff = sorted(k for k in want if want[k] != found.get(k))
            detail = ", ".join(f"{key}.{k}: {found.get(k)!r} vs {want[k]!r}" for k in diff[:3])
        else:
            detail = "" if want == found else f"{found!r} vs {want!r}"
        if detail:
            return detail
    return ""


def _as_json(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))
