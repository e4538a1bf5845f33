"""The fast training path (GPU-resident loop) on CPU: its schedule, its batches and its training."""

import numpy as np
import pytest
import torch
from galaxy_cnn.batches import DeviceBatches
from galaxy_cnn.fast import evaluate, one_cycle, train_fast
from galaxy_cnn.model import build_model
from galaxy_cnn.predict import predict_tta
from galaxy_cnn.settings import TrainSettings


@pytest.mark.parametrize("total", [100, 37])
def test_one_cycle_is_fastais_schedule(total):
    from fastai.callback.schedule import combined_cos

    lr_max = 3e-3
    lr_sched = combined_cos(0.25, lr_max / 25, lr_max, lr_max / 1e5)
    mom_sched = combined_cos(0.25, 0.95, 0.85, 0.95)
    for step in range(total):
        lr, mom = one_cycle(step, total, lr_max)
        pos = step / total  # fastai's ParamScheduler: fraction of training done before this batch
        assert lr == pytest.approx(float(lr_sched(pos)), rel=0.05, abs=lr_max * 0.02), step
        assert mom == pytest.approx(float(mom_sched(pos)), abs=0.005), step


def _constant_images(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Image i is uniformly grey at level i (so any symmetry or shift keeps it) with target i."""
    levels = torch.arange(n, dtype=torch.uint8)
    return levels.view(n, 1, 1, 1).expand(n, size, size, 3).contiguous(), levels.float()


def test_device_batches_visit_every_galaxy_once_per_epoch_with_its_own_target():
    images, targets = _constant_images(100, 6)
    batches = DeviceBatches(images, targets, batch_size=16, shuffle=True, max_shift=2, seed=0)
    assert len(batches) == 6  # the last partial batch is dropped, as fastai does for training
    seen = []
    for x, y in batches:
        assert x.shape == (16, 3, 6, 6) and x.dtype == torch.float32
        assert torch.equal(x.amax(dim=(1, 2, 3)), y) and torch.equal(
            x.amin(dim=(1, 2, 3)), y
        )  # target follows image
        seen += y.long().tolist()
    assert len(set(seen)) == len(seen) == 96
    second = [int(v) for _, y in batches for v in y]
    assert second != seen  # reshuffled each epoch


def test_evaluate_is_the_rmse_over_all_images():
    images, targets = _constant_images(10, 4)

    class MeanPixel(torch.nn.Module):
        def forward(self, x):
            mean = x.mean(dim=(1, 2, 3))
            return torch.stack([mean, torch.ones_like(mean)], dim=-1)

    offset = torch.linspace(-1, 1, 10)
    got = evaluate(
        MeanPixel(),
        images,
        targets + offset,
        batch_size=3,
        autocast=torch.autocast("cpu", enabled=False),
    )
    assert float(got) == pytest.approx(float(offset.pow(2).mean().sqrt()), rel=1e-6)


def _learnable(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Galaxies whose target is their colour: a task a CNN learns in a few epochs even at 8 px."""
    rng = np.random.default_rng(seed)
    colour = rng.uniform(0, 1, n)
    yy, xx = np.indices((size, size))
    blob = np.exp(-((yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2) / (size / 3) ** 2)
    rgb = np.stack(
        [
            200 * blob * (1 - 0.6 * colour[:, None, None]),
            150 * blob[None].repeat(n, 0),
            200 * blob * (0.4 + 0.6 * colour[:, None, None]),
        ],
        axis=-1,
    )
    noisy = np.clip(rgb + rng.normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)
    return torch.from_numpy(noisy), torch.from_numpy(8.5 + 0.4 * colour).float()


def test_fast_path_learns_on_cpu_and_is_reproducible():
    torch.set_num_threads(2)
    train_x, train_y = _learnable(512, 8, 0)
    valid_x, valid_y = _learnable(128, 8, 1)
    cfg = TrainSettings(
        engine="fast", seed=3, batch_size=32, max_shift=0.125, lr=3e-3, weight_decay=0.01, epochs=4
    )
    model, history = train_fast(
        train_x,
        train_y,
        valid_x,
        valid_y,
        size=8,
        settings=cfg,
        device=torch.device("cpu"),
        log=lambda m: None,
    )
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]
    assert not any(row["cuda_graphs"] for row in history)  # CPU: eager
    spread = float(valid_y.std())
    assert history[-1]["valid_rmse"] < 0.5 * spread  # learned the colour, not just the mean
    assert history[-1]["valid_rmse"] < history[0]["valid_rmse"]
    assert not model.training
    _, again = train_fast(
        train_x,
        train_y,
        valid_x,
        valid_y,
        size=8,
        settings=cfg,
        device=torch.device("cpu"),
        log=lambda m: None,
    )
    assert [r["valid_rmse"] for r in again] == [
        r["valid_rmse"] for r in history
    ]  # same seed, same run


def test_evaluation_batches_are_every_image_once_in_order_unaugmented():
    images, targets = _constant_images(10, 4)
    images = images.clone()
    images[:, 0, 0] = 255  # an asymmetric mark any dihedral view or shift would move
    batches = DeviceBatches(images, targets, batch_size=4, shuffle=False, max_shift=2)
    assert len(batches) == 3  # the last, partial batch is kept
    xs, ys = zip(*batches, strict=True)
    assert torch.equal(torch.cat(ys), targets)
    assert torch.equal(torch.cat(xs), images.permute(0, 3, 1, 2).float())


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"engine": "fastai", "compile": True}, "train.compile"),
        ({"engine": "fastai", "cuda_graphs": False}, "train.cuda_graphs"),
        ({"engine": "fast", "freeze_epochs": 1, "pretrained": "w.pth"}, "train.freeze_epochs"),
        ({"engine": "fastai", "freeze_epochs": 2}, "train.pretrained is null"),
    ],
)
def test_settings_that_do_not_apply_to_the_engine_are_rejected(settings, named):
    with pytest.raises(ValueError, match=named):
        TrainSettings(**settings)


