"""The regressor's soft-attention weights of a trained sentiment model.

The sentiment model's regressor pools its LSTM outputs with ``alpha = softmax(W h_t)``
over the real steps (:class:`~tfs2s.layers.masked_attention_pooling.MaskedAttentionPooling`).
When the model publishes those weights as an ``attention`` output, it is used as is.
Otherwise :func:`with_attention` wires a second view of the *same* layers (no weight
is copied) that also returns them.
"""

from __future__ import annotations

import keras
from keras import ops

from tfs2s import modalities as M
from tfs2s.layers.masking import masked_softmax, zero_padded_steps
from tfs2s.models.graph_utils import encode_chain, join, modality_inputs, normalize_inputs

ATTENTION = "attention"


def with_attention(model: keras.Model) -> keras.Model:
    """A model ``inputs -> {"sentiment": (batch,), "attention": (batch, steps)}``.

    Args:
        model: a trained :class:`~tfs2s.models.sentiment_model.SentimentModel`.

    Returns:
        ``model`` itself when it already has an ``attention`` output; otherwise a
        functional view sharing its layers. ``sentiment`` is the model's own output
        (the original regressor is called); ``attention`` is float32 (batch, steps),
        summing to 1 over the real steps and 0 on padding.
    """
    if isinstance(model.output, dict) and ATTENTION in model.output:
        return model
    modalities, stats = model.modalities, model.norm_stats
    regressor = model.regressor
    inputs = modality_inputs(modalities, stats)
    mask = inputs[M.MASK]
    features = join(normalize_inputs(inputs, stats), modalities)
    representation = encode_chain(model.encoders, features, mask)["sequence"]
    sentiment = regressor({"sequence": representation, "mask": mask})["sentiment"]
    # The regressor's pooling, step by step, to expose alpha (dropout is off at inference).
    hidden = representation
    for i in range(regressor.depth):
        hidden = regressor.get_layer(f"lstm_{i}")(hidden)
    hidden = zero_padded_steps(hidden, mask)
    scores = ops.squeeze(regressor.get_layer(ATTENTION).score(hidden), -1)
    weights = masked_softmax(scores, mask)
    explainer = keras.Model(inputs, {"sentiment": sentiment, ATTENTION: weights})
    explainer.compile(jit_compile=False)
    return explainer
