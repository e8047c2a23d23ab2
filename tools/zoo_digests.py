"""sha256 digests of the converter's output over the test zoo, to check that a change to the
converter leaves its output byte-identical.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python tools/zoo_digests.py build/digests/before.json
    ... change the converter ...
    TF_USE_LEGACY_KERAS=1 .venv/bin/python tools/zoo_digests.py build/digests/after.json
    .venv/bin/python tools/zoo_digests.py --compare build/digests/before.json build/digests/after.json

The models are those of tests/bnn_zoo.py (ZOO, INT8_ZOO, fake_quant_residual) and tests/models.py
(larq_bnn, mobilenet_v2, int8_model, while_loop_model, lce_converted_bnn). TensorFlow's own
conversion of each model is done once and kept in --inputs (default build/digests/inputs), so
that both runs convert the same bytes; each is converted with ten option sets (float and
bitpacked activations, lce_compatible=False, experimental_default_int8_range, int8 IO and their
combinations). A few Keras conversions (TensorFlow's conversion each time, and the converter's
SignatureDef) are digested too unless --no-keras. Each entry holds the output's sha256 and a
digest of the conversion report, or the error the conversion raised.

The digests are not committed: TensorFlow's conversion differs between machines and versions.
They compare two runs on one machine.
"""
import argparse
import hashlib
import json
import os
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIGS = {
    "float": {},
    "bitpacked": dict(experimental_enable_bitpacked_activations=True),
    "nolce": dict(lce_compatible=False),
    "nolce_bitpacked": dict(lce_compatible=False, experimental_enable_bitpacked_activations=True),
    "dr": dict(experimental_default_int8_range=(-3.0, 3.0)),
    "dr_bitpacked": dict(experimental_default_int8_range=(-3.0, 3.0), experimental_enable_bitpacked_activations=True),
    "dr_io": dict(experimental_default_int8_range=(-3.0, 3.0), inference_input_type="int8",
                  inference_output_type="int8"),
    "dr_bitpacked_nolce_io": dict(experimental_default_int8_range=(-3.0, 3.0),
                                  experimental_enable_bitpacked_activations=True, lce_compatible=False,
                                  inference_input_type="int8", inference_output_type="int8"),
    "io": dict(inference_input_type="int8", inference_output_type="int8"),
    "io_bitpacked": dict(inference_input_type="int8", inference_output_type="int8",
                         experimental_enable_bitpacked_activations=True),
}

KERAS_CASES = [
    ("quicknet_like", {}),
    ("quicknet_like", dict(experimental_enable_bitpacked_activations=True)),
    ("fake_quant_bnn", dict(inference_input_type="int8", inference_output_type="int8")),
    ("fake_quant_residual", dict(inference_input_type="int8")),
    ("default_range_bnn", dict(experimental_default_int8_range=(-3.0, 3.0), inference_input_type="int8",
                               inference_output_type="int8")),
    ("binary_mlp", dict(experimental_default_int8_range=(-3.0, 3.0), inference_output_type="int8")),
]


def _inputs(cache):
    """{name: TensorFlow's .tflite of the model}, converted once into `cache`."""
    import bnn_zoo
    import models
    builders = dict(bnn_zoo.ZOO)
    builders.update(bnn_zoo.INT8_ZOO)
    builders["fake_quant_residual"] = bnn_zoo.fake_quant_residual
    names = list(builders) + ["larq_bnn", "mobilenet_v2", "int8_model", "while_loop_model", "lce_converted_bnn"]
    os.makedirs(cache, exist_ok=True)
    out = {}
    for name in names:
        path = os.path.join(cache, name + ".tflite")
        if not os.path.exists(path):
            import tensorflow as tf
            from lce_convert import converter
            if name in builders:
                data = converter._tflite_from_keras(tf, builders[name]()[0])
            elif name in ("larq_bnn", "mobilenet_v2"):
                data = converter._tflite_from_keras(tf, getattr(models, name)())
            else:
                data = getattr(models, name)()
            with open(path, "wb") as f:
                f.write(data)
        with open(path, "rb") as f:
            out[name] = f.read()
    return out


def _entry(convert):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = convert()
        except Exception as e:  # the error is part of the behaviour being compared
            return "ERROR %s: %s" % (type(e).__name__, str(e)[:300])
    report = str(r.report) + repr([(l.name, l.op, l.binarized, l.reason, sorted(l.details.items()), l.keras_layer)
                                   for l in r.report])
    return "%s report %s" % (hashlib.sha256(bytes(r)).hexdigest(), hashlib.sha256(report.encode()).hexdigest()[:16])


def digests(cache, keras=True):
    import lce_convert
    out = {}
    for name, data in _inputs(cache).items():
        for config, kw in CONFIGS.items():
            out["%s/%s" % (name, config)] = _entry(lambda: lce_convert.convert_tflite(data, **kw))
    if keras:
        import bnn_zoo
        import tensorflow as tf
        for name, kw in KERAS_CASES:
            builder = bnn_zoo.ZOO.get(name) or getattr(bnn_zoo, name)
            key = "keras/%s/%s" % (name, ",".join("%s=%s" % kv for kv in sorted(kw.items())))
            # Keras numbers layer and tensor names per session: the same names in every run,
            # whatever was built before (e.g. the zoo's TensorFlow conversions when not cached)
            tf.keras.backend.clear_session()
            out[key] = _entry(lambda: lce_convert.convert_keras_model(builder()[0], **kw))
    return out


def compare(a_path, b_path):
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    for k in differ:
        print("%s\n  %s\n  %s" % (k, a.get(k, "(missing)"), b.get(k, "(missing)")))
    print("%d of %d entries differ" % (len(differ), len(set(a) | set(b))))
    return 1 if differ else 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", help="output .json, or with --compare two .json files")
    p.add_argument("--compare", action="store_true", help="compare two digest files (exit 1 if they differ)")
    p.add_argument("--inputs", default=os.path.join(ROOT, "build", "digests", "inputs"),
                   help="where TensorFlow's conversions of the models are kept")
    p.add_argument("--no-keras", action="store_true", help="skip the Keras conversions")
    args = p.parse_args(argv)
    if args.compare:
        if len(args.paths) != 2:
            p.error("--compare takes two files")
        return compare(*args.paths)
    if len(args.paths) != 1:
        p.error("one output file")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]
    out = digests(args.inputs, keras=not args.no_keras)
    os.makedirs(os.path.dirname(os.path.abspath(args.paths[0])), exist_ok=True)
    with open(args.paths[0], "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print("%d entries, %d errors -> %s" % (len(out), sum(v.startswith("ERROR") for v in out.values()), args.paths[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
