"""Makes non_stream_classifier.tflite: a MoViNet-shaped model *without* stream states, for the rejection test.

Needs TensorFlow (not a project dependency): `pip install tensorflow-cpu && python make_non_stream_model.py`.
"""
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

OUT = Path(__file__).with_name("non_stream_classifier.tflite")
SAVED = tempfile.mkdtemp()


class M(tf.Module):
    def __init__(self):
        self.w = tf.Variable(np.random.default_rng(0).standard_normal((3,600)).astype(np.float32))
    @tf.function(input_signature=[tf.TensorSpec([1,1,172,172,3], tf.float32, name="image")])
    def serve(self, image):
        pooled = tf.reduce_mean(image, axis=[1,2,3])
        return {"logits": tf.matmul(pooled, self.w)}
m=M()
tf.saved_model.save(m, SAVED, signatures={"serving_default": m.serve})
conv = tf.lite.TFLiteConverter.from_saved_model(SAVED)
OUT.write_bytes(conv.convert())
