"""Command line: `lce-convert` (also `python -m lce_convert`).

    lce-convert mlir model.tflite [--debug-info] [--elide N] [-p PIPELINE]
    lce-convert opt model.tflite -p PIPELINE -o out.tflite
"""
import argparse
import sys

from .errors import LceConvertError


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lce-convert", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
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
    args = parser.parse_args(argv)

    from .mlir import import_tflite
    try:
        module = import_tflite(_read(args.model))
        if args.pipeline:
            module.run_pipeline(args.pipeline)
        if args.command == "mlir":
            sys.stdout.write(module.text(debug_info=args.debug_info, elide_large_constants=args.elide))
        else:
            with open(args.output, "wb") as f:
                f.write(module.to_tflite())
    except (LceConvertError, OSError) as e:
        print("lce-convert: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
