"""``tfs2s explain``: which words the regressor attended to, per segment.

For each chosen segment: the regressor's soft-attention weight on every real word
(``alpha`` of :class:`~tfs2s.layers.masked_attention_pooling.MaskedAttentionPooling`,
summing to 1 over the words), the prediction and the label. The words themselves are
shown when the data directory holds the SDK's ``TimestampedWords`` ``.csd``
(:mod:`tfs2s.data.words`); otherwise steps are named by index.

``--top N`` picks the N most confidently wrong and the N most confidently right
segments of a split: wrong means the predicted polarity (``>= 0``) differs from the
label's, and confidence is ``|prediction|``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfs2s.inference.atomic import atomic_path
from tfs2s.inference.scoring import score_batches, segment_ids
from tfs2s.training.metrics import to_binary

JSON_FILE = "explain.json"
PNG_FILE = "explain.png"
#: In the PNG, a word's colour saturates at this multiple of the uniform weight 1 / words.
UNIFORM_SCALE = 3.0


def parse_segments(text: str) -> list[str]:
    """``"a_1,b_2"`` -> ``["a_1", "b_2"]`` (duplicates dropped, order kept)."""
    ids = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not ids:
        raise ValueError(f"--segments {text!r}: expected comma-separated segment ids")
    return ids


def _locate(source, wanted: Sequence[str]) -> dict[str, list[str]]:
    """split -> the wanted ids it holds; raises ValueError naming unknown ids."""
    found: dict[str, list[str]] = {}
    seen = set()
    for split in source.nonempty_splits():
        ids = set(segment_ids(source, split)[0].tolist())
        mine = [s for s in wanted if s in ids and s not in seen]
        if mine:
            found[split] = mine
            seen.update(mine)
    unknown = [s for s in wanted if s not in seen]
    if unknown:
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise ValueError(
            f"unknown segment ids {unknown[:10]}{more}: not in any split of {source.source}"
        )
    return found


def _entry(batch, i: int, group: str) -> dict[str, Any]:
    length = int(batch.lengths[i])
    weights = batch.attention[i, :length]
    prediction = float(batch.sentiment[i])
    label = float(batch.labels[i])
    return {
        "segment_id": str(batch.segment_ids[i]),
        "video_id": str(batch.video_ids[i]),
        "split": batch.split,
        "group": group,
        "prediction": prediction,
        "label": label,
        "correct_polarity": bool(to_binary(prediction) == to_binary(label)),
        "words": None,
        "attention": [float(w) for w in weights],
    }


def select_segments(run, source, ids: Sequence[str], batch_size=None) -> list[dict[str, Any]]:
    """Explanations of ``ids`` (in the given order); unknown ids raise ValueError."""
    where = _locate(source, ids)
    entries: dict[str, dict[str, Any]] = {}
    for split, wanted in where.items():
        wanted_set = set(wanted)
        for batch in score_batches(run, source, split, batch_size=batch_size, attention=True):
            for i, sid in enumerate(batch.segment_ids):
                if sid in wanted_set and sid not in entries:
                    entries[sid] = _entry(batch, i, "chosen")
    return [entries[s] for s in ids]


def select_top(run, source, n: int, split: str = "test", batch_size=None) -> list[dict[str, Any]]:
    """The ``n`` most confidently wrong, then the ``n`` most confidently right segments."""
    from tfs2s.inference.scoring import resolve_splits

    resolve_splits(source, split)
    # Candidates are kept per batch (at most 2n each), so memory stays one batch large.
    wrong: list[tuple[float, dict]] = []
    right: list[tuple[float, dict]] = []
    for batch in score_batches(run, source, split, batch_size=batch_size, attention=True):
        miss = to_binary(batch.sentiment) != to_binary(batch.labels)
        confidence = np.abs(batch.sentiment)
        for pool, mask, group in ((wrong, miss, "wrong"), (right, ~miss, "right")):
            index = np.flatnonzero(mask)
            best = index[np.argsort(-confidence[index], kind="stable")[:n]]
            pool += [(float(confidence[i]), _entry(batch, int(i), group)) for i in best]
            pool.sort(key=lambda x: -x[0])
            del pool[n:]
    return [e for _, e in wrong] + [e for _, e in right]


def attach_words(entries: list[dict[str, Any]], words: dict[str, list[str]] | None) -> None:
    """Fill ``entry["words"]`` from segment id -> words, where known and of the right length."""
    if not words:
        return
    for entry in entries:
        found = words.get(entry["segment_id"])
        if found is not None and len(found) == len(entry["attention"]):
            entry["words"] = list(found)


def write_png(entries: Sequence[dict[str, Any]], path: str) -> None:
    """Words (or step indices) coloured by attention, one row per segment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("Reds")
    inch_per_char = 0.075  # 8 pt monospace, plus the box padding
    longest = max(sum(len(t) + 1.5 for t in _tokens(e)) for e in entries)
    width = min(40.0, 3.6 + inch_per_char * longest)
    fig = plt.figure(figsize=(width, 0.55 * len(entries) + 0.8))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    rows = len(entries) + 1
    char = inch_per_char / width  # axes fraction per character
    for r, entry in enumerate(entries):
        y = 1 - (r + 1) / rows
        ax.text(
            0.005,
            y,
            f"{entry['segment_id']}\npred {entry['prediction']:+.2f}  label {entry['label']:+.2f}"
            + ("" if entry["correct_polarity"] else "  (wrong)"),
            fontsize=7,
            family="monospace",
            va="center",
        )
        x = 3.3 / width
        uniform = 1.0 / len(entry["attention"])
        for token, weight in zip(_tokens(entry), entry["attention"], strict=True):
            ax.text(
                x,
                y,
                token,
                fontsize=8,
                family="monospace",
                va="center",
                bbox={
                    "facecolor": cmap(min(1.0, weight / (UNIFORM_SCALE * uniform))),
                    "edgecolor": "none",
                    "pad": 1.5,
                },
            )
            x += char * (len(token) + 1.5)
    ax.text(
        0.005,
        1 - 0.35 / rows,
        f"colour: attention weight relative to uniform (1 / words); darkest at "
        f"{UNIFORM_SCALE:g}x uniform",
        fontsize=7,
        va="center",
    )
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def _tokens(entry: dict[str, Any]) -> list[str]:
    if entry["words"] is not None:
        return [str(w) for w in entry["words"]]
    return [f"#{i}" for i in range(len(entry["attention"]))]


