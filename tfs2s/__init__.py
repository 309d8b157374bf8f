"""tfs2s: multimodal sentiment analysis by sequence-to-sequence modality translation.

Implements *Seq2Seq2Sentiment* (Pham, Manzini, Liang, Poczos, 2018) with Keras
functional models: LSTM baselines, seq2seq modality translators (including the
hierarchical ``embed(A, B) -> C``) whose encoders feed an RNN + soft-attention
sentiment regressor, the paper's metrics, and TF-Serving export.
"""

__version__ = "0.1.0"


class Tfs2sWarning(UserWarning):
    """Every warning tfs2s itself issues (the test suite turns these into errors, so a
    test that triggers one must expect it with ``pytest.warns``)."""
