"""Batches for both training engines: uint8 (N, H, W, 3) images kept on the training device.

Each batch is gathered, augmented (random dihedral symmetry and shift, per sample) and cast on
that device, with all randomness drawn there from one seeded generator: no loader workers, no
per-image Python and no host sync on the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from .augment import random_dihedral, random_shift
from .device import mixed_precision_default


class DeviceBatches:
    """(images, targets) batches; `shuffle=True` gives the training stream (shuffled, augmented,
    incomplete last batch dropped), `shuffle=False` every image once, in order, as it is."""

    def __init__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        max_shift: int = 0,
        seed: int = 0,
        device: torch.device | str | None = None,
        channels_last: bool | None = None,
    ):
        self.images, self.targets = images, targets.float()
        self.channels_last = channels_last
        self.bs, self.shuffle, self.max_shift, self.seed = batch_size, shuffle, max_shift, seed
        self.dataset = self  # fastai reads dls.train_ds
        self.to(device or images.device)

    def to(self, device: torch.device | str) -> DeviceBatches:
        self.device = torch.device(device)
        self.images, self.targets = self.images.to(self.device), self.targets.to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        return self

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.bs if self.shuffle and n >= self.bs else math.ceil(n / self.bs)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, dev, gen = len(self.images), self.device, self.generator
        if self.shuffle:
            order = torch.randperm(n, generator=gen, device=dev)
            ks = torch.randint(0, 8, (n,), generator=gen, device=dev)
            shifts = torch.randint(
                -self.max_shift, self.max_shift + 1, (n, 2), generator=gen, device=dev
            )
        else:
            order = torch.arange(n, device=dev)
        for b in range(len(self)):
            idx = order[b * self.bs : (b + 1) * self.bs]
            x = self.images[idx].permute(0, 3, 1, 2).float()
            if self.shuffle:
                x = random_dihedral(x, ks[idx])
                if self.max_shift:
                    x = random_shift(x, shifts[idx], self.max_shift)
            if mixed_precision_default(dev, self.channels_last):
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.targets[idx]
