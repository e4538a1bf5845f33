"""`device: auto` never trains on the CPU inside a job that was given a GPU it cannot use."""

import pytest
import torch
from galaxy_cnn.device import GpuUnusable, granted_gpus, resolve_device

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available(), reason="needs a machine where CUDA is unusable"
)


@pytest.mark.parametrize(
    "env",
    [
        {"CUDA_VISIBLE_DEVICES": "0"},
        {"SLURM_JOB_GPUS": "3"},
        {"SLURM_GPUS_ON_NODE": "1"},
        {"SLURM_STEP_GPUS": "0,1"},
    ],
)
def test_a_granted_gpu_that_torch_cannot_use_stops_the_job(env):
    with pytest.raises(GpuUnusable) as err:
        resolve_device("auto", env)
    text = str(err.value)
    assert f"{next(iter(env))}=" in text and torch.__version__ in text
    assert "envs/train.yaml" in text and "train.device: cpu" in text


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"CUDA_VISIBLE_DEVICES": ""},
        {"CUDA_VISIBLE_DEVICES": "-1"},
        {"SLURM_GPUS_ON_NODE": "0"},
        {"CUDA_VISIBLE_DEVICES": "NoDevFiles"},
    ],
)
def test_no_gpu_granted_means_the_cpu(env):
    assert granted_gpus(env) is None
    assert resolve_device("auto", env) == torch.device("cpu")


def test_explicit_devices():
    assert resolve_device("cpu", {"CUDA_VISIBLE_DEVICES": "0"}) == torch.device("cpu")  # on purpose
    with pytest.raises(GpuUnusable, match="cuda:1"):
        resolve_device("cuda:1", {})
