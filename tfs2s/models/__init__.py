"""Encoders, decoders, translators, the sentiment regressor and the per-topology builder."""

from tfs2s.models.modality_translator import ModalityTranslator
from tfs2s.models.sentiment_model import SentimentModel
from tfs2s.models.sentiment_regressor import SentimentRegressor
from tfs2s.models.sequence_decoder import SequenceDecoder
from tfs2s.models.sequence_encoder import SequenceEncoder
from tfs2s.models.topology_models import TopologyModels

__all__ = [
    "ModalityTranslator",
    "SentimentModel",
    "SentimentRegressor",
    "SequenceDecoder",
    "SequenceEncoder",
    "TopologyModels",
]
