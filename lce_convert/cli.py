"""Command line: `lce-convert` (also `python -m lce_convert`).

    lce-convert mlir model.tflite [--debug-info] [--elide N] [-p PIPELINE]
    lce-convert opt model.tflite -p PIPELINE -o out.tflite
    lce-convert hls model.tflite -o out_dir [--target-cycles N | --lut-budget N]
                [--input-type T] [--output-type T] [--clock-mhz F] [--part P]
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
    args = parser.parse_args(argv)

    if args.command == "hls":
        return _hls(args)
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


def _hls(args):
    from . import hls
    config = {k: v for k, v in (("target_cycles", args.target_cycles), ("lut_budget", args.lut_budget),
                                ("input_type", args.input_type), ("output_type", args.output_type))
              if v is not None}
    try:
        project = hls.export(_read(args.model), args.output, clock_mhz=args.clock_mhz, part=args.part, **config)
    except (LceConvertError, OSError) as e:
        print("lce-convert: error: %s" % e, file=sys.stderr)
        return 1
    print(project.report_text)
    print("wrote %s (C-simulation: AP_TYPES=<ap_types dir> %s/build_csim.sh; synthesis: vitis_hls -f synth.tcl)"
          % (args.output, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
