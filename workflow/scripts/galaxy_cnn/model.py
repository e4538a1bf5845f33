"""ResNet-34 with the paper's regression head, predicting the target in its own units (dex)."""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet34

from .errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConcatPool(nn.Module):
    """Average and max pooling side by side (fastai's AdaptiveConcatPool2d): 512 -> 1024
    features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


def paper_head(n_features: int = 512, n_out: int = 1) -> nn.Sequential:
    """AdaptiveConcatPool -> BN -> Dropout 0.25 -> Linear 512 -> ReLU -> BN -> Dropout 0.5 ->
    Linear n_out."""
    return nn.Sequential(
        ConcatPool(),
        nn.BatchNorm1d(2 * n_features),
        nn.Dropout(0.25),
        nn.Linear(2 * n_features, 512),
        nn.ReLU(inplace=True),
        nn.BatchNorm1d(512),
        nn.Dropout(0.5),
        nn.Linear(512, n_out),
    )


class GalaxyRegressor(nn.Module):
    """Images in [0, 255] (float) -> (mean, sigma) of the target in physical units (dex), shape
    (N, 2).

    The mean comes from the paper's ResNet-34 and head. Sigma comes from a second head of the same
    design that reads the body's features detached: it learns each galaxy's error without changing
    what the mean is trained on. ImageNet normalisation and the target's train-set mean and spread
    live inside the model as buffers, so a saved model is self-contained: raw pixels in, dex out.
    """

    def __init__(self, y_mean: float = 0.0, y_std: float = 1.0):
        super().__init__()
        net = resnet34(weights=None)
        self.body = nn.Sequential(*list(net.children())[:-2])
        self.head = paper_head(512)
        self.sigma_head = paper_head(512)
        for layer in (
            self.head[-1],
            self.sigma_head[-1],
        ):  # start from the training mean and spread
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.register_buffer("pixel_mean", 255 * torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", 255 * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.register_buffer("y_mean", torch.tensor(float(y_mean)))
        self.register_buffer("y_std", torch.tensor(float(y_std)))

    @torch.no_grad()
    def drop_sigma_head(self) -> None:
        """For a model trained without a sigma loss: predict sigma ~ 0, so that its uncertainty is
        the spread of views (and seeds) alone, not an untrained constant."""
        self.sigma_head[-1].weight.zero_()
        self.sigma_head[-1].bias.fill_(-9.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body((x - self.pixel_mean) / self.pixel_std)
        mean = self.head(features).squeeze(-1).float() * self.y_std + self.y_mean
        log_sigma = self.sigma_head(features.detach()).squeeze(-1).float()
        return torch.stack([mean, torch.exp(log_sigma.clamp(-9.0, 4.0)) * self.y_std], dim=-1)


class Ensemble(nn.Module):
    """Members trained with different seeds; (N, members, 2) out. `sigma_scale` (fitted on the
    validation split when the ensemble is made) calibrates the combined standard deviation."""

    def __init__(self, members: list[GalaxyRegressor], sigma_scale: float = 1.0):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.sigma_scale = float(sigma_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members], dim=1)


def rmse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The paper's loss: RMSE of the predicted means, in float32 whatever the autocast dtype."""
    mean = pred[..., 0] if pred.ndim == 2 else pred
    return torch.sqrt(nn.functional.mse_loss(mean.float(), target.float()))


LOSSES = ("gaussian", "beta_nll", "rmse")


class TrainingLoss:
    """The training loss, in units of the training targets' spread `y_std`.

    gaussian: the paper's RMSE for the mean, plus the Gaussian negative log-likelihood of the
      targets for the sigma head with the mean held fixed; the sigma head reads detached features,
      so the body and the mean are trained exactly as the paper's;
    beta_nll: Seitzer et al. (2022), beta = 0.5: the NLL, each galaxy weighted by sigma^(2 beta)
      (detached), trains the mean (and the body) too;
    rmse: the paper's loss alone (sigma untrained; the spread of views and seeds remains).
    """

    def __init__(self, kind: str, y_std: float, beta: float = 0.5):
        if kind not in LOSSES:
            raise ValueError(f"train.loss must be one of {LOSSES}, got {kind!r}")
        self.kind, self.y_std, self.beta = kind, float(y_std), beta

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = pred.float(), target.float()
        mean, sigma = pred[:, 0] / self.y_std, pred[:, 1] / self.y_std
        y = target / self.y_std
        if self.kind == "rmse":
            return torch.sqrt(nn.functional.mse_loss(mean, y))
        if self.kind == "gaussian":
            nll = torch.log(sigma) + 0.5 * ((y - mean.detach()) / sigma) ** 2
            return torch.sqrt(nn.functional.mse_loss(mean, y)) + nll.mean()
        nll = torch.log(sigma) + 0.5 * ((y - mean) / sigma) ** 2
        return (sigma.detach() ** (2 * self.beta) * nll).mean()


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
    what = f"train.pretrained: {path} is not a torchvision ResNet-34 weights file"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any file torch cannot read as plain tensors is refused
        raise InputError(f"{what} (refused to load it: {_first_line(err)})") from None
    if not isinstance(state, dict):
        raise InputError(f"{what} (it holds a {type(state).__name__}, not a state dict)")
    net = resnet34(weights=None)
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise InputError(f"{what} ({_first_line(err)})") from None
    if [k for k in missing if not k.startswith("fc.")] or unexpected:
        raise InputError(f"{what} (its tensors have other names)")
    bad = non_finite(state)
    if bad:
        raise InputError(f"train.pretrained: {path} has NaN or infinite weights ({bad})")
    model.body.load_state_dict(nn.Sequential(*list(net.children())[:-2]).state_dict())


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def non_finite(state: dict) -> str:
    """The first floating tensor of a state dict with a NaN or infinite value ('' if none)."""
    for key, value in state.items():
        if (
            torch.is_tensor(value)
            and value.is_floating_point()
            and not bool(torch.isfinite(value).all())
        ):
            return key
    return ""


