"""Layers and masking helpers for right-padded multimodal word sequences."""

from tfs2s.layers.masked_attention_pooling import MaskedAttentionPooling
from tfs2s.layers.masked_normalization import (
    MaskedNormalization,
    denormalize_features,
    normalize_features,
)
from tfs2s.layers.masking import masked_softmax, shift_right, zero_padded_steps

__all__ = [
    "MaskedAttentionPooling",
    "MaskedNormalization",
    "denormalize_features",
    "masked_softmax",
    "normalize_features",
    "shift_right",
    "zero_padded_steps",
]
