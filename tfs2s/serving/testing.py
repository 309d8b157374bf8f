"""Test helpers for :mod:`tfs2s.serving`: stand-in models and a model server's view.

:func:`stand_in_models` builds untrained Keras functional models with the exact
interface of a trained run (dict inputs ``{modalities..., "mask"}``, outputs
``{"sentiment", "attention"}`` / ``{"translation"}``) in milliseconds, for unit tests of the
signatures. The end-to-end export tests read the one tiny trained run of
:mod:`tfs2s.inference.testing`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from tfs2s import modalities as M
from tfs2s.topology import Topology, parse_topology

#: Tiny feature sizes for stand-in models (the real ones are :data:`~tfs2s.modalities.PAPER_DIMS`).
TINY_DIMS: dict[str, int] = {"text": 6, "audio": 5, "video": 3}


@dataclasses.dataclass
class StandIn:
    """What :meth:`TrainedModel.load` returns, with untrained stand-in models.

    Attributes:
        topology: the parsed topology.
        sentiment_model: ``{inference modalities..., "mask"} -> {"sentiment": (batch,),
            "attention": (batch, steps)}``.
        translators: ``[{sources..., "mask"} -> {"translation": (batch, L, target_dim)}]``;
            empty for baselines.
    """

    topology: Topology
    sentiment_model: Any
    translators: list


def stand_in_models(
    topology: str | Topology,
    max_seq_len: int = 4,
    dims: Mapping[str, int] = TINY_DIMS,
    seed: int = 0,
) -> StandIn:
    """Untrained functional models shaped like a trained run of ``topology``.

    The sentiment model is a masked soft-attention pooling of a per-step dense layer
    followed by a dense regressor; the translator is a per-step dense layer onto the
    concatenated targets.
    """
    import keras

    from tfs2s.layers.masked_attention_pooling import MaskedAttentionPooling

    topology = parse_topology(topology) if isinstance(topology, str) else topology
    keras.utils.set_random_seed(seed)
    names = topology.inference_modalities

    def inputs():
        out = {n: keras.Input((max_seq_len, dims[n]), name=n) for n in names}
        out[M.MASK] = keras.Input((max_seq_len,), name=M.MASK)
        return out

    def features(x):
        parts = [x[n] for n in names]
        return parts[0] if len(parts) == 1 else keras.layers.Concatenate()(parts)

    x = inputs()
    h = keras.layers.Dense(4, activation="tanh")(features(x))
    pooled, attention = MaskedAttentionPooling()(h, step_mask=x[M.MASK], return_weights=True)
    score = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))(
        pooled
    )
    sentiment = keras.layers.Reshape(())(score)
    sentiment_model = keras.Model(
        x, {"sentiment": sentiment, "attention": attention}, name="stand_in_sentiment"
    )

    translators = []
    if not topology.is_baseline:
        target_dim = sum(dims[M.name_of(c)] for c in topology.target)
        x = inputs()
        y = keras.layers.Dense(target_dim)(features(x))
        translators.append(keras.Model(x, {"translation": y}, name="stand_in_translator"))
    return StandIn(topology, sentiment_model, translators)


class ModelServerSession:
    """Run a SavedModel's signatures the way ``tensorflow_model_server`` does.

    ModelServer loads the ``serve`` MetaGraph into a TF1 session and calls
    ``Session::Run`` with the SignatureDef's tensor names, converting each request
    tensor without checking it against the declared shape. ``Session.run`` in Python
    would reject a misshapen feed first, so this goes through a callable made from
    ``CallableOptions``, which feeds tensors as they are.
    """

    def __init__(self, saved_model_dir: str | os.PathLike):
        import tensorflow as tf

        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        with self._graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self._session, ["serve"], os.fspath(saved_model_dir)
            )
        self.signature_defs = dict(meta_graph.signature_def)

    def run(self, signature: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        from tensorflow.core.protobuf import config_pb2

        sig = self.signature_defs[signature]
        names = sorted(inputs)
        outputs = sorted(sig.outputs)
        options = config_pb2.CallableOptions(
            feed=[sig.inputs[n].name for n in names], fetch=[sig.outputs[n].name for n in outputs]
        )
        call = self._session._make_callable_from_options(options)
        return dict(zip(outputs, call(*[inputs[n] for n in names]), strict=True))

    def close(self) -> None:
        self._session.close()


def rest_to_tensors(payload: Mapping, dtypes: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Turn a REST predict payload into input tensors as TF-Serving does.

    Row format: every instance is an object of named examples, stacked along a new
    batch dimension; columnar format: each named value is the whole tensor. Values
    take the dtype the signature declares.
    """
    if ("instances" in payload) == ("inputs" in payload):
        raise ValueError("a predict payload holds exactly one of 'instances' and 'inputs'")
    if "instances" in payload:
        rows = payload["instances"]
        return {n: np.stack([np.asarray(r[n], dtypes[n]) for r in rows]) for n in dtypes}
    return {n: np.asarray(payload["inputs"][n], dtypes[n]) for n in dtypes}
