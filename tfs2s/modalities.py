"""The one place where modality codes, names and paper dimensions live.

Codes are the single letters of the paper (``T`` text, ``A`` audio, ``V`` visual);
names are the keys used for tensors everywhere (tf.data features, model inputs,
serving signatures).
"""

from __future__ import annotations

#: Modality codes in canonical order.
CODES: tuple[str, ...] = ("T", "A", "V")

#: Code -> tensor/feature name.
NAMES: dict[str, str] = {"T": "text", "A": "audio", "V": "video"}

#: Feature name -> code.
CODE_OF: dict[str, str] = {name: code for code, name in NAMES.items()}

#: Name of the per-step validity mask input: float32 (batch, steps), 1.0 for real words.
MASK = "mask"

#: Name of the label in tf.data datasets: float32 (batch,), sentiment in [-3, 3].
LABEL = "label"

#: Feature sizes of the paper's data: GloVe-300 words, COVAREP-74 audio, FACET-47 visual.
PAPER_DIMS: dict[str, int] = {"text": 300, "audio": 74, "video": 47}

#: Long names used in messages and tables.
LONG_NAMES: dict[str, str] = {"T": "Text", "A": "Audio", "V": "Video"}

SENTIMENT_MIN = -3.0
SENTIMENT_MAX = 3.0


def name_of(code: str) -> str:
    """Return the feature name of a modality code (``"T"`` -> ``"text"``)."""
    try:
        return NAMES[code]
    except KeyError:
        raise ValueError(f"unknown modality code {code!r}; expected one of {list(CODES)}") from None


def code_of(name: str) -> str:
    """Return the code of a modality feature name (``"text"`` -> ``"T"``)."""
    try:
        return CODE_OF[name]
    except KeyError:
        raise ValueError(f"unknown modality {name!r}; expected one of {list(CODE_OF)}") from None