def test_mixed_precision_path_trains_on_cpu_and_differs_from_fp32():
    """bf16 autocast and channels-last (on by default only on CUDA) run here when asked for."""
    torch.set_num_threads(2)
    train_x, train_y = _learnable(64, 4, 0)
    valid_x, valid_y = _learnable(32, 4, 1)
    cfg = TrainSettings(
        engine="fast", seed=3, batch_size=32, max_shift=0.0, lr=3e-3, weight_decay=0.01, epochs=1
    )
    args = (train_x, train_y, valid_x, valid_y)
    kwargs = {"size": 4, "settings": cfg, "device": torch.device("cpu"), "log": lambda m: None}
    model, mixed = train_fast(*args, **kwargs, mixed_precision=True)
    _, fp32 = train_fast(*args, **kwargs)
    assert np.isfinite([mixed[0]["train_loss"], mixed[0]["valid_rmse"]]).all()
    assert mixed[0]["train_loss"] != fp32[0]["train_loss"]  # another arithmetic ran
    assert mixed[0]["valid_rmse"] == pytest.approx(
        fp32[0]["valid_rmse"], rel=0.2
    )  # on the same path
    weight = model.body[0].weight
    assert (
        weight.dtype == torch.float32 and weight.is_contiguous()
    )  # returned as the fp32 path returns it


def test_mixed_precision_prediction_agrees_with_fp32_to_bf16_precision():
    torch.manual_seed(0)
    images, targets = _learnable(16, 8, 0)
    model = build_model(targets, None, torch.device("cpu")).eval()
    for layer in (
        model.head[-1],
        model.sigma_head[-1],
    ):  # built at the training mean: give it a slope
        torch.nn.init.normal_(layer.weight, std=0.2)
    fp32 = predict_tta(model, images, batch_size=8, progress=False)
    mixed = predict_tta(model, images, batch_size=8, progress=False, mixed_precision=True)
    assert not np.array_equal(fp32.mean, mixed.mean)  # the bf16 branch really ran
    scale = float(targets.std())
    np.testing.assert_allclose(mixed.mean, fp32.mean, atol=0.05 * scale)
    np.testing.assert_allclose(mixed.std, fp32.std, rtol=0.1)
