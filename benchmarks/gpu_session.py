"""One GPU call that proves today's code and times the paper's sweep: JSON, logs and a table in
--out.

Phases, in order; session.json is rewritten after each phase and after each model of the sweep,
so a call stopped at its time limit still reports what it finished, and a phase that would not
fit in what is left of --budget-s is skipped and says so:
  sweep     the paper's sweep as the workflow trains it: Snakemake renders, packs and splits the
            synthetic universe, then the train (BatchNorm re-estimation included), ensemble and
            predict (8-view TTA) stages of the 8 metallicity sizes and the mass model run here;
            seconds per size and in total, training images/s, test NMAD per size
  workflow  the workflow itself through Snakemake on a small synthetic universe: the fast engine
            (CUDA graphs on a GPU) with two seeds, their ensemble, two CV folds, test predictions
            and an apply folder, then the fastai engine; every output finite, pred_std coverage
  fastai    the fastai engine (the paper config's default) on the sweep's 128 px data: images/s
  apply     apply on a folder of the sweep's 128 px cutouts: galaxies/s
Run it through benchmarks/gpu_session.sh, which installs the wheels the GPU machine lacks first.
`--cpu` runs every phase at a size a 2-core CPU finishes in minutes: a proof that the call works,
not a benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
from galaxy_cnn import metrics, provenance  # noqa: E402


@dataclass(frozen=True)
class Scale:
    """How big each phase is: the GPU call's sizes, or a CPU proof's."""

    workflow_galaxies: int = 3000
    workflow_cutout: tuple[int, float] = (128, 0.296)  # size (px), scale ("/px)
    workflow_sizes: tuple[int, ...] = (128,)
    workflow_epochs: int = 4
    sweep_galaxies: int = 128_000  # 76,800 training images
    sweep_cutout: tuple[int, float] = (128, 0.296)
    sweep_sizes: tuple[int, ...] = (128, 64, 32, 16, 8, 4, 2, 1)
    mass_size: int = 128
    epochs: int = 7
    batch_size: int = 256
    lr: float = 2e-3
    fastai_epochs: int = 1
    apply_galaxies: int = 20_000
    device: str = "auto"


CPU = Scale(
    workflow_galaxies=150,
    workflow_cutout=(32, 1.184),
    workflow_sizes=(32,),
    workflow_epochs=1,
    sweep_galaxies=400,
    sweep_cutout=(32, 1.184),
    sweep_sizes=(32, 16, 8, 4, 2, 1),
    mass_size=32,
    epochs=1,
    batch_size=32,
    apply_galaxies=100,
    device="cpu",
)


PHASE_MINIMUM_S = {
    "workflow": 150,
    "fastai": 40,
    "apply": 30,
}  # on a GPU, from the estimates in the docs


class Session:
    """session.json under --out, rewritten after every phase, and a log per Snakemake run."""

    def __init__(self, out: Path, scale: Scale, budget_s: float | None):
        self.out, self.deadline = out, None if budget_s is None else time.monotonic() + budget_s
        (out / "logs").mkdir(parents=True, exist_ok=True)
        self.data = {
            "commit": os.environ.get("GPU_SESSION_COMMIT") or provenance.git_revision(ROOT),
            "scale": asdict(scale),
            "budget_s": budget_s,
            "machine": machine(),
            "provenance": provenance.collect(),
            "phases": {},
        }
        self.save()

    def fits(self, seconds: float) -> bool:
        """Whether `seconds` more fit in the budget."""
        return self.deadline is None or time.monotonic() + seconds < self.deadline

    def record(self, phase: str, values: dict, *, quiet: bool = False) -> None:
        self.data["phases"][phase] = values
        if not quiet:
            print(f"== {phase}: {json.dumps(values, default=float)[:2000]}", flush=True)
        self.save()

    def save(self) -> None:
        (self.out / "session.json").write_text(
            json.dumps(self.data, indent=2, default=float) + "\n"
        )


def machine() -> dict:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "gpu": gpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }


def write_config(work: Path, overrides: dict) -> Path:
    """The demo config with `overrides` merged in (one level deep; `targets` replaced whole), as
    work/config.yaml."""
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    for key, value in overrides.items():
        merge = isinstance(value, dict) and isinstance(config.get(key), dict) and key != "targets"
        config[key] = config[key] | value if merge else value
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(work: Path, config: Path, targets: list[str], log: Path) -> float:
    """Run the workflow in `work` (on all cores); seconds. A failure names its log."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(config),
        "--cores",
        str(os.cpu_count()),
        "--show-failed-logs",
        *targets,
    ]
    t0 = time.perf_counter()
    with open(log, "a") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"snakemake exited {done.returncode}; see {log}")
    return time.perf_counter() - t0


