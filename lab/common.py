"""Shared helpers for lab modules."""
import argparse
import os
import random


def parse_args(argv, faults):
    p = argparse.ArgumentParser()
    p.add_argument("--fault", default="healthy", choices=sorted(faults))
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def seed_all(seed):
    random.seed(seed)
    try:
        import numpy as np
        np.random.seed(seed)
    except ImportError:
        pass
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:
        pass


def offline():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def huge_alloc():
    """Request ~4 PB: fails at once in the allocator, never touches real memory."""
    import torch
    return torch.empty(2 ** 50, dtype=torch.float32)


def teacher_data(seed, dim, n_cls):
    """(`make(n) -> (x, y)`, the generator): samples of a noisy linear teacher with `n_cls`
    classes, drawn from one seeded generator (successive calls give the training, then the
    validation set; faults draw their shuffles from the same generator)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(dim, n_cls, generator=g)

    def make(n):
        x = torch.randn(n, dim, generator=g)
        y = (x @ teacher + 0.5 * torch.randn(n, n_cls, generator=g)).argmax(1)
        return x, y

    return make, g
