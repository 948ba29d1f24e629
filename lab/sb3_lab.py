"""stable-baselines3 fault lab: PPO (or A2C) on CartPole-v1, verbose=1 rollout/train tables."""
import argparse
import sys
import time

FRAMEWORK = "sb3"

FAULTS = {
    "healthy": {"labels": [], "also_ok": [], "description": "PPO on CartPole-v1, default lr 3e-4"},
    "zero-lr": {"labels": ["zero-lr"], "also_ok": ["loss-plateau", "frozen-params"],
                "description": "learning_rate=0.0: train/learning_rate prints 0"},
    "lr-zero-mid": {"labels": ["zero-lr"], "also_ok": ["lr-schedule", "loss-plateau"],
                    "description": "schedule drops lr to 0 after 40% of training"},
    "lr-too-high": {"labels": ["loss-divergence"], "also_ok": ["nonfinite", "grad-explosion", "loss-plateau"],
                    "description": "lr=1e4, no gradient clipping: first update prints value_loss 2.8e10, "
                                   "approx_kl 6e5, entropy_loss collapses to 0, ep_rew_mean stays ~25 "
                                   "(no nan is printed)"},
    "frozen": {"labels": ["frozen-params"], "also_ok": ["loss-plateau"],
               "description": "optimizer holds none of the policy parameters: approx_kl ~1e-10 and clip_fraction 0 at every update"},
    "crash": {"labels": ["crash"], "also_ok": [], "description": "callback raises RuntimeError mid-run"},
    "stalled": {"labels": ["stalled", "crash"], "also_ok": [], "description": "env step sleeps then TimeoutError"},
    "oom": {"labels": ["oom", "crash"], "also_ok": [], "description": "petabyte torch allocation in a callback"},
}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--fault", default="healthy", choices=sorted(FAULTS))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(1)
    f = a.fault
    env = gym.make("CartPole-v1")
    if f == "stalled":
        class Slow(gym.Wrapper):
            n = 0

            def step(self, action):
                Slow.n += 1
                if Slow.n == 2500:
                    time.sleep(3)
                    raise TimeoutError("environment step timed out after 3 seconds")
                return self.env.step(action)
        env = Slow(env)
    lr = 3e-4
    kw = {}
    if f == "zero-lr":
        lr = 0.0
    if f == "lr-zero-mid":
        lr = lambda progress: 3e-4 if progress > 0.6 else 0.0  # noqa: E731
    if f == "lr-too-high":
        lr = 1e4
        kw["max_grad_norm"] = 1e30
    model = PPO("MlpPolicy", env, n_steps=512, batch_size=64, n_epochs=4, learning_rate=lr, seed=a.seed,
                verbose=1, device="cpu", **kw)
    if f == "frozen":
        # the optimizer holds none of the policy's parameters: gradients are computed, nothing is updated
        model.policy.optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=3e-4)

    class Boom(BaseCallback):
        def _on_step(self):
            if self.num_timesteps == 2600:
                if f == "crash":
                    raise RuntimeError("injected failure at timestep 2600")
                if f == "oom":
                    torch.empty(2 ** 48, 1024)
            return True
    model.learn(total_timesteps=5120, callback=Boom())
    return 0


if __name__ == "__main__":
    sys.exit(main())