def prediction_checks(csv: Path) -> dict:
    """NMAD, finiteness and pred_std coverage of one predictions file."""
    df = pd.read_csv(csv)
    finite = bool(
        np.isfinite(df[["pred", "pred_std"]].to_numpy(float)).all() and (df["pred_std"] > 0).all()
    )
    row = {"n": len(df), "finite": finite, "nmad": metrics.nmad(df["pred"] - df["true"])}
    return row | metrics.uncertainty_summary(df["true"], df["pred"], df["pred_std"])


def rule_seconds(work: Path) -> dict:
    """Wall seconds of every job that wrote a Snakemake benchmark file, by its file name."""
    out = {}
    for tsv in sorted((work / "results" / "benchmarks").rglob("*.tsv")):
        out[str(tsv.relative_to(work / "results" / "benchmarks"))] = float(
            pd.read_csv(tsv, sep="\t")["s"].iloc[0]
        )
    return out


def workflow_phase(s: Scale, work: Path, logs: Path) -> dict:
    """Both engines through Snakemake, seeds, ensemble, CV folds, predictions and an apply
    folder."""
    size, scale = s.workflow_cutout
    common = {
        "synthetic": {"n_galaxies": s.workflow_galaxies},
        "cutouts": {"size": size, "scale": scale},
        "targets": {"oh_p50": list(s.workflow_sizes), "lgm_tot_p50": [s.workflow_sizes[-1]]},
        "calibration": {"real_images": ""},
    }
    train = {
        "epochs": s.workflow_epochs,
        "batch_size": min(128, s.batch_size),
        "lr": s.lr,
        "device": s.device,
    }
    out = {}
    fast = work / "fast"
    config = write_config(
        fast, common | {"train": train | {"engine": "fast", "seeds": [1, 2]}, "cv": {"folds": 2}}
    )
    out["fast_seconds"] = snakemake(fast, config, [], logs / "workflow_fast.log")
    apply_in = fast / "apply_in"  # a folder of the user's own, outside results/
    apply_in.mkdir(exist_ok=True)
    for jpg in sorted((fast / "results" / "cutouts").glob("*.jpg"))[:50]:
        shutil.copy(jpg, apply_in / jpg.name)
    model = f"results/models/oh_p50-{s.workflow_sizes[0]}px.pt"
    own = {"model": model, "images": "apply_in", "shards": 1}
    config = write_config(fast, yaml.safe_load(config.read_text()) | {"apply": {"own": own}})
    out["apply_seconds"] = snakemake(fast, config, [], logs / "workflow_fast.log")
    applied = pd.read_csv(fast / "results" / "applied" / "own.csv")
    ok = applied[applied["status"] == "ok"]
    out["apply"] = {
        "n": len(applied),
        "ok": len(ok),
        "finite": bool(np.isfinite(ok[["pred", "pred_std"]].to_numpy(float)).all()),
    }
    out["fast"] = {
        p.stem: prediction_checks(p)
        for p in sorted((fast / "results" / "predictions").glob("*.csv"))
    }
    out["fast_cv"] = {
        p.stem: prediction_checks(p)
        for p in sorted((fast / "results" / "cv").glob("*-fold*.csv"))
        if not p.name.startswith("split")
    }
    out["fast_jobs"] = rule_seconds(fast)
    # the same folder: the data are reused, the trainings and what follows them rerun
    config = write_config(
        fast,
        common
        | {
            "train": train | {"engine": "fastai", "seeds": [1]},
            "cv": {"folds": 0},
            "targets": {"oh_p50": [s.workflow_sizes[0]]},
        },
    )
    out["fastai_seconds"] = snakemake(fast, config, [], logs / "workflow_fastai.log")
    out["fastai"] = {
        p.stem: prediction_checks(p)
        for p in sorted((fast / "results" / "predictions").glob("*.csv"))
        if p.stem == f"oh_p50-{s.workflow_sizes[0]}px"
    }
    checks = [*out["fast"].values(), *out["fast_cv"].values(), *out["fastai"].values()]
    out["all_finite"] = (
        all(c["finite"] for c in checks) and out["apply"]["finite"] and out["apply"]["ok"] > 0
    )
    if not out["all_finite"] or not out["fast_cv"]:
        raise RuntimeError(f"workflow outputs not as expected: {json.dumps(out, default=float)}")
    return out


