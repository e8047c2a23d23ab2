"""HLS lowering for FPGAs: a converted model (our converter's or LCE 0.16's .tflite) becomes a
Vitis-HLS C++ streaming dataflow design whose C-simulation matches the CPU runtime bit for bit
on binary layers.

    from lce_convert import hls
    project = hls.export(model_bytes, "out_dir", target_cycles=20000)
    print(project.report_text)
    y = hls.csim("out_dir", x)               # g++ C-simulation; x is [N, H, W, C] float
    y, traces = hls.csim("out_dir", x, trace=True)

See docs in kernels/hls/README.md for the units, the exactness rules and the estimates."""
from .api import HlsProject, compare, csim, export, lower, quantize_input
from .folding import HlsFitWarning

__all__ = ["HlsFitWarning", "HlsProject", "compare", "csim", "export", "lower", "quantize_input"]
