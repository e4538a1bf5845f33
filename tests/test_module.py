"""The workflow as a Snakemake module (docs/module.md) and as the catalog sees it.

The module tests write the Snakefile that `snakedeploy deploy-workflow` writes into a fresh folder
and run Snakemake there, as a user would; outputs and logs must land there, never in the clone.
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, job_counts

DEPLOYED = """configfile: "config/config.yaml"


module galaxy_cnn:
    snakefile:
        {snakefile}
    config:
        config


use rule * from galaxy_cnn
"""

# The demo config, shrunk: a few dozen galaxies, one small size, no real images to compare with.
SMALL = {
    "synthetic": {"n_galaxies": 40},
    "cutouts": {"size": 16, "scale": 2.368, "shards": 2},
    "targets": {"oh_p50": [16], "lgm_tot_p50": [16]},
    "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "seeds": [3]},
    "calibration": {"real_images": "absent"},
}


def snakemake(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=900, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} in {cwd} failed:\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}"
        )
    return proc


def deploy(folder: Path, snakefile: str) -> Path:
    """What snakedeploy writes: workflow/Snakefile naming the module, config/ copied from the clone
    (here the demo as config.yaml, shrunk)."""
    (folder / "workflow").mkdir(parents=True)
    (folder / "config").mkdir()
    (folder / "workflow" / "Snakefile").write_text(DEPLOYED.format(snakefile=snakefile))
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    for key, value in SMALL.items():
        config[key] = config[key] | value if isinstance(config.get(key), dict) else value
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def repo_files() -> dict[str, tuple[int, int]]:
    """Every file of the clone with its size and time, outside git's, pip's and Python's caches."""
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
    files = {}
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
        for name in names:
            stat = os.stat(os.path.join(folder, name), follow_symlinks=False)
            files[os.path.relpath(os.path.join(folder, name), ROOT)] = (
                stat.st_size,
                stat.st_mtime_ns,
            )
    return files


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def dag(output: str) -> tuple[dict[str, int], set[str]]:
    """A dry run's jobs per rule and the files they would write."""
    outputs = set()
    for line in re.findall(r"^\s+output: (.*)$", output, re.M):
        outputs |= set(line.split(", "))
    return job_counts(output), outputs


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["workflow/Snakefile", "Snakefile"])
def test_module_runs_from_a_fresh_folder_and_writes_only_there(entry, tmp_path):
    user = deploy(tmp_path / "project", f'"{ROOT / entry}"')
    before = repo_files()

    dry = snakemake("--dry-run", cwd=user).stdout
    jobs = job_counts(dry)
    assert jobs["train"] == 2 and jobs["cutouts_shard"] == 2 and jobs["metrics"] == 1
    assert "calibration" not in jobs

    snakemake("--cores", "2", "results/cutouts/manifest.csv", cwd=user)
    manifest = (user / "results" / "cutouts" / "manifest.csv").read_text().splitlines()
    assert len(manifest) > 30  # a header and a row per galaxy kept, of 40
    logs = {str(p.relative_to(user / "logs")) for p in (user / "logs").rglob("*.log")}
    assert logs == {"catalog.log", "cutouts/0.log", "cutouts/1.log", "cutouts/manifest.log"}
    assert "'galaxies': 40" in (user / "logs" / "cutouts" / "manifest.log").read_text()
    assert (user / ".snakemake").is_dir()
    # no new file in the clone, and no change where a run writes (sources may be edited meanwhile)
    after = repo_files()
    written = {
        k
        for k in after
        if k not in before
        or before[k] != after[k]
        and k.startswith(("results/", "logs/", ".snakemake/"))
    }
    assert not written, f"the module wrote into the clone: {sorted(written)[:10]}"


def test_module_with_a_relative_path_and_an_overriding_config(tmp_path):
    """A clone inside the project (a git submodule), named relative to the user's Snakefile; a
    --configfile given to the user's run reaches the module."""
    user = deploy(tmp_path / "project", '"galaxy-cnn/workflow/Snakefile"')
    (user / "workflow" / "galaxy-cnn").symlink_to(ROOT)
    shutil.copy(ROOT / "tests" / "configs" / "tiny.yaml", user / "config" / "tiny.yaml")
    own = job_counts(snakemake("--dry-run", cwd=user).stdout)
    tiny = job_counts(snakemake("--dry-run", "--configfile", "config/tiny.yaml", cwd=user).stdout)
    assert own["train"] == 2
    assert tiny["train"] == 4  # tiny.yaml: oh_p50 at 16, 4 and 1 px, lgm_tot_p50 at 16 px


