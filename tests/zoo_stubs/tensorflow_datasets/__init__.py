"""A stand-in for the few tensorflow_datasets names that larq_zoo 2.4.0 and zookeeper 1.4.0 use
at import time (tensorflow_datasets cannot be installed beside TensorFlow 2.21: protobuf pins).
Only for tests/test_larq_zoo.py, which builds the models and never loads a data set."""
import types


class Decoder:
    """Type named in zookeeper's Preprocessing annotations."""


class SkipDecoding(Decoder):
    """Default decoder of larq_zoo's ImageNet preprocessing (never used here)."""


decode = types.SimpleNamespace(Decoder=Decoder, SkipDecoding=SkipDecoding)


def _no_datasets(*args, **kwargs):
    raise RuntimeError("tensorflow_datasets is a stand-in in lce_convert's tests: no data sets")


builder = load = _no_datasets
