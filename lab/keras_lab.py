"""Keras 3 fault lab (torch backend): tiny dense model on synthetic data, model.fit verbose=1."""
import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

FRAMEWORK = "keras"

FAULTS = {
    "healthy": {"labels": [], "also_ok": [], "description": "learnable binary task, Adam 1e-2"},
    "zero-lr": {"labels": ["zero-lr", "constant-val-loss", "loss-plateau"], "also_ok": ["frozen-params"],
                "description": "LearningRateScheduler returning 0 from the start"},
    "lr-zero-mid": {"labels": ["zero-lr", "constant-val-loss", "loss-plateau"], "also_ok": ["lr-schedule", "frozen-params"],
                    "description": "LearningRateScheduler drops LR to 0 from the 5th epoch"},
    "frozen": {"labels": ["frozen-params", "constant-val-loss", "loss-plateau"], "also_ok": [],
               "description": "all layers trainable=False; summary prints 0 trainable params"},
    "lr-too-high": {"labels": ["loss-divergence", "nonfinite"], "also_ok": ["grad-explosion"],
                    "description": "SGD lr=0.2 on regression, no clipping: loss jumps then nan from epoch 4"},
    "stale-eval": {"labels": ["constant-val-loss"], "also_ok": [],
                   "description": "test_step evaluates a copy of the model taken before training"},
    "shuffled-labels": {"labels": ["overfitting"], "also_ok": ["loss-plateau"],
                        "description": "random labels: train accuracy rises by memorising, val_loss rises"},
    "tiny-train": {"labels": ["overfitting"], "also_ok": [],
                   "description": "32 training samples, wide model: val_loss rises while loss falls"},
    "nonfinite": {"labels": ["nonfinite", "constant-val-loss"], "also_ok": ["loss-plateau"], "description": "one nan in the inputs, mse loss"},
    "stalled": {"labels": ["stalled", "crash"], "also_ok": [],
                "description": "data generator sleeps then raises TimeoutError"},
    "crash": {"labels": ["crash"], "also_ok": [], "description": "callback raises RuntimeError in epoch 3"},
    "oom": {"labels": ["oom", "crash"], "also_ok": [],
            "description": "callback allocates a petabyte tensor"},
}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--fault", default="healthy", choices=sorted(FAULTS))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    import numpy as np
    import keras

    keras.utils.set_random_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    f = a.fault
    n = 32 if f == "tiny-train" else 512
    d = 20
    x = rng.normal(size=(n, d)).astype("float32")
    w = rng.normal(size=(d,))
    y = (x @ w > 0).astype("float32")
    xv = rng.normal(size=(256, d)).astype("float32")
    yv = (xv @ w > 0).astype("float32")
    if f == "tiny-train":
        flip = rng.random(n) < 0.3
        y = np.where(flip, 1 - y, y).astype("float32")
    if f == "shuffled-labels":
        y = rng.integers(0, 2, size=n).astype("float32")
    if f == "nonfinite":
        x[5, 3] = np.nan
    epochs = 12
    loss, metrics = "binary_crossentropy", ["accuracy"]
    if f == "nonfinite":
        loss = "mse"
    width = 256 if f == "tiny-train" else 32
    layers = [keras.Input((d,)), keras.layers.Dense(width, activation="relu")]
    if f == "tiny-train":
        layers.append(keras.layers.Dense(width, activation="relu"))
    if f == "grad-explosion":
        layers = [keras.Input((d,))] + [keras.layers.Dense(64, activation="linear",
                   kernel_initializer=keras.initializers.RandomNormal(stddev=0.5)) for _ in range(6)]
    layers.append(keras.layers.Dense(1, activation=None if f in ("lr-too-high", "grad-explosion") else "sigmoid"))
    model = keras.Sequential(layers)
    opt = keras.optimizers.Adam(1e-2)
    if f in ("lr-too-high", "grad-explosion"):
        loss, metrics = "mse", ["mae"]
        y = (x @ w).astype("float32")
        yv = (xv @ w).astype("float32")
        opt = keras.optimizers.SGD(0.2)
    if f == "frozen":
        for layer in model.layers:
            layer.trainable = False
    if f == "stale-eval":
        stale = keras.models.clone_model(model)
        stale.set_weights(model.get_weights())

        class StaleEval(keras.Sequential):
            def call(self, inputs, training=None):
                if training:
                    return super().call(inputs, training=training)
                return stale(inputs, training=False)
        model = StaleEval(model.layers)
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    if f == "frozen":
        model.summary()
    cbs = []
    if f == "zero-lr":
        cbs.append(keras.callbacks.LearningRateScheduler(lambda e, lr: 0.0, verbose=1))
    if f == "lr-zero-mid":
        cbs.append(keras.callbacks.LearningRateScheduler(lambda e, lr: 1e-2 if e < 4 else 0.0, verbose=1))

    class Boom(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2 and f == "crash":
                raise RuntimeError("injected failure in epoch 3")
            if epoch == 2 and f == "oom":
                import torch
                torch.empty(2 ** 48, 1024, dtype=torch.float32)
    cbs.append(Boom())
    data = (x, y)
    if f == "stalled":
        def gen():
            i = 0
            while True:
                i += 1
                if i > 30:
                    time.sleep(3)
                    raise TimeoutError("DataLoader timed out after 3 seconds waiting for batch")
                j = rng.integers(0, n, 32)
                yield x[j], y[j]
        model.fit(gen(), steps_per_epoch=8, epochs=epochs, validation_data=(xv, yv), callbacks=cbs, verbose=1)
        return 0
    model.fit(x, y, batch_size=64 if n > 64 else 8, epochs=epochs, validation_data=(xv, yv),
              callbacks=cbs, verbose=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
