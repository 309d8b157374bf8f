"""``tfs2s evaluate``: score a finished run on any data source.

With the run's own data and the default splits the result is the run's
``metrics.json``, value for value: the same model, normalisation, ``max_seq_len``,
batch size and metric code.
"""

from __future__ import annotations

from typing import Any

from tfs2s.inference.scoring import predictions, resolve_splits
from tfs2s.training.metrics import METRIC_KEYS, sentiment_metrics
from tfs2s.training.run import EVAL_SPLITS


def evaluate_run(run, source, split: str | None = None) -> dict[str, Any]:
    """Metrics per split.

    Args:
        run: a :class:`~tfs2s.inference.runs.TrainedRun`.
        source: a :class:`~tfs2s.data.pipeline.DataSource` checked against the run.
        split: ``train``, ``valid``, ``test`` or ``all``; None gives what training
            reports: ``valid`` and ``test``, empty ones listed under ``"omitted"``.

    Returns:
        ``{split: {metric: value}}`` (and ``"omitted"`` for the default splits).
    """
    result: dict[str, Any] = {}
    if split is None:
        available = set(source.nonempty_splits())
        splits = [s for s in EVAL_SPLITS if s in available]
        omitted = [s for s in EVAL_SPLITS if s not in available]
    else:
        splits, omitted = resolve_splits(source, split), []
    for name in splits:
        labels, preds = predictions(run, source, name)
        result[name] = sentiment_metrics(labels, preds)
    if omitted:
        result["omitted"] = {s: "split is empty in this data" for s in omitted}
    return result


def format_metrics(metrics: dict[str, Any]) -> str:
    """The training table (``tfs2s train``'s layout), for any splits."""
    splits = [s for s in metrics if s != "omitted"]
    rows = [f"{'split':6s} " + " ".join(f"{k:>12s}" for k in METRIC_KEYS)]
    for s in splits:
        rows.append(f"{s:6s} " + " ".join(f"{metrics[s][k]:12.4f}" for k in METRIC_KEYS))
    for s, why in metrics.get("omitted", {}).items():
        rows.append(f"{s:6s} omitted: {why}")
    return "\n".join(rows)
