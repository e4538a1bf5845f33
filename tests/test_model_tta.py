import numpy as np
import pytest
import torch
from galaxy_cnn.augment import dihedral
from galaxy_cnn.model import (
    Ensemble,
    GalaxyRegressor,
    load_imagenet_body,
    load_model,
    precise_batchnorm,
    save_model,
)
from galaxy_cnn.predict import calibrate_sigma, predict_tta


class Corner(torch.nn.Module):
    """Reads the top-left pixel of one channel as its mean, with a fixed sigma: not symmetric, so
    every view gives a different answer."""

    def __init__(self, channel: int = 0, sigma: float = 2.0):
        super().__init__()
        self.channel, self.sigma = channel, sigma

    def forward(self, x):
        mean = x[:, self.channel, 0, 0]
        return torch.stack([mean, torch.full_like(mean, self.sigma)], dim=-1)


def _views(imgs, channel):
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).double()
    return torch.stack([dihedral(x, k)[:, channel, 0, 0] for k in range(8)])  # (views, N)


def test_tta_is_the_mean_over_the_eight_views_and_its_spread_enters_sigma():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    got = predict_tta(Ensemble([Corner()]), imgs, batch_size=2, progress=False)
    views = _views(imgs, 0)
    np.testing.assert_allclose(got.mean, views.mean(0).numpy(), rtol=1e-6)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
    corners = x[:, 0, [0, 0, -1, -1], [0, -1, 0, -1]].mean(1).numpy()  # every corner twice
    np.testing.assert_allclose(got.mean, corners, rtol=1e-6)
    np.testing.assert_allclose(
        got.std, np.sqrt(4 + views.var(0, unbiased=False).numpy()), rtol=1e-6
    )
    one = predict_tta(Ensemble([Corner()]), imgs, views=1, progress=False)
    np.testing.assert_allclose(one.mean, x[:, 0, 0, 0].numpy())
    np.testing.assert_allclose(one.std, 2.0)


def test_an_ensemble_adds_the_spread_of_its_members_and_its_scale():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    got = predict_tta(
        Ensemble([Corner(0, 1.0), Corner(1, 3.0)], sigma_scale=1.5), imgs, progress=False
    )
    v0, v1 = _views(imgs, 0), _views(imgs, 1)
    m0, m1 = v0.mean(0), v1.mean(0)
    var0, var1 = 1 + v0.var(0, unbiased=False), 9 + v1.var(0, unbiased=False)
    want = np.sqrt(((var0 + var1) / 2 + torch.stack([m0, m1]).var(0, unbiased=False)).numpy())
    np.testing.assert_allclose(got.members, torch.stack([m0, m1], 1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(got.mean, ((m0 + m1) / 2).numpy(), rtol=1e-6)
    np.testing.assert_allclose(got.std, 1.5 * want, rtol=1e-6)


def test_sigma_calibration_puts_68_percent_inside_one_sigma():
    rng = np.random.default_rng(2)
    true_sigma = rng.uniform(0.05, 0.2, 20000)
    res = rng.normal(0, true_sigma)
    scale = calibrate_sigma(res, np.zeros_like(res), true_sigma / 3)  # predicted sigma 3x too small
    assert scale == pytest.approx(3, rel=0.03)
    assert np.mean(np.abs(res) < scale * true_sigma / 3) == pytest.approx(0.6827, abs=0.005)


@pytest.mark.parametrize("size", [128, 8, 1])
def test_resnet_with_paper_head_runs_at_native_sizes(size):
    torch.manual_seed(0)
    model = GalaxyRegressor(y_mean=8.9, y_std=0.2).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, size, size) * 255)
    assert out.shape == (2, 2) and torch.isfinite(out).all()
    assert torch.allclose(
        out[:, 0], torch.tensor(8.9)
    )  # an untrained model predicts the training mean
    assert torch.allclose(out[:, 1], torch.tensor(0.2))  # ... and the training spread
    head = [type(m).__name__ for m in model.head]
    assert head == [
        "ConcatPool",
        "BatchNorm1d",
        "Dropout",
        "Linear",
        "ReLU",
        "BatchNorm1d",
        "Dropout",
        "Linear",
    ]
    assert model.head[3].in_features == 1024 and model.head[3].out_features == 512


def test_saved_model_round_trips(tmp_path):
    members = [GalaxyRegressor(8.9, 0.2).eval(), GalaxyRegressor(9.0, 0.1).eval()]
    save_model(members, str(tmp_path / "m.pt"), {"target": "oh_p50", "size": 4}, sigma_scale=1.25)
    loaded, meta = load_model(str(tmp_path / "m.pt"))
    x = torch.rand(3, 3, 4, 4) * 255
    assert meta == {"target": "oh_p50", "size": 4} and loaded.sigma_scale == 1.25
    assert torch.allclose(torch.stack([m(x) for m in members], 1), loaded(x))


def test_missing_pretrained_weights_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.pretrained"):
        load_imagenet_body(GalaxyRegressor(), str(tmp_path / "nope.pth"))


def test_pretrained_weights_load_from_a_local_file(tmp_path):
    from torchvision.models import resnet34

    net = resnet34(weights=None)
    torch.save(net.state_dict(), tmp_path / "w.pth")
    model = GalaxyRegressor()
    load_imagenet_body(model, str(tmp_path / "w.pth"))
    assert torch.equal(model.body[0].weight, net.conv1.weight)


def test_precise_batchnorm_makes_eval_match_the_data():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4)).eval()
    images = torch.randint(0, 256, (64, 8, 8, 3), dtype=torch.uint8)
    x = images.permute(0, 3, 1, 2).float()
    model[1].running_mean.fill_(1e3)  # stale statistics, as after a short training run
    before = model(x).mean().item()
    precise_batchnorm(model, images, batch_size=16)
    features = model[0](x)
    assert torch.allclose(model[1].running_mean, features.mean(dim=(0, 2, 3)), atol=1e-3)
    assert abs(before) > 10 and abs(model(x).mean().item()) < 0.05  # eval output centred again
    assert not model.training and model[1].momentum == 0.1  # mode and momentum restored


@pytest.mark.parametrize("kind", ["gaussian", "beta_nll", "rmse"])
def test_training_losses(kind):
    from galaxy_cnn.model import TrainingLoss

    y = torch.tensor([8.8, 9.0, 9.2])
    mean = torch.tensor([8.9, 9.0, 9.1], requires_grad=True)
    log_sigma = torch.zeros(3, requires_grad=True)
    loss = TrainingLoss(kind, y_std=0.2)(torch.stack([mean, 0.2 * torch.exp(log_sigma)], -1), y)
    loss.backward()
    if kind == "gaussian":  # the mean gets exactly the RMSE gradient; sigma the NLL gradient
        rmse = torch.sqrt(((mean.detach() - y) ** 2).mean()) / 0.2
        mean_grad = (mean.detach() - y) / (3 * 0.2 * rmse * 0.2)
        assert torch.allclose(mean.grad, mean_grad, atol=1e-5)
        z2 = ((y - mean.detach()) / 0.2) ** 2
        assert torch.allclose(log_sigma.grad, (1 - z2) / 3, atol=1e-5)
    if kind == "rmse":
        assert log_sigma.grad is None or torch.all(log_sigma.grad == 0)
