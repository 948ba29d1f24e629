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
