"""The typed Module API: description (schema in lce_convert._description), layers, output
types and signatures, on real converted models."""
import os
import pathlib
import re
import typing

import numpy as np
import pytest

import lce_convert
from lce_convert import _description as D

from bnn_zoo import INT8_ZOO, ZOO


@pytest.fixture(scope="module")
def tflite():
    import tensorflow as tf
    from lce_convert.converter import _tflite_from_keras
    return _tflite_from_keras(tf, ZOO["maxpool_binary"]()[0])


@pytest.fixture(scope="module")
def converted(tflite):
    return lce_convert.convert_tflite(tflite, experimental_enable_bitpacked_activations=True)


def _keys(td):
    """(required keys, all keys) of a TypedDict."""
    return set(td.__required_keys__), set(typing.get_type_hints(td))


def _check(value, td, where):
    required, known = _keys(td)
    assert isinstance(value, dict), where
    assert required <= set(value), "%s lacks %s" % (where, required - set(value))
    assert set(value) <= known, "%s has undeclared keys %s" % (where, set(value) - known)


def test_description_follows_the_schema(converted):
    desc = lce_convert.import_tflite(converted).description()
    _check(desc, D.Description, "description")
    assert all(isinstance(b, bytes) for b in desc["blobs"])
    n_ops = 0
    for f in desc["functions"]:
        _check(f, D.Function, "function")
        for a in f["args"]:
            _check(a, D.Arg, "arg")
            _check(a["type"], D.Type, "type")
        for o in f["ops"]:
            n_ops += 1
            _check(o, D.Op, o["name"])
            for r in o["results"]:
                _check(r, D.Result, "result")
                _check(r["type"], D.Type, "type")
                if r["type"]["quant"] is not None:
                    _check(r["type"]["quant"], D.QuantType, "quant")
            if "data" in o:
                assert 0 <= o["data"] < len(desc["blobs"])
    assert n_ops > 5


