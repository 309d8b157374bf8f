"""``tfs2s predict``: one row of predictions per segment, streamed to CSV or JSON lines.

Rows are written as batches are scored, into a temporary file that is renamed onto the
output at the end: 25,000 segments need one batch of features in memory, and a failed
run leaves no partial file.
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np

from tfs2s.inference.atomic import atomic_path
from tfs2s.inference.scoring import resolve_splits, score_batches
from tfs2s.training.metrics import to_binary, to_class7

FORMATS: tuple[str, ...] = ("csv", "jsonl")
#: Columns of every row, in order.
COLUMNS: tuple[str, ...] = (
    "segment_id",
    "video_id",
    "split",
    "sentiment",
    "polarity",
    "sentiment_class",
    "label",
)


def predict_rows(run, source, split: str = "all", batch_size: int | None = None):
    """Yield one dict per segment (keys :data:`COLUMNS`), in data order.

    ``polarity`` is 1 for a non-negative score and 0 for a negative one and
    ``sentiment_class`` is ``round(clip(sentiment, -3, 3))``, as the serving signature
    and the metrics define them.
    """
    for name in resolve_splits(source, split):
        for batch in score_batches(run, source, name, batch_size=batch_size):
            polarity = to_binary(batch.sentiment)
            classes = to_class7(batch.sentiment)
            for i in range(batch.sentiment.shape[0]):
                yield {
                    "segment_id": str(batch.segment_ids[i]),
                    "video_id": str(batch.video_ids[i]),
                    "split": name,
                    # float32 scores, written with the digits that round-trip them
                    "sentiment": float(batch.sentiment[i]),
                    "polarity": int(polarity[i]),
                    "sentiment_class": int(classes[i]),
                    "label": float(np.float32(batch.labels[i])),
                }


def write_predictions(
    run,
    source,
    out: str | os.PathLike,
    *,
    fmt: str = "csv",
    split: str = "all",
    batch_size: int | None = None,
) -> int:
    """Write the predictions of ``split`` to ``out`` atomically; return the row count."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected one of {list(FORMATS)}, found {fmt!r}")
    count = 0
    rows = predict_rows(run, source, split, batch_size)
    with atomic_path(out) as tmp, open(tmp, "w", newline="") as f:
        if fmt == "csv":
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                count += 1
        else:
            for row in rows:
                f.write(json.dumps(row) + "\n")
                count += 1
    return count
