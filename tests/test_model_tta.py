import numpy as np
import pytest
import torch
from galaxy_cnn.augment import dihedral
from galaxy_cnn.model import (
    GalaxyRegressor,
    load_imagenet_body,
    load_model,
    precise_batchnorm,
    save_model,
)
from galaxy_cnn.tta import predict_tta


class Corner(torch.nn.Module):
    """Reads the top-left pixel: not symmetric, so every view gives a different answer."""

    def forward(self, x):
        return x[:, 0, 0, 0]


def test_tta_is_the_mean_over_the_eight_views():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    got = predict_tta(Corner(), imgs, batch_size=2, progress=False)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
    want = torch.stack([dihedral(x, k)[:, 0, 0, 0] for k in range(8)]).mean(0).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    corners = x[:, 0, [0, 0, -1, -1], [0, -1, 0, -1]].mean(1).numpy()  # every corner twice
    np.testing.assert_allclose(got, corners, rtol=1e-6)
    np.testing.assert_allclose(predict_tta(Corner(), imgs, views=1, progress=False), x[:, 0, 0, 0].numpy())


@pytest.mark.parametrize("size", [128, 8, 1])
def test_resnet_with_paper_head_runs_at_native_sizes(size):
    torch.manual_seed(0)
    model = GalaxyRegressor(y_mean=8.9, y_std=0.2).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, size, size) * 255)
    assert out.shape == (2,) and torch.isfinite(out).all()
    assert torch.allclose(out, torch.tensor(8.9))  # an untrained model predicts the training mean
    head = [type(m).__name__ for m in model.head]
    assert head == ["ConcatPool", "BatchNorm1d", "Dropout", "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert model.head[3].in_features == 1024 and model.head[3].out_features == 512


def test_saved_model_round_trips(tmp_path):
    model = GalaxyRegressor(8.9, 0.2).eval()
    save_model(model, str(tmp_path / "m.pt"), {"target": "oh_p50", "size": 4})
    loaded, meta = load_model(str(tmp_path / "m.pt"))
    x = torch.rand(3, 3, 4, 4) * 255
    assert meta == {"target": "oh_p50", "size": 4}
    assert torch.allclose(model(x), loaded(x))


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
