"""The real larq_zoo 2.4.0 model definitions (every model of larq_zoo.sota and
larq_zoo.literature, weights=None, random BatchNorm statistics) at the smallest input each
accepts: converted in both activation modes, run in our runtime, compared with Keras and with
LCE 0.16.

larq-zoo pins protobuf<3.21 and imports tensorflow_datasets, so it cannot be installed beside
TensorFlow 2.21: tools/setup.sh installs larq-zoo and zookeeper (and their two small pure-Python
dependencies) without dependencies into .venv/larq-zoo, and tests/zoo_stubs holds a stand-in
for the tensorflow_datasets names they import (nothing here loads a data set).

Criteria (issue 15, semantics.md "Reference behaviour"):
- ours binarizes at least as many layers as LCE 0.16 (LCE's converter crashes on DoReFaNet);
- near-tie sign flips in deep random networks are judged the honest way: our deviation from
  Keras (on logits) is no larger than that of TensorFlow's plain float conversion of the same
  model, within float32 rounding;
- our flatbuffer and LCE's, run in the same interpreter (ours), agree by the same criterion.
The models over a few seconds to convert are marked slow (LCE_CONVERT_SLOW_TESTS=1 runs them).
"""
import os
import sys
import warnings

import numpy as np
import pytest

import lce_convert

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO_DIR = os.environ.get("LCE_CONVERT_LARQ_ZOO", os.path.join(_ROOT, ".venv", "larq-zoo"))
STUBS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zoo_stubs")

# (module, name, smallest input, slow). The smallest input is the smallest multiple of 32 whose
# forward pass works (BinaryAlexNet's and DoReFaNet's pools and XNORNet's 6x6 VALID conv need
# more).
MODELS = [
    ("sota", "QuickNetSmall", 32, False),
    ("sota", "QuickNet", 32, False),
    ("sota", "QuickNetLarge", 32, True),
    ("literature", "BiRealNet", 32, False),
    ("literature", "BinaryAlexNet", 64, True),
    ("literature", "BinaryDenseNet28", 32, False),
    ("literature", "BinaryDenseNet37", 32, True),
    ("literature", "BinaryDenseNet37Dilated", 32, False),
    ("literature", "BinaryDenseNet45", 32, True),
    ("literature", "BinaryResNetE18", 32, False),
    ("literature", "DoReFaNet", 64, True),
    ("literature", "MeliusNet22", 32, True),
    ("literature", "RealToBinaryNet", 32, True),
    ("literature", "XNORNet", 224, True),
]


def larq_zoo():
    if not os.path.isdir(ZOO_DIR):
        pytest.fail("larq-zoo is not installed in %s: run tools/setup.sh (or set LCE_CONVERT_LARQ_ZOO)" % ZOO_DIR)
    try:
        import tensorflow_datasets  # noqa: F401  (a real one, if ever installed, is used)
    except ImportError:
        if STUBS not in sys.path:
            sys.path.insert(0, STUBS)
    if ZOO_DIR not in sys.path:
        sys.path.append(ZOO_DIR)
    import larq_zoo as lqz
    return lqz


_cache = {}


def randomize_batchnorm(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization":
            continue
        names = [w.name.split("/")[-1].split(":")[0] for w in layer.weights]
        n = layer.weights[0].shape
        values = {"gamma": rng.uniform(0.3, 1.5, n), "beta": rng.normal(0, 1, n),
                  "moving_mean": rng.normal(0, 2, n), "moving_variance": rng.uniform(0.5, 4, n)}
        layer.set_weights([values[k].astype("f4") for k in names])


def zoo_model(module, name, size):
    """The model (logits: without its final softmax) and its input, built once."""
    key = (name, size)
    if key not in _cache:
        import tensorflow as tf
        lqz = larq_zoo()
        tf.keras.utils.set_random_seed(7)
        model = getattr(getattr(lqz, module), name)(input_shape=(size, size, 3), weights=None)
        randomize_batchnorm(model, 7)
        last = model.layers[-1]
        if type(last).__name__ == "Activation" and last.get_config()["activation"] == "softmax":
            model = tf.keras.Model(model.inputs, last.input, name=model.name + "_logits")
        x = np.random.default_rng(11).normal(size=(1, size, size, 3)).astype(np.float32)
        keras = model(x, training=False).numpy()
        plain = tf.lite.TFLiteConverter.from_keras_model(model).convert()
        tf_float = np.asarray(lce_convert.Interpreter(plain).predict(x))
        _cache[key] = (model, x, keras, tf_float, {})
    return _cache[key]


def lce_converted(model, conversions):
    if "lce" not in conversions:
        import larq_compute_engine as lce
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                conversions["lce"] = lce.convert_keras_model(model)
        except Exception as e:  # LCE 0.16's converter crashes on DoReFaNet
            conversions["lce"] = e
    return conversions["lce"]


def deviation(a, reference):
    a = np.asarray(a).reshape(reference.shape)
    # Relative to the logits' own scale (RealToBinaryNet's random-weight logits are about 1e-8).
    return float(np.max(np.abs(a - reference))) / max(float(np.max(np.abs(reference))), 1e-30)


ROUNDING = 1e-4  # float32 rounding through a deep float network (relative to the logits' scale)


@pytest.mark.parametrize("bitpacked", [False, True], ids=["float_activations", "bitpacked_activations"])
@pytest.mark.parametrize("module,name,size", [
    pytest.param(m, n, s, marks=[pytest.mark.slow] if slow else [], id=n) for m, n, s, slow in MODELS])
def test_larq_zoo_model(module, name, size, bitpacked):
    model, x, keras, tf_float, conversions = zoo_model(module, name, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report says which larq layers stay float
        ours = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=bitpacked)
    reference = lce_converted(model, conversions)
    ours_bconvs = lce_convert.tflite_to_mlir(ours).count('"lq.Bconv2d"')
    assert ours_bconvs == len(ours.report.binarized)
    assert ours_bconvs > 0 or name == "DoReFaNet"  # its activations are 2-bit: nothing is binary
    for layer in ours.report.not_binarized:
        assert layer.reason and layer.reason != "not found in the converted graph", layer

    y = lce_convert.Interpreter(ours).predict(x)
    tf_dev = deviation(tf_float, keras)
    ours_dev = deviation(y, keras)
    print("%s %s: %d binarized; deviation from Keras: ours %.3g, TF float %.3g"
          % (name, "bitpacked" if bitpacked else "float", ours_bconvs, ours_dev, tf_dev))
    assert ours_dev <= max(tf_dev, ROUNDING), "ours deviates %g from Keras, TF's float conversion %g" % (ours_dev, tf_dev)

    if isinstance(reference, Exception):
        assert name == "DoReFaNet", "LCE 0.16 failed on %s: %s" % (name, reference)
        return
    lce_bconvs = lce_convert.tflite_to_mlir(reference).count('"lq.Bconv2d"')
    assert ours_bconvs >= lce_bconvs
    theirs = lce_convert.Interpreter(reference).predict(x)
    between = deviation(y, np.asarray(theirs).reshape(keras.shape))
    assert between <= max(tf_dev, deviation(theirs, keras), ROUNDING), \
        "ours and LCE's flatbuffers differ by %g in the same interpreter" % between