def explain(
    run,
    source,
    out: str | os.PathLike,
    *,
    segments: Sequence[str] | None = None,
    top: int | None = None,
    split: str = "test",
    batch_size: int | None = None,
    words_from: str | None = None,
) -> list[Path]:
    """Write ``explain.json`` and ``explain.png`` for the chosen segments into ``out``.

    Args:
        run: a :class:`~tfs2s.inference.runs.TrainedRun`.
        source: a data source checked against the run.
        out: output directory (created).
        segments: segment ids to explain; or
        top: explain the ``top`` most confidently wrong and right segments of ``split``.
        split: the split ``top`` picks from.
        batch_size: scoring batch size.
        words_from: the data path, searched for a ``TimestampedWords`` ``.csd``.

    Returns:
        the written paths. Unknown ids or a bad split raise before anything is written.
    """
    if (segments is None) == (top is None):
        raise ValueError("give exactly one of segments and top")
    if segments is not None:
        entries = select_segments(run, source, segments, batch_size)
    else:
        entries = select_top(run, source, int(top), split, batch_size)
    if not entries:
        raise ValueError(f"split {split!r} of {source.source} has no segment to explain")
    words_file = None
    if words_from:
        from tfs2s.data.words import find_words_file, segment_words

        words_file = find_words_file(words_from)
        if words_file is not None:
            attach_words(
                entries,
                segment_words(
                    words_from,
                    words_file,
                    [e["segment_id"] for e in entries],
                    data=run.data,
                ),
            )
    report = {
        "run": str(run.path),
        "topology": run.topology.name,
        "data": source.source,
        "words": None if words_file is None else str(words_file),
        "selection": {"segments": list(segments)}
        if segments is not None
        else {"top": int(top), "split": split},
        "segments": entries,
    }
    os.makedirs(out, exist_ok=True)
    json_path = os.path.join(out, JSON_FILE)
    png_path = os.path.join(out, PNG_FILE)
    write_png(entries, png_path)
    with atomic_path(json_path) as tmp, open(tmp, "w") as f:
        json.dump(report, f, indent=1)
    return [Path(json_path), Path(png_path)]