def sweep_data(s: Scale, work: Path, logs: Path) -> tuple[dict, dict]:
    """Render, pack and split the synthetic universe with the workflow; (paths, timings)."""
    size, scale = s.sweep_cutout
    config = write_config(
        work,
        {
            "synthetic": {"n_galaxies": s.sweep_galaxies},
            "cutouts": {"size": size, "scale": scale, "shards": os.cpu_count()},
            "targets": {"oh_p50": list(s.sweep_sizes), "lgm_tot_p50": [s.mass_size]},
        },
    )
    targets = ["results/packed/images.npy", "results/split.csv", "results/catalog.csv"]
    seconds = snakemake(work, config, targets, logs / "sweep_data.log")
    r = work / "results"
    paths = {
        "images": str(r / "packed" / "images.npy"),
        "index": str(r / "packed" / "index.csv"),
        "catalog": str(r / "catalog.csv"),
        "split": str(r / "split.csv"),
        "pack_report": str(r / "packed" / "report.json"),
    }
    return paths, {"render_pack_split_seconds": seconds} | rule_seconds(work)


def one_model(s: Scale, data: dict, out: Path, target: str, size: int, settings: dict) -> dict:
    """Train, ensemble and predict one (target, size) as the train, ensemble and predict rules
    do."""
    from galaxy_cnn import ensemble, predict, train

    stem = out / f"{target}-{size}px"
    t0 = time.perf_counter()
    meta = train.train_model(
        **data,
        target=target,
        size=size,
        out_model=f"{stem}.seed1.pt",
        out_history=f"{stem}.history.csv",
        out_meta=f"{stem}.seed1.json",
        settings=settings,
        threads=os.cpu_count(),
    )
    t1 = time.perf_counter()
    inputs = {k: data[k] for k in ("images", "index", "catalog", "split")}
    ensemble.make_ensemble(
        members=[f"{stem}.seed1.pt"],
        **inputs,
        out_model=f"{stem}.pt",
        out_meta=f"{stem}.json",
        device=s.device,
        threads=os.cpu_count(),
    )
    t2 = time.perf_counter()
    predict.predict_split(
        model=f"{stem}.pt",
        **inputs,
        which="test",
        out_csv=f"{stem}.test.csv",
        out_meta=f"{stem}.test.json",
        device=s.device,
        threads=os.cpu_count(),
    )
    t3 = time.perf_counter()
    history = pd.read_csv(f"{stem}.history.csv")
    row = {
        "target": target,
        "size": size,
        "n_train": meta["n_train"],
        "train_seconds": t1 - t0,
        "train_loop_seconds": meta["train_seconds"],
        "ensemble_seconds": t2 - t1,
        "predict_seconds": t3 - t2,
        "seconds": t3 - t0,
        "device": meta["device"],
    }
    if "train_seconds" in history.columns:  # the fast engine times each epoch's training steps
        steady = history["train_seconds"].iloc[1:] if len(history) > 1 else history["train_seconds"]
        row["images_per_s"] = meta["n_train"] / float(steady.median())
    return row | prediction_checks(Path(f"{stem}.test.csv"))


