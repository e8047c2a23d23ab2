"""QuickNet built in code with seeded random weights, in two variants.

- "larq_zoo" (the default): the topology of larq-zoo 2.x's `QuickNet` (larq_zoo/sota/quicknet.py,
  which cannot be imported next to TF 2.21, see design.md): a stem of a 3x3 stride-2 float conv,
  BatchNorm, ReLU, a 3x3 stride-2 float depthwise conv, BatchNorm without scale or centre, a 1x1
  float conv and BatchNorm; four sections of residual blocks (4 blocks each, 64/128/256/512
  filters), each block `x + BN(QuantConv2D(3x3, ste_sign clip 1.25, activation="relu",
  padding="same", pad_values=1.0)(x))`; before a section with more filters, a transition of
  ReLU, a 2x2 stride-1 VALID max-pool, a fixed 3x3 stride-2 blur-pool depthwise conv
  ((1,2,1)x(1,2,1)/16) and a 1x1 float conv + BatchNorm; then ReLU, a global average pool
  (AveragePooling2D over the whole map + Flatten, as larq-zoo's global_pool), a float dense layer
  and softmax. About 12.5 M binary weights.
- "zero_padding": the variant this file used to build: zero-padded binary convs with a separate
  ReLU before the BatchNorm, a max-pool/depthwise/pointwise transition, GlobalAveragePooling2D.
  LCE-compatible conversion cannot fuse its ReLU/BN into the convs (zero padding); the delegate
  fuses them at run time.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

VARIANTS = ("larq_zoo", "zero_padding")


def _random_batchnorm(model, seed):
    import numpy as np
    import tensorflow as tf
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            new = []
            for w in layer.weights:  # gamma, beta (if any), moving mean, moving variance
                kind = w.name.split("/")[-1]
                if kind.startswith("gamma"):
                    new.append(rng.uniform(0.5, 1.5, w.shape))
                elif kind.startswith("beta") or kind.startswith("moving_mean"):
                    new.append(rng.normal(0, 0.3, w.shape))
                else:
                    new.append(rng.uniform(0.5, 2, w.shape))
            layer.set_weights([v.astype("f4") for v in new])


def quicknet(input_size=224, seed=0, variant="larq_zoo", filters=(64, 128, 256, 512), blocks=(4, 4, 4, 4),
             classes=1000):
    if variant not in VARIANTS:
        raise ValueError("variant must be one of %s, got %r" % (VARIANTS, variant))
    import numpy as np
    import tensorflow as tf
    import larq as lq
    L = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((input_size, input_size, 3))
    if variant == "larq_zoo":
        def blurpool(shape, dtype=None):
            k = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0
            return np.repeat(k[:, :, None, None], shape[2], axis=2).reshape(shape).astype("f4")

        sign = lambda: lq.quantizers.SteSign(clip_value=1.25)
        x = lq.layers.QuantConv2D(filters[0] // 4, 3, strides=2, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = lq.layers.QuantDepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(x)
        x = L.BatchNormalization(scale=False, center=False)(x)
        x = lq.layers.QuantConv2D(filters[0], 1, use_bias=False)(x)
        x = L.BatchNormalization()(x)
        for f, n in zip(filters, blocks):
            for _ in range(n):
                if f != x.shape[-1]:  # transition
                    x = L.Activation("relu")(x)
                    x = L.MaxPool2D(pool_size=2, strides=1)(x)
                    x = L.DepthwiseConv2D(3, depthwise_initializer=blurpool, padding="same", strides=2,
                                          trainable=False, use_bias=False)(x)
                    x = lq.layers.QuantConv2D(f, 1, use_bias=False)(x)
                    x = L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
                y = lq.layers.QuantConv2D(int(x.shape[-1]), 3, activation="relu", input_quantizer=sign(),
                                          kernel_quantizer=sign(),
                                          kernel_constraint=lq.constraints.WeightClip(clip_value=1.25),
                                          padding="same", pad_values=1.0, use_bias=False)(x)
                y = L.BatchNormalization(momentum=0.9, epsilon=1e-5)(y)
                x = x + y
        x = L.Activation("relu")(x)
        x = L.AveragePooling2D(pool_size=tuple(x.shape[1:3]))(x)
        x = L.Flatten()(x)
        x = lq.layers.QuantDense(classes)(x)
        x = L.Activation("softmax", dtype="float32")(x)
    else:
        qkw = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
                   use_bias=False, padding="same")
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
    _random_batchnorm(model, seed)
    return model


if __name__ == "__main__":
    # Writes the model for lce-benchmark:
    # `python benchmarks/quicknet.py OUT_DIR [--size 224] [--variant larq_zoo|zero_padding]`
    # gives OUT_DIR/quicknet.tflite (converted, bitpacked activations) and
    # OUT_DIR/quicknet_float.tflite (TensorFlow's float conversion of the same Keras model).
    import argparse
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--variant", choices=VARIANTS, default="larq_zoo")
    args = parser.parse_args()
    import tensorflow as tf
    import lce_convert
    from lce_convert.converter import _tflite_from_keras
    model = quicknet(args.size, variant=args.variant)
    os.makedirs(args.out_dir, exist_ok=True)
    converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True)
    with open(os.path.join(args.out_dir, "quicknet.tflite"), "wb") as f:
        f.write(bytes(converted))
    with open(os.path.join(args.out_dir, "quicknet_float.tflite"), "wb") as f:
        f.write(_tflite_from_keras(tf, model))
    print("wrote", args.out_dir)
