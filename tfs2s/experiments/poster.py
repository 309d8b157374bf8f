"""Figures reported on the Seq2Seq2Sentiment poster (CMU-MOSI test set).

Each entry: topology -> (binary precision, recall, F1, 7-class precision, recall, F1),
transcribed from the poster's three tables (weighted averages).
"""

from __future__ import annotations

POSTER_COLUMNS: tuple[str, ...] = ("prec2", "rec2", "f1_2", "prec7", "rec7", "f1_7")

POSTER_RESULTS: dict[str, tuple[float, float, float, float, float, float]] = {
    # Unimodal baselines
    "baseline_T": (0.77, 0.76, 0.76, 0.32, 0.35, 0.33),
    "baseline_A": (0.56, 0.56, 0.56, 0.12, 0.19, 0.14),
    "baseline_V": (0.57, 0.47, 0.48, 0.12, 0.19, 0.12),
    # Bimodal baselines and seq2seq
    "baseline_TV": (0.78, 0.67, 0.55, 0.01, 0.16, 0.05),
    "baseline_TA": (0.44, 0.66, 0.53, 0.02, 0.15, 0.04),
    "baseline_AV": (0.55, 0.47, 0.48, 0.13, 0.16, 0.11),
    "T_V": (0.67, 0.67, 0.67, 0.26, 0.22, 0.22),
    "T_A": (0.66, 0.64, 0.65, 0.28, 0.24, 0.18),
    "A_T": (0.55, 0.60, 0.56, 0.17, 0.34, 0.11),
    "A_V": (0.55, 0.55, 0.54, 0.16, 0.18, 0.16),
    "V_T": (0.58, 0.58, 0.58, 0.05, 0.16, 0.08),
    "V_A": (0.58, 0.62, 0.58, 0.12, 0.17, 0.01),
    # Trimodal baseline and seq2seq
    "baseline_TAV": (0.75, 0.75, 0.75, 0.24, 0.27, 0.24),
    "embed_TV_A": (0.56, 0.60, 0.57, 0.10, 0.16, 0.09),
    "embed_TA_V": (0.60, 0.55, 0.56, 0.26, 0.15, 0.07),
    "embed_AV_T": (0.66, 0.53, 0.44, 0.16, 0.04, 0.09),
    "embed_AT_V": (0.59, 0.51, 0.52, 0.13, 0.15, 0.09),
    "embed_VT_A": (0.59, 0.60, 0.59, 0.11, 0.17, 0.10),
    "embed_VA_T": (0.57, 0.61, 0.58, 0.11, 0.17, 0.09),
    "concat_TV_A": (0.67, 0.66, 0.65, 0.22, 0.17, 0.18),
    "concat_AT_V": (0.54, 0.55, 0.63, 0.19, 0.15, 0.21),
    "concat_VA_T": (0.59, 0.59, 0.58, 0.16, 0.12, 0.12),
    "T_concat_AV": (0.70, 0.65, 0.66, 0.23, 0.22, 0.18),
    "A_concat_TV": (0.55, 0.53, 0.54, 0.18, 0.20, 0.18),
    "concat_TA_concat_TV": (0.62, 0.60, 0.61, 0.23, 0.24, 0.22),
    "concat_TV_concat_TA": (0.68, 0.70, 0.67, 0.31, 0.24, 0.19),
}