def build_model(
    train_y: torch.Tensor,
    pretrained: str | None,
    device: torch.device,
    channels_last: bool | None = None,
) -> GalaxyRegressor:
    """The model both engines train: targets standardised by the training set, optional ImageNet
    body."""
    from .device import mixed_precision_default

    model = GalaxyRegressor(float(train_y.float().mean()), float(train_y.float().std()))
    load_imagenet_body(model, pretrained)
    model = model.to(device)
    if mixed_precision_default(device, channels_last):
        model = model.to(memory_format=torch.channels_last)
    return model


MODEL_FORMAT = "galaxy_cnn.model/2"


class ModelFileError(InputError):
    """A file that is not a model this workflow saved."""


def save_model(
    members: list[GalaxyRegressor], path: str, meta: dict, sigma_scale: float = 1.0
) -> None:
    """Weights (state dicts of tensors) and plain metadata: data only, loadable with
    weights_only."""
    from . import files

    states = [m.float().to(memory_format=torch.contiguous_format).state_dict() for m in members]
    with files.atomic_path(path) as tmp:
        torch.save(
            {
                "format": MODEL_FORMAT,
                "members": states,
                "sigma_scale": float(sigma_scale),
                "meta": meta,
            },
            tmp,
        )


def load_model(path: str, device: str | torch.device = "cpu") -> tuple[Ensemble, dict]:
    """Load a model saved by `save_model`, checked before use; never runs code stored in the file
    (weights_only). Any problem is a one-line ModelFileError naming the file."""
    if not Path(path).is_file():
        raise ModelFileError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):  # what torch.save writes
        raise ModelFileError(f"{path} is not a galaxy_cnn model file (not a PyTorch archive)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - whatever torch cannot read as plain data is no model of ours
        raise ModelFileError(
            f"{path} is not a galaxy_cnn model file (refused to load it: {_first_line(err)})"
        ) from None
    if not (
        isinstance(ckpt, dict)
        and ckpt.get("format") == MODEL_FORMAT
        and isinstance(ckpt.get("meta"), dict)
        and isinstance(ckpt.get("members"), list)
        and ckpt["members"]
    ):
        found = ckpt.get("format") if isinstance(ckpt, dict) else None
        if (
            isinstance(found, str)
            and found.startswith("galaxy_cnn.model/")
            and found != MODEL_FORMAT
        ):
            raise ModelFileError(
                f"{path} was saved by another version of this workflow ({found}, this one reads "
                f"{MODEL_FORMAT}); retrain it, e.g. snakemake --forcerun train"
            )
        raise ModelFileError(
            f"{path} is not a galaxy_cnn model file (expected format {MODEL_FORMAT})"
        )
    meta, sigma_scale = ckpt["meta"], ckpt.get("sigma_scale")
    problem = meta_problem(meta)
    if problem:
        raise ModelFileError(f"{path}: {problem}")
    if not (isinstance(sigma_scale, float) and math.isfinite(sigma_scale) and sigma_scale > 0):
        raise ModelFileError(
            f"{path}: its sigma_scale is {sigma_scale!r}, not a finite positive number"
        )
    members = []
    for k, state in enumerate(ckpt["members"]):
        member = GalaxyRegressor()
        try:
            member.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError, ValueError) as err:
            raise ModelFileError(
                f"{path}: its weights do not fit this workflow's ResNet-34 ({_first_line(err)})"
            ) from None
        bad = non_finite(state)
        if bad:
            raise ModelFileError(f"{path}: member {k} has NaN or infinite weights ({bad})")
        members.append(member)
    return Ensemble(members, sigma_scale).to(device).eval(), meta


def meta_problem(meta: dict) -> str:
    """What makes a model's metadata unusable: target, size, and the cutouts it was trained on."""
    target, size, cutouts = meta.get("target"), meta.get("size"), meta.get("cutouts")
    if not isinstance(target, str) or not target.isidentifier():
        return f"its metadata lacks a valid target and size (target {target!r})"
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        return f"its metadata lacks a valid target and size (size {size!r})"
    if cutouts is None:
        return ""
    full, scale = (
        (cutouts.get("size"), cutouts.get("scale")) if isinstance(cutouts, dict) else (None, None)
    )
    if not isinstance(full, int) or isinstance(full, bool) or full < 1:
        return f"its cutout size {full!r} is not a positive integer"
    if not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
        return f"its cutout scale {scale!r} is not a finite positive number (arcsec/px)"
    if full % size:
        return f"its image size {size} px does not divide its cutout size {full} px"
    return ""


def float_batches(
    images: torch.Tensor, batch_size: int, device: torch.device
) -> Iterator[torch.Tensor]:
    """uint8 NHWC images (on any device) as float NCHW batches on `device`: what the models take."""
    for s in range(0, len(images), batch_size):
        yield images[s : s + batch_size].to(device).permute(0, 3, 1, 2).float()


@torch.no_grad()
def precise_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int) -> None:
    """Re-estimate BatchNorm running statistics with the final weights (PreciseBN, Wu & Johnson
    2021).

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