def test_module_from_a_remote_source_fetches_the_package(tmp_path):
    """A source Snakemake downloads file by file (here over HTTP, as from github(...)): the package
    that the scripts import is fetched into the source cache with them."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(ROOT))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/workflow/Snakefile"
        user = deploy(tmp_path / "project", f'"{url}"')
        proc = snakemake("--dry-run", cwd=user)
        snakemake("--cores", "1", "results/catalog.csv", cwd=user)  # a script fetched and run
    finally:
        server.shutdown()
    assert job_counts(proc.stdout)["train"] == 2
    assert len((user / "results" / "catalog.csv").read_text().splitlines()) == 41
    # galaxy_cnn is also installed here (make's editable install): the warning names the
    # fetched copy
    fetched = re.search(r"not this workflow's \((\S+)\)", proc.stdout + proc.stderr)
    assert fetched, "no warning that an installed galaxy_cnn shadows the fetched one"
    assert fetched[1].endswith("/workflow/scripts/galaxy_cnn") and "127.0.0.1" in fetched[1]


@pytest.mark.parametrize("config", [[], ["--configfile", "config/config.yaml"]])
def test_workflow_snakefile_gives_the_same_dag(config, tmp_path):
    here = [
        "--directory",
        str(tmp_path),
    ]  # not the repository's results/, which a demo may have filled
    top = dag(snakemake("--dry-run", *here, *config, cwd=ROOT).stdout)
    catalog = dag(
        snakemake("--dry-run", "--snakefile", "workflow/Snakefile", *here, *config, cwd=ROOT).stdout
    )
    assert top[0] and top == catalog


def test_catalog_settings_parse_and_name_files_that_exist():
    settings = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    usage = settings["usage"]
    assert set(usage["software-stack-deployment"]) <= {"conda", "apptainer", "apptainer+conda"}
    assert usage["software-stack-deployment"]["conda"] is True
    named = re.findall(r"[\w./-]+\.(?:md|yaml)", usage["mandatory-flags"]["desc"])
    assert named and all((ROOT / p).is_file() for p in named), named
    # conda: true means every rule has an environment file; report: true, that the report's exist
    rules = "".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
    envs = re.findall(r"conda:\s+\"([^\"]+)\"", rules)
    assert len(envs) == len(re.findall(r"^\s*(?:rule|checkpoint) \w+:", rules, re.M))
    assert all((ROOT / "rules" / e).resolve().is_file() for e in envs)
    captions = re.findall(r"caption=\"([^\"]+)\"", rules)
    assert usage["report"] is True and captions
    assert all((ROOT / "rules" / c).resolve().is_file() for c in captions)
    # what the catalog looks for before it lists a repository under standardized usage
    assert (ROOT / "workflow" / "Snakefile").is_file() and (ROOT / "config" / "README.md").is_file()
    readme = (ROOT / "README.md").read_text().lower()
    assert "snakemake" in readme and "workflow" in readme
    license_text = (ROOT / "LICENSE").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert license_text.startswith("MIT License") and pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]


def test_package_file_list_is_complete():
    """A remote source has no folder to list: FILES.txt names what the Snakefile fetches."""
    package = ROOT / "workflow" / "scripts" / "galaxy_cnn"
    listed = [
        n for n in (package / "FILES.txt").read_text().splitlines() if n and not n.startswith("#")
    ]
    present = sorted(str(p.relative_to(package)) for p in package.rglob("*.py"))
    assert sorted(listed) == present, f"update {package / 'FILES.txt'}"


def test_ci_template_runs_the_make_lint_commands_with_the_pinned_tools():
    ci = (ROOT / ".github" / "workflows" / "dry-run.yml").read_text()
    steps = yaml.safe_load(ci)["jobs"]["lint-and-dry-run"]["steps"]
    commands = "\n".join(s.get("run", "") for s in steps)
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M)[1]
    for line in lint.split("\n"):
        if line.strip():
            assert line.strip().replace("$(BIN)/", "") in commands, line
    assert "snakemake --dry-run --configfile config/config.yaml" in commands
    pins = dict(re.findall(r"\"([\w-]+)==([\w.]+)\"", (ROOT / "pyproject.toml").read_text()))
    for tool, version in re.findall(r"([\w-]+)==([\w.]+)", commands):
        assert pins[tool] == version, tool
