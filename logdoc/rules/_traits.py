"""What the metric names a run prints say about the kind of training it is."""
from __future__ import annotations

from ..core.batch import Batch
from ..core.vocabulary import is_adversarial, is_reinforcement


class RunTraits:
    """Whether the run prints names only reinforcement learning prints (rewards, policy and
    value losses: its "loss" is an objective that may sit at 0, go negative or rise) or names
    of adversarial training (a GAN's generator and discriminator). Names are asked once each;
    the set of names asked is bounded (a log with endless metric names asks again)."""

    def __init__(self):
        self.asked: set[str] = set()
        self.reinforcement = False
        self.adversarial = False

    def update(self, b: Batch) -> "RunTraits":
        names = b.metric_names()
        if not self.asked.issuperset(names):
            new = names - self.asked
            self.asked |= new
            if len(self.asked) > 4096:
                self.asked = set()
            self.reinforcement = self.reinforcement or any(is_reinforcement(n) for n in new)
            self.adversarial = self.adversarial or any(is_adversarial(n) for n in new)
        return self
