"""ResNet-34 with the paper's regression head, predicting the target in its own units (dex)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet34

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConcatPool(nn.Module):
    """Average and max pooling side by side (fastai's AdaptiveConcatPool2d): 512 -> 1024 features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


def paper_head(n_features: int = 512) -> nn.Sequential:
    """AdaptiveConcatPool -> BN -> Dropout 0.25 -> Linear 512 -> ReLU -> BN -> Dropout 0.5 -> Linear 1."""
    return nn.Sequential(
        ConcatPool(),
        nn.BatchNorm1d(2 * n_features),
        nn.Dropout(0.25),
        nn.Linear(2 * n_features, 512),
        nn.ReLU(inplace=True),
        nn.BatchNorm1d(512),
        nn.Dropout(0.5),
        nn.Linear(512, 1),
    )


class GalaxyRegressor(nn.Module):
    """Images in [0, 255] (float) -> target in physical units.

    ImageNet normalisation and the target's train-set mean/std live inside the model as buffers,
    so a saved model is self-contained: raw pixels in, dex out.
    """

    def __init__(self, y_mean: float = 0.0, y_std: float = 1.0):
        super().__init__()
        net = resnet34(weights=None)
        self.body = nn.Sequential(*list(net.children())[:-2])
        self.head = paper_head(512)
        nn.init.zeros_(self.head[-1].weight)  # start from predicting the training mean
        nn.init.zeros_(self.head[-1].bias)
        self.register_buffer("pixel_mean", 255 * torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", 255 * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.register_buffer("y_mean", torch.tensor(float(y_mean)))
        self.register_buffer("y_std", torch.tensor(float(y_std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.pixel_mean) / self.pixel_std
        out = self.head(self.body(x)).squeeze(-1).float()
        return out * self.y_std + self.y_mean



def rmse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The paper's loss: RMSE of the predictions, in float32 whatever the autocast dtype."""
    return torch.sqrt(nn.functional.mse_loss(pred.float(), target.float()))

def load_imagenet_body(model: GalaxyRegressor, weights_path: str | None) -> None:
    """Load torchvision ResNet-34 ImageNet weights from a local file (no download here)."""
    if not weights_path:
        return
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"train.pretrained: weights file {path} does not exist. Download torchvision's "
            "resnet34-b627a593.pth on a machine with internet and give its local path, "
            "or set train.pretrained to null to train from scratch."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = resnet34(weights=None)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if [k for k in missing if not k.startswith("fc.")] or unexpected:
        raise ValueError(f"train.pretrained: {path} is not a torchvision ResNet-34 state dict")
    model.body.load_state_dict(nn.Sequential(*list(net.children())[:-2]).state_dict())


def save_model(model: GalaxyRegressor, path: str, meta: dict) -> None:
    from . import files

    with files.atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "meta": meta}, tmp)


def load_model(path: str, device: str | torch.device = "cpu") -> tuple[GalaxyRegressor, dict]:
    ckpt = torch.load(path, map_location=device, weights_only=False)
    model = GalaxyRegressor()
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt["meta"]


def float_batches(images: torch.Tensor, batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """uint8 NHWC images (on any device) as float NCHW batches on `device`: what the models take."""
    for s in range(0, len(images), batch_size):
        yield images[s : s + batch_size].to(device).permute(0, 3, 1, 2).float()


@torch.no_grad()
def precise_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int) -> None:
    """Re-estimate BatchNorm running statistics with the final weights (PreciseBN, Wu & Johnson 2021).

    With few steps per epoch the running averages lag behind the weights and eval-mode predictions
    come out biased (the demo's 64 px model was off by +0.16 dex); one pass over the training images
    (uint8 NHWC, on the model's device) with a cumulative average fixes it.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the pass
    was_training = model.training
    model.train()
    for x in float_batches(images, batch_size, next(model.parameters()).device):
        if len(x) > 1:  # a batch of one has no variance
            model(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)
