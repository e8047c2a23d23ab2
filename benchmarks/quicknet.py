"""QuickNet (larq-zoo's published topology) built in code with seeded random weights: a float
stem, four sections of residual binary 3x3 convs (64, 128, 256, 512 filters, 4 blocks each,
about 12.5 M binary weights) with max-pool + depthwise + pointwise transitions, and a float
classifier. larq-zoo itself cannot be imported next to TF 2.21 (see design.md)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def quicknet(input_size=224, seed=0, filters=(64, 128, 256, 512), blocks=(4, 4, 4, 4), classes=1000):
    import numpy as np
    import tensorflow as tf
    import larq as lq
    L = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    qkw = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
               use_bias=False, padding="same")
    x = inp = tf.keras.Input((input_size, input_size, 3))
    x = L.Conv2D(filters[0] // 4, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    x = L.Activation("relu")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    x = L.Conv2D(filters[0], 1, use_bias=False)(x)
    x = L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    for i, (f, n) in enumerate(zip(filters, blocks)):
        if i > 0:  # transition
            x = L.Activation("relu")(x)
            x = L.MaxPool2D(3, strides=2, padding="same")(x)
            x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
            x = L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
            x = L.Conv2D(f, 1, use_bias=False)(x)
            x = L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        for _ in range(n):
            y = lq.layers.QuantConv2D(f, 3, **qkw)(x)
            y = L.Activation("relu")(y)
            y = L.BatchNormalization(momentum=0.9, epsilon=1e-5)(y)
            x = L.Add()([x, y])
    x = L.Activation("relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(classes)(x)
    x = L.Activation("softmax", dtype="float32")(x)
    model = tf.keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape).astype("f4"), rng.normal(0, 0.3, b.shape).astype("f4"),
                               rng.normal(0, 0.3, m.shape).astype("f4"), rng.uniform(0.5, 2, v.shape).astype("f4")])
    return model


if __name__ == "__main__":
    # Writes the model for lce-benchmark: `python benchmarks/quicknet.py OUT_DIR [--size 224]`
    # gives OUT_DIR/quicknet.tflite (converted, bitpacked activations) and
    # OUT_DIR/quicknet_float.tflite (TensorFlow's float conversion of the same Keras model).
    import argparse
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    import tensorflow as tf
    import lce_convert
    from lce_convert.converter import _tflite_from_keras
    model = quicknet(args.size)
    os.makedirs(args.out_dir, exist_ok=True)
    converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True)
    with open(os.path.join(args.out_dir, "quicknet.tflite"), "wb") as f:
        f.write(bytes(converted))
    with open(os.path.join(args.out_dir, "quicknet_float.tflite"), "wb") as f:
        f.write(_tflite_from_keras(tf, model))
    print("wrote", args.out_dir)
