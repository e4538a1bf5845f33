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
            assert pins.get(name) == version, f"{path.name}: {name}=={version}, pyproject has {pins.get(name)}"


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
