"""Command line: `lce-convert` (also `python -m lce_convert`).

    lce-convert convert MODEL -o out.tflite [--bitpacked-activations] [--default-int8-range MIN MAX]
                [--input-type float32|int8] [--output-type float32|int8] [--target arm|xcore]
                [--no-lce-compatible] [--report-json PATH|-] [--quiet]
    lce-convert mlir model.tflite [--debug-info] [--elide N] [-p PIPELINE]
    lce-convert opt model.tflite -p PIPELINE -o out.tflite
    lce-convert hls model.tflite -o out_dir [--target-cycles N | --lut-budget N]
                [--input-type T] [--output-type T] [--clock-mhz F] [--part P]

MODEL is a Keras model (.h5 or .keras), a SavedModel directory or a .tflite file (told apart by
their contents, not their names). Every error is one line on stderr, exit status 1.
"""
import argparse
import json
import os
import sys
import threading
import time
import warnings

from .errors import LceConvertError

TF_EXTRA = "pip install 'lce_convert[tf]'"
_HDF5 = b"\x89HDF\r\n\x1a\n"


class CliError(Exception):
    """A command line error: printed as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block)."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def _read(path):
    if os.path.isdir(path):
        raise CliError("%s is a directory; this command takes a .tflite file" % path)
    with open(path, "rb") as f:
        return f.read()


def _read_tflite(path):
    """The bytes of the .tflite file at `path`; a Keras model or SavedModel is named, with the
    command that converts it."""
    if os.path.exists(path):
        try:
            kind = model_kind(path)
        except CliError:
            kind = None  # not a model we know: import_tflite says what is wrong with it
        if kind in ("keras", "saved_model"):
            raise CliError("%s is a %s, not a .tflite model; convert it first: lce-convert convert %s -o model.tflite"
                           % (path, "Keras model" if kind == "keras" else "SavedModel", path))
    return _read(path)


def _fail(prog, error):
    text = " ".join(str(error).split()) or type(error).__name__
    print("%s: error: %s" % (prog, text), file=sys.stderr)
    return 1


class Progress:
    """Long work on stderr: "<what> ..." then "done in N s"; on a terminal the elapsed seconds
    count while it runs, elsewhere a line every 10 s."""

    def __init__(self, what, quiet=False, stream=None):
        self.what, self.quiet, self.stream = what, quiet, stream or sys.stderr
        self._stop = threading.Event()

    def _tick(self):
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        while not self._stop.wait(1.0 if tty else 10.0):
            elapsed = time.perf_counter() - self.start
            if tty:
                self.stream.write("\r%s ... %.0f s" % (self.what, elapsed))
            else:
                self.stream.write("%s ... %.0f s\n" % (self.what, elapsed))
            self.stream.flush()

    def __enter__(self):
        self.start = time.perf_counter()
        if not self.quiet:
            self.stream.write("%s ...\n" % self.what)
            self.stream.flush()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind, value, tb):
        self._stop.set()
        if not self.quiet:
            self._thread.join()
            tty = hasattr(self.stream, "isatty") and self.stream.isatty()
            self.stream.write("%s%s %s in %.1f s\n" % ("\r" if tty else "", self.what,
                                                       "failed" if kind else "done", time.perf_counter() - self.start))
            self.stream.flush()
        return False


def model_kind(path):
    """"tflite", "keras" (HDF5 or .keras zip) or "saved_model", from the contents of `path`;
    CliError naming the problem otherwise."""
    if not os.path.exists(path):
        raise CliError("%s does not exist" % path)
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "saved_model.pb")) or os.path.exists(os.path.join(path, "saved_model.pbtxt")):
            return "saved_model"
        raise CliError("%s is a directory but not a SavedModel (it has no saved_model.pb); give a .h5, .keras or "
                       ".tflite file or a SavedModel directory" % path)
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return "tflite"
    if head == _HDF5:
        return "keras"
    if head[:4] == b"PK\x03\x04":
        return "keras"
    raise CliError("%s is not a model lce-convert reads: not a .tflite flatbuffer, an HDF5 (.h5) or .keras Keras "
                   "model, or a SavedModel directory (it starts with %r)" % (path, head))


def _tensorflow():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # larq 0.14 needs Keras 2 (tf-keras)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        raise CliError("converting a Keras model or a SavedModel needs TensorFlow, which is not installed: %s"
                       % TF_EXTRA) from None
    return tf


def _load_keras(path):
    tf = _tensorflow()
    try:
        import larq  # noqa: F401  (registers larq's layers and quantizers with Keras)
    except ImportError:
        raise CliError("loading a larq Keras model needs larq, which is not installed: %s" % TF_EXTRA) from None
    try:
        return tf.keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many exception types here
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CliError("cannot load the Keras model %s: %s" % (path, first)) from None


def convert_file(path, options, quiet=False):
    """The ConvertedModel of the model at `path` (see model_kind)."""
    from . import converter
    kind = model_kind(path)
    if kind == "tflite":
        with Progress("converting %s" % path, quiet):
            return converter.convert_tflite(_read(path), **options)
    if kind == "saved_model":
        _tensorflow()
        with Progress("converting the SavedModel %s" % path, quiet):
            return converter.convert_saved_model(path, **options)
    with Progress("loading the Keras model %s" % path, quiet):
        model = _load_keras(path)
    with Progress("converting %s" % getattr(model, "name", path), quiet):
        return converter.convert_keras_model(model, **options)


def _convert(args):
    options = dict(inference_input_type=args.input_type, inference_output_type=args.output_type,
                   target=args.target, experimental_enable_bitpacked_activations=args.bitpacked_activations,
                   lce_compatible=not args.no_lce_compatible)
    if args.default_int8_range is not None:
        options["experimental_default_int8_range"] = tuple(args.default_int8_range)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise CliError("the output directory %s does not exist" % out_dir)
    if os.path.isdir(args.output):
        raise CliError("the output %s is a directory; give a file name such as model.tflite" % args.output)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = convert_file(args.model, options, quiet=args.quiet)
    package = os.path.dirname(os.path.abspath(__file__))
    for w in caught:  # ours, not TensorFlow's deprecation notes
        if os.path.abspath(w.filename).startswith(package):
            print("lce-convert: warning: %s" % " ".join(str(w.message).split()), file=sys.stderr)
    with open(args.output, "wb") as f:
        f.write(result)
    if args.report_json == "-":
        json.dump(result.report.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        if not args.quiet:
            print(result.report)
        if args.report_json:
            with open(args.report_json, "w") as f:
                json.dump(result.report.to_dict(), f, indent=1)
    if not args.quiet:
        print("wrote %s (%d bytes)" % (args.output, len(result)), file=sys.stderr)
    return 0


def _int8_range(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    return value


def build_parser():
    parser = _Parser(prog="lce-convert", description="Convert larq models to TFLite with LCE 0.16-compatible "
                     "binary ops, and inspect, transform or lower converted models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("convert", help="convert a Keras model (.h5, .keras), a SavedModel directory or a .tflite",
                       description="Convert MODEL (a .h5 or .keras Keras model, a SavedModel directory or a .tflite "
                       "file) and print the per-layer report. Keras and SavedModel inputs need TensorFlow "
                       "(%s); TF_USE_LEGACY_KERAS=1 is set for you." % TF_EXTRA)
    p.add_argument("model", help="the model: .h5, .keras, SavedModel directory or .tflite")
    p.add_argument("-o", "--output", required=True, help="the converted .tflite file to write")
    p.add_argument("--bitpacked-activations", action="store_true",
                   help="binary layers feeding binary layers write bitpacked activations "
                   "(experimental_enable_bitpacked_activations)")
    p.add_argument("--default-int8-range", nargs=2, type=_int8_range, metavar=("MIN", "MAX"), default=None,
                   help="int8 range for every float tensor without one (experimental_default_int8_range; "
                   "for latency tests)")
    p.add_argument("--input-type", choices=("float32", "int8"), default="float32",
                   help="the model's input type (inference_input_type)")
    p.add_argument("--output-type", choices=("float32", "int8"), default="float32",
                   help="the model's output type (inference_output_type)")
    p.add_argument("--target", choices=("arm", "xcore"), default="arm")
    p.add_argument("--no-lce-compatible", action="store_true",
                   help="also fuse into zero-padded binary convs; only lce_convert's runtime runs the result")
    p.add_argument("--report-json", metavar="PATH", default=None,
                   help="write the report as JSON to PATH ('-': to stdout, instead of the table)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and warnings")
    p = sub.add_parser("mlir", help="print the MLIR of a .tflite model")
    p.add_argument("model")
    p.add_argument("--debug-info", action="store_true", help="print locations (tensor names)")
    p.add_argument("--elide", type=int, default=None, metavar="N",
                   help="abbreviate constants with more than N elements")
    p.add_argument("-p", "--pipeline", default=None, help="pass pipeline to run first")
    p = sub.add_parser("opt", help="run a pass pipeline on a .tflite model")
    p.add_argument("model")
    p.add_argument("-p", "--pipeline", required=True)
    p.add_argument("-o", "--output", required=True)
    p = sub.add_parser("hls", help="lower a converted .tflite model to a Vitis-HLS project")
    p.add_argument("model")
    p.add_argument("-o", "--output", required=True, help="project directory")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--target-cycles", type=int, default=None, help="cycles per frame to fold for")
    g.add_argument("--lut-budget", type=int, default=None, help="estimated LUTs to fold within")
    p.add_argument("--input-type", default=None, help="fixed-point input type, e.g. 'ap_fixed<16,8,AP_RND_CONV,AP_SAT>'")
    p.add_argument("--output-type", default=None, help="fixed-point type of fixed-point outputs")
    p.add_argument("--clock-mhz", type=float, default=200.0)
    p.add_argument("--part", default="xczu3eg-sbva484-1-e", help="FPGA part for synth.tcl")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "convert":
            return _convert(args)
        if args.command == "hls":
            return _hls(args)
        from .mlir import import_tflite
        module = import_tflite(_read_tflite(args.model))
        if args.pipeline:
            module.run_pipeline(args.pipeline)
        if args.command == "mlir":
            sys.stdout.write(module.text(debug_info=args.debug_info, elide_large_constants=args.elide))
        else:
            with open(args.output, "wb") as f:
                f.write(module.to_tflite())
    except KeyboardInterrupt:
        print("lce-convert: interrupted", file=sys.stderr)
        return 130
    except (CliError, LceConvertError, OSError, ValueError, ImportError) as e:
        return _fail("lce-convert", e)
    except Exception as e:  # anything else: still one line, with the exception's type
        return _fail("lce-convert", "%s: %s" % (type(e).__name__, e))
    return 0


def _hls(args):
    from . import hls
    config = {k: v for k, v in (("target_cycles", args.target_cycles), ("lut_budget", args.lut_budget),
                                ("input_type", args.input_type), ("output_type", args.output_type))
              if v is not None}
    project = hls.export(_read_tflite(args.model), args.output, clock_mhz=args.clock_mhz, part=args.part, **config)
    print(project.report_text)
    print("wrote %s (C-simulation: AP_TYPES=<ap_types dir> %s/build_csim.sh; synthesis: vitis_hls -f synth.tcl)"
          % (args.output, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
