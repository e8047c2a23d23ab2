"""Test set-up: larq needs legacy Keras, and TensorFlow must be quiet."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
