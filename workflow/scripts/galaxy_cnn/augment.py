"""Augmentations on (N, C, H, W) tensors, done on the training device: dihedral symmetries and
shifts."""

from __future__ import annotations

import torch


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th (0-7) of the 8 symmetries of the square on the last two dims of (..., H, W).

    Bit 2 of k transposes, bit 0 flips columns, bit 1 flips rows: the 8 compositions are the 8
    symmetries.
    """
    if k & 4:
        x = x.transpose(-1, -2)
    if k & 1:
        x = x.flip(-1)
    return x.flip(-2) if k & 2 else x


def random_dihedral(x: torch.Tensor, ks: torch.Tensor) -> torch.Tensor:
    """Symmetry ks[i] (as in `dihedral`) of sample i of a square (N, C, H, W) batch, without a
    host sync."""
    shape = (-1, 1, 1, 1)
    x = torch.where((ks & 4).bool().view(shape), x.transpose(-1, -2), x)
    x = torch.where((ks & 1).bool().view(shape), x.flip(-1), x)
    return torch.where((ks & 2).bool().view(shape), x.flip(-2), x)


def random_shift(x: torch.Tensor, shifts: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Translate sample i of (N, C, H, W) by shifts[i] = (dy, dx) px in [-max, max], reflecting
    edges."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (max_shift,) * 4, mode="reflect")
    dev = x.device
    rows = (shifts[:, 0:1] + max_shift) + torch.arange(h, device=dev)  # (N, H)
    cols = (shifts[:, 1:2] + max_shift) + torch.arange(w, device=dev)  # (N, W)
    out = padded[torch.arange(n, device=dev)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)  # advanced indexing puts the channel axis last
