"""Package-level promises: importing lce_convert is cheap and does not import TensorFlow."""
import subprocess
import sys


def test_import_does_not_load_tensorflow():
    code = ("import sys, lce_convert; "
            "bad = [m for m in ('tensorflow', 'tf_keras', 'larq', 'keras') if m in sys.modules]; "
            "print(','.join(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def test_import_and_roundtrip_without_tensorflow(tmp_path):
    """The MLIR path (import, passes, export) works with TensorFlow never imported."""
    import os
    make = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "passes", "test", "Inputs", "make_tflite.py")
    path = tmp_path / "m.tflite"
    subprocess.run([sys.executable, make, str(path)], check=True)
    code = ("import sys, lce_convert; d = open(sys.argv[1], 'rb').read(); "
            "out = lce_convert.run_pass_pipeline(d, 'canonicalize'); "
            "assert lce_convert.tflite_to_mlir(out) == lce_convert.tflite_to_mlir(d); "
            "print('tensorflow' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
