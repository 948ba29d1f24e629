"""XGBoost fault lab: tiny binary classifier on synthetic data, default eval-line printing."""
import argparse
import sys
import time

FRAMEWORK = "xgboost"

FAULTS = {
    "healthy": {"labels": [], "also_ok": [], "description": "learnable task, eta 0.3, 40 rounds"},
    "zero-lr": {"labels": ["constant-val-loss", "loss-plateau"], "also_ok": ["zero-lr", "frozen-params"],
                "description": "eta=0: every round prints the same logloss (xgboost does not print eta)"},
    "lr-zero-mid": {"labels": ["constant-val-loss", "loss-plateau"], "also_ok": ["zero-lr"],
                    "description": "LearningRateScheduler callback sets eta=0 from round 15"},
    "shuffled-labels": {"labels": ["overfitting"], "also_ok": ["loss-plateau"],
                        "description": "random labels: train logloss falls, validation at chance and worsening"},
    "tiny-train": {"labels": ["overfitting"], "also_ok": ["metric-zero"],
                   "description": "60 samples, depth 10, 200 rounds: validation worsens while train improves"},
    "nonfinite": {"labels": ["crash"], "also_ok": ["nonfinite"],
                  "description": "inf in labels: xgboost raises on label check"},
    "crash": {"labels": ["crash"], "also_ok": [], "description": "callback raises RuntimeError at round 10"},
    "stalled": {"labels": ["stalled", "crash"], "also_ok": [],
                "description": "callback sleeps then raises TimeoutError"},
    "oom": {"labels": ["oom", "crash"], "also_ok": [], "description": "petabyte numpy allocation mid-run"},
}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--fault", default="healthy", choices=sorted(FAULTS))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    import numpy as np
    import xgboost as xgb

    f = a.fault
    rng = np.random.default_rng(a.seed)
    n = 60 if f == "tiny-train" else 2000
    d = 10
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (x @ w + 0.5 * rng.normal(size=n) > 0).astype(float)
    xv = rng.normal(size=(1000, d))
    yv = (xv @ w + 0.5 * rng.normal(size=1000) > 0).astype(float)
    if f == "tiny-train":
        y = np.where(rng.random(n) < 0.25, 1 - y, y)
    if f == "shuffled-labels":
        y = rng.integers(0, 2, n).astype(float)
    if f == "nonfinite":
        y[3] = np.inf
    params = dict(n_estimators=40, learning_rate=0.3, max_depth=3, eval_metric="logloss")
    if f == "zero-lr":
        params["learning_rate"] = 0.0
    if f in ("tiny-train", "shuffled-labels"):
        params.update(n_estimators=200 if f == "tiny-train" else 60, max_depth=10, min_child_weight=0,
                      reg_lambda=0.0)
    cbs = []
    if f == "lr-zero-mid":
        cbs.append(xgb.callback.LearningRateScheduler(lambda r: 0.3 if r < 15 else 0.0))

    class Boom(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if epoch == 10:
                if f == "crash":
                    raise RuntimeError("injected failure at boosting round 10")
                if f == "stalled":
                    time.sleep(3)
                    raise TimeoutError("feature server did not answer within 3 seconds")
                if f == "oom":
                    np.empty((2 ** 47, 1024))
            return False
    cbs.append(Boom())
    clf = xgb.XGBClassifier(**params, callbacks=cbs, random_state=a.seed)
    clf.fit(x, y, eval_set=[(x, y), (xv, yv)], verbose=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
