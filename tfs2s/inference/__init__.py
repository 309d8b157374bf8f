"""Use a finished run: open it, score it, predict with it, explain it.

``runs`` opens a run directory (or an exported SavedModel version), ``scoring`` streams
a data source through it batch by batch, and ``evaluate``, ``predict`` and ``explain``
are the three commands built on that stream.
"""
