"""TF-Serving export: versioned SavedModels with self-describing signatures, warmup
requests, ``models.config`` and a REST/gRPC client.

Kept free of TensorFlow imports so the command line starts fast; see
:mod:`tfs2s.serving.export`, :mod:`tfs2s.serving.signatures` and :mod:`tfs2s.serving.client`.
"""

#: Export with XLA by default: ~3x lower batch-1 latency on CPU (benchmarks/bench_serving.py).
DEFAULT_JIT_COMPILE = True

#: What ``tensorflow_model_server`` needs to run an XLA export (XLA:CPU is off by default).
XLA_SERVER_FLAGS: tuple[str, ...] = ("--xla_cpu_compilation_enabled=true",)
