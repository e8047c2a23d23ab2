"""The HLS lowering of the real larq_zoo 2.4.0 architectures (weights=None, random BatchNorm
statistics, 32x32 inputs; see test_larq_zoo.py for how larq-zoo is installed): every model the
lowering covers lowers in both activation modes with its binary layers as binary units, and the
DenseNet and MeliusNet ones (concatenation, split, channel padding) match the CPU runtime in
C-simulation. All slow (each conversion takes a minute): LCE_CONVERT_SLOW_TESTS=1 runs them; the
same ops at toy size run by default in test_hls.py."""
import shutil
import warnings

import numpy as np
import pytest

import lce_convert
from lce_convert import hls
from lce_convert.errors import HlsUnsupportedError, LceConvertError
from test_hls import assert_matches_cpu
from test_larq_zoo import zoo_model

pytestmark = pytest.mark.slow

LOWERED = ["QuickNetSmall", "QuickNet", "BiRealNet", "BinaryDenseNet28", "BinaryDenseNet37Dilated",
           "BinaryResNetE18", "MeliusNet22"]
MODULE = {"QuickNetSmall": "sota", "QuickNet": "sota"}
_converted = {}


def converted(name, bitpacked):
    key = (name, bitpacked)
    if key not in _converted:
        model = zoo_model(MODULE.get(name, "literature"), name, 32)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _converted[key] = bytes(lce_convert.convert_keras_model(
                model, experimental_enable_bitpacked_activations=bitpacked))
    return _converted[key]


@pytest.mark.parametrize("bitpacked", [False, True], ids=["float_activations", "bitpacked_activations"])
@pytest.mark.parametrize("name", LOWERED)
def test_larq_zoo_model_lowers(name, bitpacked):
    model = converted(name, bitpacked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hls.HlsFitWarning)  # these are far larger than an xczu3eg
        design = hls.lower(model)
    bconvs = lce_convert.tflite_to_mlir(model).count('"lq.Bconv2d"')
    assert sum(1 for u in design.units if u.kind == "bmvau") == bconvs > 0


def test_realtobinarynet_is_refused_naming_the_op():
    """RealToBinaryNet's attention gating (LOGISTIC, dynamic reshapes) and PReLU do not lower."""
    model = converted("RealToBinaryNet", True)
    with pytest.raises(HlsUnsupportedError, match="PRELU is not supported.*ops that lower"):
        hls.lower(model)


@pytest.mark.skipif(shutil.which("g++") is None, reason="C-simulation needs g++")
@pytest.mark.parametrize("name", ["BinaryDenseNet28", "MeliusNet22"])
def test_larq_zoo_csim_matches_cpu(name, tmp_path):
    try:
        hls.api.ap_types_dir()
    except LceConvertError as e:
        pytest.skip(str(e))
    model = converted(name, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hls.HlsFitWarning)
        project = hls.export(model, str(tmp_path / "prj"))
    x = (np.round(np.random.default_rng(3).normal(0, 1.5, (1, 32, 32, 3)) * 64) / 64).astype(np.float32)
    rows = hls.compare(project, model, x)
    assert sum(1 for r in rows if r["kind"] == "bits") >= 20
    assert_matches_cpu(rows)
