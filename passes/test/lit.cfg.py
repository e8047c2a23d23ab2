# lit configuration for the lce_convert pass, dialect and importer tests.
# Run through pytest (tests/test_lit.py), or by hand:
#   .venv/bin/lit -v --param lce_opt_dir=build/<tag>/bin passes/test/<file>.mlir
import os
import sys

import lit.formats

config.name = "lce_convert"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)

tool_dirs = [lit_config.params.get("lce_opt_dir", ""),
             lit_config.params.get("llvm_bin_dir", "/usr/lib/llvm-22/bin")]
config.environment["PATH"] = os.pathsep.join([d for d in tool_dirs if d] + [os.environ.get("PATH", "")])
for var in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL", "HOME"):
    if var in os.environ:
        config.environment[var] = os.environ[var]
config.substitutions.append(("%python", lit_config.params.get("python", sys.executable)))
