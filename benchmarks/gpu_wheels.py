"""Fetch the wheels a bare GPU machine lacks (benchmarks/gpu_wheels.txt) for one Python version.

The GPU machine reaches no package index and takes at most 64 MiB of files with the code, so the
wheels travel in .whl/cpXY/ (git-ignored). Shared libraries are stripped of debug information
(GalSim's wheel is 56 MB, 50 of them DWARF; stripped it is 7 MB), then the total is checked. The
commit the wheels were fetched for goes beside them (COMMIT): the GPU machine's copy has no .git.
  python benchmarks/gpu_wheels.py --python 3.12            # for the GPU machine: .whl/cp312
  python benchmarks/gpu_wheels.py --python 3.11            # for this machine's proof: .whl/cp311
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = [
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_12_x86_64",
    "manylinux2010_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
]


def read_list(path: Path) -> tuple[list[str], list[str]]:
    """(requirements with wheels on PyPI, requirements to build from their sdist)."""
    download, build = [], []
    for line in path.read_text().splitlines():
        spec, _, note = line.partition("#")
        if spec.strip():
            (build if note.strip() == "build" else download).append(spec.strip())
    return download, build


def fetch(requirements: list[str], to_build: list[str], python: str, dest: Path) -> None:
    """Binary wheels for `python` on x86-64 Linux, and pure-Python wheels built from sdists."""
    abi = "cp" + python.replace(".", "")
    platform_args = [a for p in PLATFORMS for a in ("--platform", p)]
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        pip
        + [
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--abi",
            abi,
            "--abi",
            "abi3",
            "--abi",
            "none",
            *platform_args,
            "--dest",
            str(dest),
            *requirements,
        ],
        check=True,
    )
    if to_build:
        subprocess.run(
            pip + ["wheel", "--no-deps", "--wheel-dir", str(dest), *to_build], check=True
        )


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def strip_wheel(wheel: Path) -> int:
    """Strip debug information from the wheel's shared libraries, in place; bytes saved."""
    before = wheel.stat().st_size
    with zipfile.ZipFile(wheel) as zin, tempfile.TemporaryDirectory() as tmp:
        names = zin.namelist()
        libs = [n for n in names if n.endswith(".so") or ".so." in n.rsplit("/", 1)[-1]]
        if not libs:
            return 0
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        contents = {n: zin.read(n) for n in names}
        for name in libs:
            lib = Path(tmp, "lib.so")
            lib.write_bytes(contents[name])
            subprocess.run(["strip", "--strip-debug", str(lib)], check=True)
            contents[name] = lib.read_bytes()
        lines = [_record_line(n, contents[n]) for n in names if n != record] + [f"{record},,"]
        contents[record] = ("\n".join(lines) + "\n").encode()
        out = Path(tmp, wheel.name)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for name in names:
                zout.writestr(zin.getinfo(name), contents[name], compress_type=zipfile.ZIP_DEFLATED)
        shutil.move(out, wheel)
    return before - wheel.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--python", default="3.12", help="the GPU machine's Python (X.Y)")
    ap.add_argument("--list", type=Path, default=ROOT / "benchmarks" / "gpu_wheels.txt")
    ap.add_argument("--dest", type=Path, help="default: .whl/cpXY")
    ap.add_argument("--max-mib", type=float, default=60.0, help="fail above this total")
    args = ap.parse_args()
    if shutil.which("strip") is None:
        sys.exit(
            "gpu_wheels: `strip` (binutils) is needed to shrink the wheels: "
            "apt-get install binutils"
        )
    dest = args.dest or ROOT / ".whl" / ("cp" + args.python.replace(".", ""))
    if dest.exists():
        shutil.rmtree(dest)  # a stale wheel from an older list would be installed too
    dest.mkdir(parents=True)
    download, build = read_list(args.list)
    fetch(download, build, args.python, dest)
    wheels = sorted(dest.glob("*.whl"))
    saved = sum(strip_wheel(w) for w in wheels if w.stat().st_size > 1_000_000)
    total = sum(w.stat().st_size for w in wheels) / 2**20
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    (dest / "COMMIT").write_text((commit.stdout.strip() or "unknown") + "\n")
    print(
        f"{len(wheels)} wheels for Python {args.python} in {dest}: {total:.1f} MiB "
        f"({saved / 2**20:.1f} MiB of debug information stripped)"
    )
    if len(wheels) != len(download) + len(build):
        sys.exit(
            f"gpu_wheels: {len(download) + len(build)} requirements but {len(wheels)} wheels "
            f"in {dest}"
        )
    if total > args.max_mib:
        sys.exit(f"gpu_wheels: {total:.1f} MiB is over --max-mib {args.max_mib}: too much to carry")


if __name__ == "__main__":
    main()
