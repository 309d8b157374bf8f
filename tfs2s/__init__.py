"""tfs2s: multimodal sentiment analysis by sequence-to-sequence modality translation.

Implements *Seq2Seq2Sentiment* (Pham, Manzini, Liang, Poczos, 2018) with Keras
functional models: LSTM baselines, seq2seq modality translators (including the
hierarchical ``embed(A, B) -> C``) whose encoders feed an RNN + soft-attention
sentiment regressor, the paper's metrics, and TF-Serving export.
"""

__version__ = "0.1.0"