def sweep_phase(s: Scale, work: Path, logs: Path, session: Session) -> tuple[dict, dict]:
    """The data, then one model after another, each recorded as it ends; stops when the budget
    has no room for another model (the next one's time is guessed from the last one's)."""
    data, prep = sweep_data(s, work, logs)
    settings = {
        "engine": "fast",
        "epochs": s.epochs,
        "batch_size": s.batch_size,
        "lr": s.lr,
        "device": s.device,
        "seed": 1,
    }
    models = work / "sweep_models"
    models.mkdir(exist_ok=True)
    out = {"data": prep, "settings": settings, "models": [], "complete": False}
    todo = [("oh_p50", z) for z in s.sweep_sizes] + [("lgm_tot_p50", s.mass_size)]
    for target, size in todo:
        if out["models"] and not session.fits(out["models"][-1]["seconds"]):
            out["stopped"] = f"out of time before {target} at {size} px"
            break
        out["models"].append(one_model(s, data, models, target, size, settings))
        rows = out["models"]
        out["total_seconds"] = sum(r["seconds"] for r in rows)
        out["metallicity_seconds"] = sum(r["seconds"] for r in rows if r["target"] == "oh_p50")
        out["complete"] = len(rows) == len(todo)
        session.record("sweep", out, quiet=True)
        print(
            f"-- {target} {size} px: {rows[-1]['seconds']:.1f} s, NMAD {rows[-1]['nmad']:.4f}",
            flush=True,
        )
    return data, out


def fastai_phase(s: Scale, data: dict, work: Path) -> dict:
    """The paper config's engine and recipe (bs 64, lr 1e-3) at the largest size: images/s."""
    from galaxy_cnn import train

    size = s.sweep_sizes[0]
    settings = {
        "engine": "fastai",
        "epochs": s.fastai_epochs,
        "batch_size": 64,
        "lr": 1e-3,
        "device": s.device,
    }
    meta = train.train_model(
        **data,
        target="oh_p50",
        size=size,
        out_model=str(work / "fastai.pt"),
        out_history=str(work / "fastai.history.csv"),
        out_meta=str(work / "fastai.json"),
        settings=settings,
        threads=os.cpu_count(),
    )
    return {
        "size": size,
        "settings": settings,
        "n_train": meta["n_train"],
        "train_seconds": meta["train_seconds"],
        "images_per_s_end_to_end": meta["n_train"] * s.fastai_epochs / meta["train_seconds"],
        "note": "train_seconds includes BatchNorm re-estimation and the validation pass",
    }


def apply_phase(s: Scale, work: Path) -> dict:
    """apply_model on a folder of 128 px cutouts with the sweep's ensemble model: galaxies/s."""
    from galaxy_cnn import apply

    size = s.sweep_sizes[0]
    folder = work / "apply_in"
    folder.mkdir(exist_ok=True)
    for jpg in sorted((work / "results" / "cutouts").glob("*.jpg"))[: s.apply_galaxies]:
        if not (folder / jpg.name).exists():
            os.link(jpg, folder / jpg.name)
    n = len(list(folder.glob("*.jpg")))
    t0 = time.perf_counter()
    apply.apply_model(
        str(work / "sweep_models" / f"oh_p50-{size}px.pt"),
        str(folder),
        str(work / "applied.csv"),
        device=s.device,
    )
    seconds = time.perf_counter() - t0
    table = pd.read_csv(work / "applied.csv")
    return {
        "size": size,
        "n": n,
        "ok": int((table["status"] == "ok").sum()),
        "seconds": seconds,
        "galaxies_per_s": n / seconds,
    }


