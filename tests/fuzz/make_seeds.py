"""Writes the fuzzer's seed models into tests/fuzz/seeds/ (committed, so the fuzzer needs no
TensorFlow conversion): small larq BNNs converted by lce_convert (float and bitpacked output,
binary max-pool, zero padding under an activation with lce_compatible=False, int8) and by
LCE 0.16; for the importer also the unconverted float BNN and a model with WHILE subgraphs.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python tests/fuzz/make_seeds.py [name ...]
"""
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def seeds():
    """(name, function making the model bytes) of every seed."""
    import tensorflow as tf
    import larq_compute_engine as lce
    import bnn_zoo
    import models
    import lce_convert
    small = lambda: models.larq_bnn(input_shape=(12, 12, 3))
    yield "ours_float", lambda: lce_convert.convert_keras_model(small())
    yield "ours_bitpacked", lambda: lce_convert.convert_keras_model(small(),
                                                                    experimental_enable_bitpacked_activations=True)
    yield "ours_maxpool", lambda: lce_convert.convert_keras_model(bnn_zoo.maxpool_binary()[0],
                                                                  experimental_enable_bitpacked_activations=True)
    yield "ours_zero_padding", lambda: lce_convert.convert_keras_model(bnn_zoo.quicknet_like()[0],
                                                                       experimental_enable_bitpacked_activations=True,
                                                                       lce_compatible=False)
    yield "ours_int8", lambda: lce_convert.convert_keras_model(bnn_zoo.default_range_bnn()[0],
                                                               experimental_default_int8_range=(-3, 3),
                                                               inference_input_type=tf.int8, inference_output_type=tf.int8)
    yield "lce_float", lambda: lce.convert_keras_model(small())
    yield "lce_maxpool", lambda: lce.convert_keras_model(bnn_zoo.maxpool_binary()[0])
    # residual ADDs, BatchNorm MUL/ADD and ReLUs after float Bconv2d: the delegate's fused epilogues
    yield "lce_quicknet", lambda: lce.convert_keras_model(bnn_zoo.quicknet_like()[0])
    yield "lce_birealnet", lambda: lce.convert_keras_model(bnn_zoo.birealnet_like()[0])
    yield "plain_bnn", lambda: models.tflite_from_keras(small())  # unconverted, for convert_tflite
    yield "while_loop", lambda: models.while_loop_model()


def main(only=()):
    """Writes every seed, or only those named on the command line."""
    os.makedirs(os.path.join(HERE, "seeds"), exist_ok=True)
    for name, make in seeds():
        if only and name not in only:
            continue
        data = make()
        with open(os.path.join(HERE, "seeds", name + ".tflite"), "wb") as f:
            f.write(bytes(data))
        print("%-20s %7d bytes" % (name, len(data)))


if __name__ == "__main__":
    main(sys.argv[1:])
