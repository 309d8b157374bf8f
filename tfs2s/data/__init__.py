"""Data sources, word alignment and tf.data pipelines."""
