"""The corruption names and levels of the robustness study (no TensorFlow import: the
CLI builds its ``--corruptions`` help from them before TensorFlow is loaded)."""

from __future__ import annotations

#: Corruption name -> levels studied (0 is the clean data).
LEVELS: dict[str, tuple[float, ...]] = {
    "missing": (0.0, 1.0),
    "gaussian": (0.0, 0.25, 0.5, 1.0, 2.0),
    "dropout": (0.0, 0.1, 0.3, 0.5),
}
CORRUPTIONS: tuple[str, ...] = tuple(LEVELS)


def check_corruptions(names) -> tuple[str, ...]:
    """Validate corruption names; raise ValueError naming an unknown one."""
    names = tuple(names)
    unknown = [n for n in names if n not in LEVELS]
    if unknown:
        raise ValueError(f"unknown corruption {unknown[0]!r}; expected some of {list(CORRUPTIONS)}")
    if not names:
        raise ValueError(f"no corruption given; expected some of {list(CORRUPTIONS)}")
    return names
