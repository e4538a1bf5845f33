"""The conda environments are static files here (no conda on CI): parse them and check the pins."""

import re
import tomllib

import yaml
from conftest import ROOT


def pyproject_pins() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(d.split("==") for d in deps)


def env_pins(path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return dict(p.split("==") for p in pip)


def test_every_env_pins_the_same_versions_as_pyproject():
    pins = pyproject_pins()
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert {p.stem for p in envs} == {"data", "train", "figures"}
    for path in envs:
        for name, version in env_pins(path).items():
            assert pins.get(name) == version, (
                f"{path.name}: {name}=={version}, pyproject has {pins.get(name)}"
            )


def test_every_rule_with_a_script_names_an_existing_env():
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        rules = re.split(r"\n\s*rule ", text)[1:]
        for body in rules:
            if "script:" in body:
                env = re.search(r'conda:\s*\n\s*"\.\./envs/(\w+)\.yaml"', body)
                assert env, f"{smk.name}: rule {body.split(':')[0]} has no conda env"
                assert (ROOT / "envs" / f"{env[1]}.yaml").exists()


def test_train_env_has_the_deep_learning_stack():
    pins = env_pins(ROOT / "envs" / "train.yaml")
    assert {"torch", "torchvision", "fastai"} <= set(pins)


def requirement_pins(path) -> dict[str, str]:
    """name == version lines of a requirements file (comments and `# build` notes dropped)."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return dict(line.split("==") for line in lines if line)


def canonical(pins: dict[str, str]) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins.items()}


def test_the_gpu_machine_gets_every_runtime_dependency():
    """What the GPU machine has plus the wheels it is sent cover pyproject's dependencies; what
    is sent is pinned as pyproject pins it, so the prepared GPU call runs the versions the tests
    run."""
    machine = canonical(requirement_pins(ROOT / "benchmarks" / "gpu_machine.txt"))
    wheels = canonical(requirement_pins(ROOT / "benchmarks" / "gpu_wheels.txt"))
    assert not set(machine) & set(wheels)
    for name, version in canonical(pyproject_pins()).items():
        assert name in machine or wheels.get(name) == version, (
            f"{name}=={version}: sent as {wheels.get(name)}"
        )