def test_layers(converted):
    module = lce_convert.import_tflite(converted)
    layers = module.layers()
    ops = [l["op"] for l in layers]
    assert ops.count("lq.Bconv2d") == 3 and "lq.BMaxPool2d" in ops
    assert "tfl.const" not in ops and "tfl.no_value" not in ops
    for l in layers:
        _check(l, D.Layer, l["op"])
        for v in l["operands"] + l["results"]:
            _check(v, D.Value, l["op"])
    conv = next(l for l in layers if l["op"] == "lq.Bconv2d")
    filters = conv["operands"][1]
    assert filters["type"]["elem"] == "i32" and filters["constant"] is not None
    shape = filters["type"]["shape"]
    assert len(filters["constant"]) == 4 * int(np.prod(shape))  # bitpacked words, 32 channels per i32
    assert conv["operands"][0]["constant"] is None
    words = conv["operands"][0]["type"]["shape"][-1]
    assert conv["operands"][0]["type"]["elem"] == "i32" and -(-conv["attrs"]["channels_in"] // 32) == words


def test_output_types_and_signatures(converted):
    import tensorflow as tf
    from lce_convert.converter import _tflite_from_keras
    module = lce_convert.import_tflite(converted)
    (main,) = module.output_types()
    _check(main, D.FunctionTypes, "output types")
    assert [t["elem"] for t in main["inputs"]] == ["f32"] and [t["elem"] for t in main["outputs"]] == ["f32"]
    assert main["inputs"][0]["shape"][1:] == [20, 20, 16] and main["inputs"][0]["quant"] is None
    tflite = _tflite_from_keras(tf, INT8_ZOO["default_range_bnn"]()[0])
    int8 = lce_convert.import_tflite(lce_convert.convert_tflite(
        tflite, experimental_default_int8_range=(-3.0, 3.0), inference_input_type="int8"))
    (types,) = int8.output_types()
    assert [t["elem"] for t in types["inputs"]] == ["i8"]
    _check(types["inputs"][0]["quant"], D.QuantType, "quant")
    assert types["inputs"][0]["quant"]["storage"] == "i8"
    assert types["inputs"][0]["quant"]["scales"] == pytest.approx([6.0 / 255], rel=1e-6)
    assert module.signatures() == []  # the frozen-graph route writes no signature def


def test_signatures(tmp_path):
    import tensorflow as tf
    model = ZOO["binary_mlp"]()[0]
    tf.saved_model.save(model, str(tmp_path))
    module = lce_convert.import_tflite(lce_convert.convert_saved_model(str(tmp_path)))
    (sig,) = module.signatures()
    _check(sig, D.Signature, "signature")
    assert sig["key"] == "serving_default"
    assert sig["function"] == module.output_types()[0]["function"]
    assert [i for _, i in sig["inputs"]] == [0] and [i for _, i in sig["outputs"]] == [0]
    assert all(isinstance(n, str) and n for n, _ in sig["inputs"] + sig["outputs"])


def test_description_is_a_copy(converted):
    module = lce_convert.import_tflite(converted)
    desc = module.description()
    desc["functions"][0]["ops"].clear()
    assert module.description()["functions"][0]["ops"]


def test_no_handle_outside_mlir_py():
    """Only lce_convert/mlir.py reaches into Module._handle (package and tests)."""
    root = pathlib.Path(__file__).resolve().parent.parent
    offenders = []
    for path in sorted((root / "lce_convert").rglob("*.py")) + sorted((root / "tests").rglob("*.py")):
        if path == root / "lce_convert" / "mlir.py" or path == pathlib.Path(__file__).resolve():
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\._handle\b", line):
                offenders.append("%s:%d" % (path.relative_to(root), n))
    assert not offenders, "Module._handle used outside mlir.py: %s" % ", ".join(offenders)


def test_converter_runs_the_registered_pipeline(tflite):
    """convert_tflite is lq-binarize (passes/transforms/Pipelines.cpp) between import and export."""
    for bits in (False, True):
        for lce_compatible in (True, False):
            module = lce_convert.import_tflite(tflite)
            module.run_pipeline("lq-binarize{bitpacked-activations=%s lce-compatible=%s}"
                                % (str(bits).lower(), str(lce_compatible).lower()))
            converted = lce_convert.convert_tflite(tflite, experimental_enable_bitpacked_activations=bits,
                                                   lce_compatible=lce_compatible)
            assert module.to_tflite() == bytes(converted)
    with pytest.raises(lce_convert.PassPipelineError, match="target must be 'arm' or 'xcore', got 'x86'"):
        lce_convert.import_tflite(tflite).run_pipeline("lq-binarize{target=x86}")
    with pytest.raises(lce_convert.PassPipelineError, match="lq-binarize: invalid options 'bitpacked=true': .*no such option bitpacked"):
        lce_convert.import_tflite(tflite).run_pipeline("lq-binarize{bitpacked=true}")


def test_one_module_through_a_conversion(monkeypatch):
    """With default ranges and int8 IO, a conversion reads and builds the model twice (the input,
    TensorFlow's quantizer output), exports twice and serializes twice (for the quantizer, the
    result): no other round trip through bytes."""
    import collections
    import tensorflow as tf
    from lce_convert import _tflite_io, converter, mlir
    from lce_convert.converter import _tflite_from_keras
    tflite = _tflite_from_keras(tf, INT8_ZOO["default_range_bnn"]()[0])
    counts = collections.Counter()

    def counted(key, f):
        def g(*args, **kwargs):
            counts[key] += 1
            return f(*args, **kwargs)
        return g
    monkeypatch.setattr(_tflite_io, "read", counted("read", _tflite_io.read))
    monkeypatch.setattr(_tflite_io, "write", counted("write", _tflite_io.write))
    monkeypatch.setattr(mlir.Module, "description", counted("export", mlir.Module.description))
    monkeypatch.setattr(converter, "import_tflite", counted("build", converter.import_tflite))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = lce_convert.convert_tflite(tflite, experimental_default_int8_range=(-3.0, 3.0),
                                            inference_input_type="int8", inference_output_type="int8")
    assert dict(counts) == {"read": 2, "build": 2, "export": 2, "write": 2}
    (types,) = lce_convert.import_tflite(result).output_types()
    assert [t["elem"] for t in types["inputs"] + types["outputs"]] == ["i8", "i8"]
    counts.clear()
    lce_convert.convert_tflite(tflite)
    assert dict(counts) == {"read": 1, "build": 1, "export": 1, "write": 1}
