"""LightGBM fault lab: tiny regressor on synthetic data, log_evaluation eval lines."""
import argparse
import sys
import time

FRAMEWORK = "lightgbm"

FAULTS = {
    "healthy": {"labels": [], "also_ok": [], "description": "learnable regression, lr 0.1, 40 rounds"},
    "tiny-train": {"labels": ["overfitting", "constant-val-loss"], "also_ok": ["metric-zero"],
                   "description": "40 noisy samples, 63 leaves, 100 rounds: valid l2 rises then freezes at 17.981"},
    "shuffled-labels": {"labels": ["overfitting"], "also_ok": ["loss-plateau"],
                        "description": "labels are noise: train l2 falls, validation worsens"},
    "crash": {"labels": ["crash"], "also_ok": [], "description": "callback raises at round 10"},
    "stalled": {"labels": ["stalled", "crash"], "also_ok": [], "description": "callback sleeps then TimeoutError"},
    "oom": {"labels": ["oom", "crash"], "also_ok": [], "description": "petabyte numpy allocation mid-run"},
}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--fault", default="healthy", choices=sorted(FAULTS))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    import numpy as np
    import lightgbm as lgb

    f = a.fault
    rng = np.random.default_rng(a.seed)
    n = 40 if f == "tiny-train" else 2000
    d = 10
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = x @ w + 0.3 * rng.normal(size=n)
    xv = rng.normal(size=(1000, d))
    yv = xv @ w + 0.3 * rng.normal(size=1000)
    if f == "tiny-train":
        y = y + 2.0 * rng.normal(size=n)
    if f == "shuffled-labels":
        y = rng.permutation(y)
    if f == "nonfinite":
        y[3] = np.nan
    params = dict(objective="regression", learning_rate=0.1, num_leaves=7, seed=a.seed, verbose=0)
    rounds = 40
    if f == "zero-lr":
        params["learning_rate"] = 0.0
    if f in ("tiny-train", "shuffled-labels"):
        params.update(num_leaves=63, min_data_in_leaf=1, min_sum_hessian_in_leaf=0, learning_rate=0.3)
        rounds = 100
    cbs = [lgb.log_evaluation(1)]
    if f == "lr-zero-mid":
        cbs.append(lgb.reset_parameter(learning_rate=lambda r: 0.1 if r < 15 else 0.0))

    def boom(env):
        if env.iteration == 10:
            if f == "crash":
                raise RuntimeError("injected failure at boosting round 10")
            if f == "stalled":
                time.sleep(3)
                raise TimeoutError("feature server did not answer within 3 seconds")
            if f == "oom":
                np.empty((2 ** 47, 1024))
    cbs.append(boom)
    dtr = lgb.Dataset(x, y)
    dv = lgb.Dataset(xv, yv, reference=dtr)
    lgb.train(params, dtr, rounds, valid_sets=[dtr, dv], valid_names=["training", "valid_1"], callbacks=cbs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
