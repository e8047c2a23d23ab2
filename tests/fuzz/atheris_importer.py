"""atheris (coverage-guided, libFuzzer engine) target for the importer's flatbuffer reader:
`lce_convert.import_tflite` on arbitrary bytes must import (and then export and re-import) or
raise InvalidModelError; any other exception is a finding. The reader's Python code
(lce_convert._tflite_io and the flatbuffer schema module) is instrumented for coverage.

    .venv/bin/pip install atheris          # not needed by the test suite
    mkdir -p build/importer-corpus && cp tests/fuzz/seeds/*.tflite build/importer-corpus/
    .venv/bin/python tests/fuzz/atheris_importer.py build/importer-corpus -max_total_time=600 -max_len=400000
"""
import os
import sys

import atheris

with atheris.instrument_imports(include=["lce_convert", "flatbuffers"]):
    import lce_convert
    from lce_convert import _tflite_io  # noqa: F401
    from lce_convert._schema import schema
    schema()  # the generated module, imported (and instrumented) here
    from ai_edge_litert import schema_py_generated  # noqa: F401


def test_one_input(data):
    try:
        module = lce_convert.import_tflite(bytes(data))
    except lce_convert.InvalidModelError:
        return
    lce_convert.import_tflite(module.to_tflite())


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