def summary_table(data: dict) -> str:
    """The short table printed last."""
    lines = [
        f"GPU session on {data['machine']['gpu'] or 'CPU'} ({data['machine']['cpu_count']} cores)"
    ]
    phases = data["phases"]
    for name, values in phases.items():
        if "error" in values:
            lines.append(f"{name:9s} FAILED: {values['error'].splitlines()[-1]}")
        if "skipped" in values:
            lines.append(f"{name:9s} skipped: {values['skipped']}")
    if "sweep" in phases and "models" in phases["sweep"]:
        lines.append("target        px  seconds  images/s   NMAD  cov1s")
        for r in phases["sweep"]["models"]:
            lines.append(
                f"{r['target']:12s} {r['size']:3d} {r['seconds']:8.1f} "
                f"{r.get('images_per_s', 0):9.0f} {r['nmad']:6.4f} {r['coverage_1sigma']:6.3f}"
            )
        sweep = phases["sweep"]
        if sweep["models"]:
            lines.append(
                f"sweep total {sweep['total_seconds']:.1f} s "
                f"(metallicity {sweep['metallicity_seconds']:.1f} s)"
                f"{'' if sweep['complete'] else ', INCOMPLETE: ' + sweep.get('stopped', 'stopped')}"
            )
    if "workflow" in phases and "fast_seconds" in phases["workflow"]:
        w = phases["workflow"]
        lines.append(
            f"workflow: fast {w['fast_seconds']:.0f} s, fastai {w['fastai_seconds']:.0f} s, "
            f"all outputs finite: {w['all_finite']}"
        )
    if "fastai" in phases and "images_per_s_end_to_end" in phases["fastai"]:
        f = phases["fastai"]
        lines.append(f"fastai engine {f['images_per_s_end_to_end']:.0f} images/s at {f['size']} px")
    if "apply" in phases and "galaxies_per_s" in phases["apply"]:
        a = phases["apply"]
        lines.append(
            f"apply {a['galaxies_per_s']:.0f} galaxies/s at {a['size']} px "
            f"({a['ok']} of {a['n']} ok)"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_session_out")))
    ap.add_argument("--work", type=Path, default=Path("/tmp/gpu_session_work"))
    ap.add_argument(
        "--cpu", action="store_true", help="every phase at a CPU size (a proof, not a benchmark)"
    )
    ap.add_argument("--phases", default="sweep,workflow,fastai,apply")
    ap.add_argument("--sweep-galaxies", type=int, help="instead of the scale's (128,000 on a GPU)")
    ap.add_argument(
        "--budget-s",
        type=float,
        help="seconds this call may take (default: 530 on a GPU, none with --cpu)",
    )
    args = ap.parse_args()
    scale = CPU if args.cpu else Scale()
    if args.sweep_galaxies:
        scale = replace(scale, sweep_galaxies=args.sweep_galaxies)
    session = Session(args.out, scale, args.budget_s or (None if args.cpu else 530.0))
    logs = args.out / "logs"
    phases = args.phases.split(",")
    sweep_work, data, failed = args.work / "sweep", None, False
    for phase in phases:
        if not session.fits(PHASE_MINIMUM_S.get(phase, 0)):
            session.record(
                phase, {"skipped": f"less than {PHASE_MINIMUM_S[phase]} s of the budget left"}
            )
            continue
        print(f"== {phase} ...", flush=True)
        t0 = time.perf_counter()
        try:
            if phase == "workflow":
                values = workflow_phase(scale, args.work / "workflow", logs)
            elif phase == "sweep":
                data, values = sweep_phase(scale, sweep_work, logs, session)
            elif phase == "fastai":
                data = data or sweep_data(scale, sweep_work, logs)[0]
                values = fastai_phase(scale, data, sweep_work)
            elif phase == "apply":
                values = apply_phase(scale, sweep_work)
            else:
                raise ValueError(f"unknown phase {phase!r}; known: workflow, sweep, fastai, apply")
        except Exception:  # one phase failing must not cost the others their device time
            values, failed = {"error": traceback.format_exc()}, True
            print(values["error"], flush=True)
        session.record(phase, values | {"phase_seconds": time.perf_counter() - t0})
    table = summary_table(session.data)
    (args.out / "summary.txt").write_text(table + "\n")
    print(table, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
