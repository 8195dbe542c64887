"""Reproducible model tests: the same model in every run, and a knob for data order.

``seeded(seed)`` seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) and turns
on TensorFlow's op determinism, so a training fixture builds the same weights in every run on a
machine of the same kind. ``DATA_SEED`` (the ``TEST_DATA_SEED`` environment variable, 0 by
default) changes only the order in which fixtures feed their data: ``tests/check_model_tests.sh``
runs the model tests with several values to show that their assertions hold with a margin,
not by luck of one order.
"""

from __future__ import annotations

import os

DATA_SEED = int(os.environ.get("TEST_DATA_SEED", "0"))


def seeded(seed: int) -> None:
    """Seed every generator a training uses and make TensorFlow's ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
