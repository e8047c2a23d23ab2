"""Test set-up: larq needs legacy Keras, and TensorFlow must be quiet."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

SLOW = "LCE_CONVERT_SLOW_TESTS"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long tests (huge-weight models, the larger larq_zoo "
                            "models); run with %s=1 or -m slow" % SLOW)


def pytest_collection_modifyitems(config, items):
    """Slow tests run only when asked for: `make test` stays within its budget."""
    if os.environ.get(SLOW) == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow; run with %s=1 or -m slow" % SLOW)
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
