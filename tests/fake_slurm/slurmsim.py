"""A fake SLURM on one machine: sbatch, squeue, sacct, scancel, sinfo, scontrol, sacctmgr, sshare, srun.

Standard library only: the shims in ``bin/`` run this under whatever ``python3`` is first on PATH.

State lives in the directory ``$FAKE_SLURM_DIR``:

* ``config.json``: the cluster (partitions with their limits, accounts, a cap on running jobs, a
  time scale); optional, absent means "accept any partition/account, no limits".
* ``jobs/<raw id>.json``: one record per job (per task for job arrays), rewritten atomically.
* ``scripts/<raw id>.sh``: the batch script as submitted (``--wrap`` becomes ``#!/bin/sh``).
* ``next_id``, ``.lock``: the job id counter and the lock for read-modify-write of records.

``sbatch`` validates its options the way sbatch does (getopt rules, unknown options and bad values
rejected, partition/account/limit checks against ``config.json``), writes a PENDING record and
starts a detached supervisor (``slurmsim.py _supervise``) that waits for a slot, runs the script in
its own session with the SLURM_* environment of a batch job, enforces the time limit and writes the
final state (COMPLETED, FAILED, CANCELLED by <uid>, TIMEOUT) with exit code, times and rusage.
``srun`` inside a job records a job step and runs the command.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import getpass
import json
import math
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROG_VERSION = "slurm 23.11.10"

DEFAULT_CONFIG: dict = {
    "cluster_name": "fakecluster",
    "node_name": "fakenode1",
    # {"cpu": {"default": true, "cpus": 64, "mem_mb": 256000, "gpus": 0, "max_time": 1440}}
    # (max_time in minutes; any limit may be null). None: any partition is accepted.
    "partitions": None,
    # ["acct1", ...]: the user's associations (first is the default). None: anything goes and
    # sacctmgr/sshare report nothing (the plugin then skips its account validation).
    "accounts": None,
    "max_running": None,  # jobs RUNNING at once; the rest stay PENDING (Reason=Resources)
    "seconds_per_minute": 60,  # wall seconds per minute of --time (shrink to test TIMEOUT fast)
    "kill_wait": 2,  # seconds between SIGTERM and SIGKILL (KillWait)
    "min_job_age": 300,  # seconds finished jobs stay visible to squeue (MinJobAge)
    "max_array_size": 1001,
    "first_job_id": 1001,
}

FAIL_STATES = {"FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
               "DEADLINE", "PREEMPTED"}
ACTIVE_STATES = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "REQUEUED"}
COMPACT_STATE = {"PENDING": "PD", "RUNNING": "R", "COMPLETED": "CD", "COMPLETING": "CG",
                 "FAILED": "F", "CANCELLED": "CA", "TIMEOUT": "TO", "NODE_FAIL": "NF",
                 "OUT_OF_MEMORY": "OOM", "SUSPENDED": "S", "PREEMPTED": "PR", "BOOT_FAIL": "BF",
                 "DEADLINE": "DL", "REQUEUED": "RQ", "CONFIGURING": "CF"}


class SlurmError(Exception):
    """An error a SLURM command reports on stderr before exiting with ``rc``."""

    def __init__(self, msg: str, rc: int = 1):
        super().__init__(msg)
        self.rc = rc


# ----------------------------------------------------------------------------------------------
# state directory
# ----------------------------------------------------------------------------------------------


def state_dir(required: bool = True) -> Path | None:
    d = os.environ.get("FAKE_SLURM_DIR")
    if not d:
        if required:
            raise SlurmError("slurm_load_jobs error: Unable to contact slurm controller "
                             "(fake SLURM: FAKE_SLURM_DIR is not set)")
        return None
    p = Path(d)
    (p / "jobs").mkdir(parents=True, exist_ok=True)
    (p / "scripts").mkdir(parents=True, exist_ok=True)
    return p


def load_config(sdir: Path | None) -> dict:
    cfg = dict(DEFAULT_CONFIG)
    if sdir is not None and (sdir / "config.json").is_file():
        cfg.update(json.loads((sdir / "config.json").read_text()))
    return cfg


@contextlib.contextmanager
def locked(sdir: Path):
    with open(sdir / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def record_path(sdir: Path, raw_id: int | str) -> Path:
    return sdir / "jobs" / f"{raw_id}.json"


def load_record(sdir: Path, raw_id: int | str) -> dict | None:
    try:
        return json.loads(record_path(sdir, raw_id).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def save_record(sdir: Path, rec: dict) -> None:
    path = record_path(sdir, rec["job_id_raw"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(rec, indent=1, sort_keys=True))
    os.replace(tmp, path)


def all_records(sdir: Path) -> list[dict]:
    recs = []
    for p in (sdir / "jobs").glob("*.json"):
        try:
            recs.append(json.loads(p.read_text()))
        except (json.JSONDecodeError, FileNotFoundError):
            continue
    recs.sort(key=lambda r: r["job_id_raw"])
    return recs


def update_record(sdir: Path, raw_id: int, **changes) -> dict | None:
    with locked(sdir):
        rec = load_record(sdir, raw_id)
        if rec is None:
            return None
        rec.update(changes)
        save_record(sdir, rec)
        return rec


def allocate_ids(sdir: Path, cfg: dict, n: int) -> int:
    """Reserve ``n`` consecutive job ids; return the first. Caller holds the lock."""
    counter = sdir / "next_id"
    first = int(counter.read_text()) if counter.exists() else int(cfg["first_job_id"])
    counter.write_text(str(first + n))
    return first


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def reap_lost_jobs(sdir: Path, recs: list[dict]) -> list[dict]:
    """A job whose supervisor died without a verdict is NODE_FAIL (as a node crash would be)."""
    out = []
    for rec in recs:
        if rec["state"] in ("RUNNING", "PENDING") and rec.get("supervisor_pid") \
                and not pid_alive(rec["supervisor_pid"]):
            time.sleep(0.05)  # the supervisor may be writing its verdict right now
            with locked(sdir):
                fresh = load_record(sdir, rec["job_id_raw"]) or rec
                if fresh["state"] in ("RUNNING", "PENDING"):
                    fresh.update(state="NODE_FAIL", end_time=time.time(), reason="NodeDown",
                                 exit_code=0, signal=0)
                    save_record(sdir, fresh)
                rec = fresh
        out.append(rec)
    return out


# ----------------------------------------------------------------------------------------------
# option parsing (getopt_long semantics: stops at the first non-option, unique prefixes allowed)
# ----------------------------------------------------------------------------------------------

REQ, NOARG, OPT = 1, 0, 2

SBATCH_OPTIONS: list[tuple[str, str | None, int]] = [
    ("account", "A", REQ), ("acctg-freq", None, REQ), ("array", "a", REQ), ("batch", None, REQ),
    ("bb", None, REQ), ("bbf", None, REQ), ("begin", "b", REQ), ("chdir", "D", REQ),
    ("cluster-constraint", None, REQ), ("clusters", "M", REQ), ("comment", None, REQ),
    ("constraint", "C", REQ), ("container", None, REQ), ("container-id", None, REQ),
    ("contiguous", None, NOARG), ("core-spec", "S", REQ), ("cores-per-socket", None, REQ),
    ("cpu-freq", None, REQ), ("cpus-per-gpu", None, REQ), ("cpus-per-task", "c", REQ),
    ("deadline", None, REQ), ("delay-boot", None, REQ), ("dependency", "d", REQ),
    ("distribution", "m", REQ), ("error", "e", REQ), ("exclude", "x", REQ),
    ("exclusive", None, OPT), ("export", None, REQ), ("export-file", None, REQ),
    ("extra", None, REQ), ("extra-node-info", "B", REQ), ("get-user-env", None, OPT),
    ("gid", None, REQ), ("gpu-bind", None, REQ), ("gpu-freq", None, REQ), ("gpus", "G", REQ),
    ("gpus-per-node", None, REQ), ("gpus-per-socket", None, REQ), ("gpus-per-task", None, REQ),
    ("gres", None, REQ), ("gres-flags", None, REQ), ("help", "h", NOARG), ("hint", None, REQ),
    ("hold", "H", NOARG), ("ignore-pbs", None, NOARG), ("input", "i", REQ),
    ("job-name", "J", REQ), ("kill-on-invalid-dep", None, REQ), ("licenses", "L", REQ),
    ("mail-type", None, REQ), ("mail-user", None, REQ), ("mcs-label", None, REQ),
    ("mem", None, REQ), ("mem-bind", None, REQ), ("mem-per-cpu", None, REQ),
    ("mem-per-gpu", None, REQ), ("mincpus", None, REQ), ("network", None, REQ),
    ("nice", None, OPT), ("no-kill", "k", OPT), ("no-requeue", None, NOARG),
    ("nodefile", "F", REQ), ("nodelist", "w", REQ), ("nodes", "N", REQ), ("ntasks", "n", REQ),
    ("ntasks-per-core", None, REQ), ("ntasks-per-gpu", None, REQ),
    ("ntasks-per-node", None, REQ), ("ntasks-per-socket", None, REQ),
    ("open-mode", None, REQ), ("output", "o", REQ), ("overcommit", "O", NOARG),
    ("oversubscribe", "s", NOARG), ("parsable", None, NOARG), ("partition", "p", REQ),
    ("power", None, REQ), ("prefer", None, REQ), ("priority", None, REQ),
    ("profile", None, REQ), ("propagate", None, OPT), ("qos", "q", REQ), ("quiet", "Q", NOARG),
    ("reboot", None, NOARG), ("requeue", None, NOARG), ("reservation", None, REQ),
    ("segment", None, REQ), ("signal", None, REQ), ("sockets-per-node", None, REQ),
    ("spread-job", None, NOARG), ("switches", None, REQ), ("test-only", None, NOARG),
    ("thread-spec", None, REQ), ("threads-per-core", None, REQ), ("time", "t", REQ),
    ("time-min", None, REQ), ("tmp", None, REQ), ("tres-bind", None, REQ),
    ("tres-per-task", None, REQ), ("uid", None, REQ), ("usage", None, NOARG),
    ("use-min-nodes", None, NOARG), ("verbose", "v", NOARG), ("version", "V", NOARG),
    ("wait", "W", NOARG), ("wait-all-nodes", None, REQ), ("wckey", None, REQ),
    ("wrap", None, REQ),
]

SRUN_OPTIONS: list[tuple[str, str | None, int]] = [
    ("account", "A", REQ), ("chdir", "D", REQ), ("constraint", "C", REQ),
    ("cpu-bind", None, REQ), ("cpus-per-gpu", None, REQ), ("cpus-per-task", "c", REQ),
    ("dependency", "d", REQ), ("distribution", "m", REQ), ("error", "e", REQ),
    ("exact", None, NOARG), ("exclude", "x", REQ), ("exclusive", None, OPT),
    ("export", None, REQ), ("gpu-bind", None, REQ), ("gpus", "G", REQ),
    ("gpus-per-node", None, REQ), ("gpus-per-task", None, REQ), ("gres", None, REQ),
    ("gres-flags", None, REQ), ("help", "h", NOARG), ("hint", None, REQ), ("input", "i", REQ),
    ("jobid", None, REQ), ("job-name", "J", REQ), ("kill-on-bad-exit", "K", OPT),
    ("label", "l", NOARG), ("mem", None, REQ), ("mem-bind", None, REQ),
    ("mem-per-cpu", None, REQ), ("mem-per-gpu", None, REQ), ("mpi", None, REQ),
    ("nodelist", "w", REQ), ("nodes", "N", REQ), ("ntasks", "n", REQ),
    ("ntasks-per-gpu", None, REQ), ("ntasks-per-node", None, REQ), ("output", "o", REQ),
    ("overlap", None, NOARG), ("oversubscribe", "s", NOARG), ("partition", "p", REQ),
    ("pty", None, NOARG), ("quiet", "Q", NOARG), ("qos", "q", REQ), ("time", "t", REQ),
    ("unbuffered", "u", NOARG), ("verbose", "v", NOARG), ("version", "V", NOARG),
    ("wait", "W", REQ),
]


def parse_options(prog: str, argv: list[str], table, stop_at_positional: bool = True):
    """Return ([(long_name, value)], positionals) or raise SlurmError like getopt_long would."""
    longs = {name: kind for name, _short, kind in table}
    shorts = {short: (name, kind) for name, short, kind in table if short}
    opts: list[tuple[str, str | None]] = []
    pos: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        i += 1
        if tok == "--":
            pos.extend(argv[i:])
            break
        if tok.startswith("--"):
            body = tok[2:]
            name, eq, value = body.partition("=")
            if name not in longs:
                cands = [n for n in longs if n.startswith(name)]
                if len(cands) != 1:
                    what = "is ambiguous" if cands else "unrecognized option"
                    msg = (f"{prog}: option '{tok}' {what}" if cands
                           else f"{prog}: unrecognized option '{tok}'")
                    raise SlurmError(f"{msg}\nTry \"{prog} --help\" for more information")
                name = cands[0]
            kind = longs[name]
            if kind == NOARG:
                if eq:
                    raise SlurmError(f"{prog}: option '--{name}' doesn't allow an argument")
                opts.append((name, None))
            elif kind == OPT:
                opts.append((name, value if eq else None))
            else:
                if not eq:
                    if i >= len(argv):
                        raise SlurmError(f"{prog}: option '--{name}' requires an argument\n"
                                         f"Try \"{prog} --help\" for more information")
                    value = argv[i]
                    i += 1
                opts.append((name, value))
        elif tok.startswith("-") and len(tok) > 1:
            j = 1
            while j < len(tok):
                ch = tok[j]
                j += 1
                if ch not in shorts:
                    raise SlurmError(f"{prog}: invalid option -- '{ch}'\n"
                                     f"Try \"{prog} --help\" for more information")
                name, kind = shorts[ch]
                if kind in (NOARG, OPT):
                    opts.append((name, None))
                    continue
                if j < len(tok):
                    value = tok[j:]
                elif i < len(argv):
                    value = argv[i]
                    i += 1
                else:
                    raise SlurmError(f"{prog}: option requires an argument -- '{ch}'\n"
                                     f"Try \"{prog} --help\" for more information")
                opts.append((name, value))
                break
        else:
            if stop_at_positional:
                pos.append(tok)
                pos.extend(argv[i:])
                break
            pos.append(tok)
    return opts, pos


# ----------------------------------------------------------------------------------------------
# value parsing
# ----------------------------------------------------------------------------------------------


def parse_time_limit(value: str) -> int | None:
    """SLURM time spec -> seconds (None = UNLIMITED). Raises ValueError."""
    v = value.strip()
    if v.upper() in ("UNLIMITED", "INFINITE", "-1"):
        return None
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", v)
    if not m:
        raise ValueError(value)
    days, a, b, c = m.groups()
    if days is not None:  # days-hours[:minutes[:seconds]]
        return ((int(days) * 24 + int(a)) * 60 + int(b or 0)) * 60 + int(c or 0)
    if c is not None:  # hours:minutes:seconds
        return (int(a) * 60 + int(b)) * 60 + int(c)
    if b is not None:  # minutes:seconds
        return int(a) * 60 + int(b)
    return int(a) * 60  # minutes


def fmt_duration(seconds: float | None, unlimited: str = "UNLIMITED") -> str:
    if seconds is None:
        return unlimited
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}-{h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"


def fmt_cputime(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h:02d}:{m:02d}:{s:06.3f}" if h else f"{m:02d}:{s:06.3f}"


def fmt_ts(t: float | None) -> str:
    if not t:
        return "Unknown"
    return _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%S")


def parse_mem_mb(value: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)B?", value.strip(), re.IGNORECASE)
    if not m:
        raise ValueError(value)
    num, unit = float(m.group(1)), m.group(2).upper()
    factor = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[unit]
    return int(math.ceil(num * factor))


def parse_positive_int(prog: str, opt: str, value: str, minimum: int = 1) -> int:
    if not re.fullmatch(r"\d+", value.strip()) or int(value) < minimum:
        raise SlurmError(f"{prog}: error: Invalid numeric value \"{value}\" for --{opt}.")
    return int(value)


def parse_gpus(value: str) -> int:
    """--gpus / --gpus-per-node / --gpus-per-task: [type:]count[,[type:]count...]."""
    total = 0
    for part in value.split(","):
        m = re.fullmatch(r"(?:[A-Za-z0-9_.\-]+:)?(\d+)", part.strip())
        if not m:
            raise SlurmError("sbatch: error: Invalid generic resource (gres) specification")
        total += int(m.group(1))
    return total


def parse_gres_gpus(value: str) -> int:
    """--gres=name[:type][:count][,...] -> number of GPUs requested (gres 'gpu')."""
    total = 0
    for part in value.split(","):
        part = part.strip()
        if part.startswith("gres/"):
            part = part[5:]
        m = re.fullmatch(r"([A-Za-z0-9_]+)(?::([A-Za-z0-9_.\-]+))?(?::(\d+)([KMGT])?)?", part)
        if not m:
            raise SlurmError("sbatch: error: Invalid generic resource (gres) specification")
        name, typ, count, _unit = m.groups()
        if count is None and typ is not None and typ.isdigit():
            count = typ
        if name == "gpu":
            total += int(count) if count is not None else 1
    return total


def parse_array(spec: str, max_size: int) -> tuple[list[int], int | None]:
    limit = None
    if "%" in spec:
        spec, lim = spec.split("%", 1)
        limit = int(lim)
    idx: list[int] = []
    for part in spec.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part.strip())
        if not m:
            raise SlurmError("sbatch: error: Invalid job array specification")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        step = int(m.group(3)) if m.group(3) else 1
        idx.extend(range(a, b + 1, step))
    idx = sorted(set(idx))
    if not idx or idx[-1] >= max_size:
        raise SlurmError("sbatch: error: Batch job submission failed: "
                         "Invalid job array specification")
    return idx, limit


def expand_filename(pattern: str, rec: dict, step: str = "batch") -> str:
    def repl(m):
        width, ch = m.group(1), m.group(2)
        val = {
            "%": "%",
            "A": str(rec.get("array_job_id") or rec["job_id_raw"]),
            "a": str(rec["array_task_id"]) if rec.get("array_task_id") is not None else "4294967294",
            "j": str(rec["job_id_raw"]),
            "J": str(rec["job_id_raw"]),
            "N": rec.get("node") or "fakenode1",
            "n": "0",
            "s": step,
            "t": "0",
            "u": rec.get("user", ""),
            "x": rec.get("name", ""),
            "b": str((rec.get("array_task_id") or 0) % 10),
        }[ch]
        if width and ch != "%" and val.isdigit():
            val = val.zfill(int(width))
        return val

    return re.sub(r"%(\d*)([%AajJNnstuxb])", repl, pattern)


def parse_comment(comment: str | None) -> tuple[str | None, str | None]:
    """The plugin's comment is ``rule_<rule>`` or ``rule_<rule>_wildcards_<w1>_<w2>``."""
    if not comment or not comment.startswith("rule_"):
        return None, None
    body = comment[len("rule_"):]
    rule, sep, wildcards = body.partition("_wildcards_")
    return rule, (wildcards if sep else "")


def parse_target_jobs(script: str) -> list[str]:
    """Snakemake's job command carries ``--target-jobs 'rule:wc=val,...' ...``."""
    try:
        words = shlex.split(script, comments=False)
    except ValueError:
        return []
    out: list[str] = []
    for k, w in enumerate(words):
        if w == "--target-jobs":
            for x in words[k + 1:]:
                if x.startswith("-"):
                    break
                out.append(x)
    return out


# ----------------------------------------------------------------------------------------------
# sbatch
# ----------------------------------------------------------------------------------------------


def sbatch_directives(script: str) -> list[str]:
    """#SBATCH lines before the first command (after the shebang)."""
    args: list[str] = []
    for line in script.splitlines()[1:]:
        s = line.strip()
        if not s:
            continue
        if not s.startswith("#"):
            break
        if s.startswith("#SBATCH"):
            body = s[len("#SBATCH"):]
            body = body.split(" #", 1)[0]
            args.extend(shlex.split(body))
    return args


def resolve_partition(cfg: dict, name: str | None) -> tuple[str, dict]:
    parts = cfg.get("partitions")
    if parts is None:
        return (name or "cpu"), {}
    if name is None:
        defaults = [p for p, spec in parts.items() if spec.get("default")]
        if not defaults:
            raise SlurmError("sbatch: error: Batch job submission failed: "
                             "No partition specified or system default partition")
        name = defaults[0]
    if name not in parts:
        raise SlurmError("sbatch: error: invalid partition specified: " + name + "\n"
                         "sbatch: error: Batch job submission failed: Invalid partition name "
                         "specified")
    return name, parts[name] or {}


def resolve_account(cfg: dict, name: str | None) -> str | None:
    accounts = cfg.get("accounts")
    if accounts is None:
        return name
    accounts = [a.lower() for a in accounts]
    if name is None:
        return accounts[0] if accounts else None
    if name.lower() not in accounts:
        raise SlurmError("sbatch: error: Batch job submission failed: Invalid account or "
                         "account/partition combination specified")
    return name.lower()


def build_request(opts: list[tuple[str, str | None]], cfg: dict) -> dict:
    """Validate sbatch options and turn them into the resource part of a job record."""
    o: dict[str, str | None] = {}
    for k, v in opts:
        o[k] = v
    req: dict = {"options": [[k, v] for k, v in opts]}

    if sum(k in o for k in ("mem", "mem-per-cpu", "mem-per-gpu")) > 1:
        raise SlurmError("sbatch: fatal: --mem, --mem-per-cpu, and --mem-per-gpu are mutually "
                         "exclusive.")
    if "cpus-per-task" in o and "cpus-per-gpu" in o:
        raise SlurmError("sbatch: fatal: --cpus-per-gpu is mutually exclusive with "
                         "--cpus-per-task")

    req["time_limit"] = o.get("time")
    tl_seconds = None
    if "time" in o:
        try:
            tl_seconds = parse_time_limit(o["time"] or "")
        except ValueError:
            raise SlurmError(f"sbatch: error: Invalid --time specification: {o['time']}") from None
    req["mem"] = o.get("mem")
    req["mem_per_cpu"] = o.get("mem-per-cpu")
    req["mem_per_gpu"] = o.get("mem-per-gpu")
    for key in ("mem", "mem-per-cpu", "mem-per-gpu"):
        if key in o:
            try:
                req[key.replace("-", "_") + "_mb"] = parse_mem_mb(o[key] or "")
            except ValueError:
                raise SlurmError(f"sbatch: error: Invalid --{key} specification") from None
        else:
            req[key.replace("-", "_") + "_mb"] = None

    ints = {}
    for key in ("cpus-per-task", "cpus-per-gpu", "ntasks", "ntasks-per-node", "ntasks-per-gpu"):
        ints[key] = parse_positive_int("sbatch", key, o[key] or "") if key in o else None
    nodes = o.get("nodes")
    if nodes is not None and not re.fullmatch(r"\d+(-\d+)?", nodes):
        raise SlurmError(f"sbatch: error: Invalid node count specification: {nodes}")
    n_nodes = int(nodes.split("-")[0]) if nodes else 1
    if n_nodes < 1:
        raise SlurmError(f"sbatch: error: Invalid node count specification: {nodes}")

    gpus = 0
    if "gpus" in o:
        gpus = parse_gpus(o["gpus"] or "")
    if "gpus-per-node" in o:
        gpus = max(gpus, parse_gpus(o["gpus-per-node"] or "") * n_nodes)
    if "gres" in o:
        gpus = max(gpus, parse_gres_gpus(o["gres"] or "") * n_nodes)
    ntasks = ints["ntasks"] or 1
    if "gpus-per-task" in o:
        gpus = max(gpus, parse_gpus(o["gpus-per-task"] or "") * ntasks)
    if ints["ntasks-per-gpu"] is not None and gpus == 0:
        raise SlurmError("sbatch: fatal: --ntasks-per-gpu requires a GPU request (--gpus or "
                         "--gres=gpu)")
    if ints["cpus-per-gpu"] is not None and gpus == 0:
        raise SlurmError("sbatch: error: --cpus-per-gpu requires a GPU request")

    if ints["ntasks-per-gpu"]:
        ntasks = max(ntasks, ints["ntasks-per-gpu"] * gpus)
    if ints["cpus-per-gpu"]:
        cpus = ints["cpus-per-gpu"] * gpus
    else:
        cpus = ntasks * (ints["cpus-per-task"] or 1)

    partition, pspec = resolve_partition(cfg, o.get("partition"))
    account = resolve_account(cfg, o.get("account"))

    if tl_seconds is None and "time" not in o and pspec.get("default_time") is not None:
        tl_seconds = int(pspec["default_time"]) * 60
    elif tl_seconds is None and "time" not in o and pspec.get("max_time") is not None:
        tl_seconds = int(pspec["max_time"]) * 60
    if pspec.get("max_time") is not None and (tl_seconds is None
                                              or tl_seconds > int(pspec["max_time"]) * 60):
        raise SlurmError("sbatch: error: Batch job submission failed: Requested time limit is "
                         "invalid (missing or exceeds some limit)")
    unavailable = ("sbatch: error: Batch job submission failed: Requested node configuration "
                   "is not available")
    if pspec.get("max_nodes") is not None and n_nodes > int(pspec["max_nodes"]):
        raise SlurmError("sbatch: error: Batch job submission failed: Node count specification "
                         "invalid")
    if pspec.get("gpus") is not None and gpus > int(pspec["gpus"]) * n_nodes:
        raise SlurmError(unavailable)
    if pspec.get("cpus") is not None and cpus > int(pspec["cpus"]) * n_nodes:
        raise SlurmError(unavailable)
    mem_total = req["mem_mb"]
    if req["mem_per_cpu_mb"] is not None:
        mem_total = req["mem_per_cpu_mb"] * cpus
    if req["mem_per_gpu_mb"] is not None:
        mem_total = req["mem_per_gpu_mb"] * gpus
    if pspec.get("mem_mb") is not None and mem_total is not None \
            and mem_total > int(pspec["mem_mb"]) * n_nodes:
        raise SlurmError("sbatch: error: Memory specification can not be satisfied\n"
                         "sbatch: error: Batch job submission failed: Requested node "
                         "configuration is not available")

    req.update(
        partition=partition,
        account=account,
        time_limit_seconds=tl_seconds,
        time_limit_minutes=None if tl_seconds is None else int(math.ceil(tl_seconds / 60)),
        mem_total_mb=mem_total,
        cpus_per_task=ints["cpus-per-task"],
        cpus_per_gpu=ints["cpus-per-gpu"],
        ntasks=ints["ntasks"],
        ntasks_per_node=ints["ntasks-per-node"],
        ntasks_per_gpu=ints["ntasks-per-gpu"],
        nodes=nodes,
        num_nodes=n_nodes,
        alloc_cpus=cpus,
        gres=o.get("gres"),
        gpus=o.get("gpus"),
        gpus_per_node=o.get("gpus-per-node"),
        gpu_count=gpus,
        constraint=o.get("constraint"),
        qos=o.get("qos"),
        reservation=o.get("reservation"),
        clusters=o.get("clusters"),
        exclude=o.get("exclude"),
        dependency=o.get("dependency"),
        requeue=("requeue" in o) and "no-requeue" not in o,
        hold="hold" in o,
        name=o.get("job-name"),
        comment=o.get("comment"),
        output=o.get("output"),
        error=o.get("error"),
        input=o.get("input"),
        open_mode=o.get("open-mode") or "truncate",
        export=o.get("export") or "ALL",
        workdir=o.get("chdir"),
    )
    return req


def job_environment(rec: dict, cfg: dict, submit_env: dict) -> dict:
    export = rec.get("export") or "ALL"
    items = [x for x in export.split(",") if x]
    if items and items[0].upper() == "NONE":
        env = {k: submit_env[k] for k in ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TERM")
               if k in submit_env}
        items = items[1:]
    elif items and items[0].upper() == "ALL":
        env = dict(submit_env)
        items = items[1:]
    elif items:  # only the named variables (plus SLURM_*)
        env = {k: v for k, v in submit_env.items() if k.startswith("SLURM_")}
        env.update({k: submit_env[k] for k in ("PATH", "HOME", "USER") if k in submit_env})
    else:
        env = dict(submit_env)
    for item in items:
        key, eq, val = item.partition("=")
        if eq:
            env[key] = val
        elif key in submit_env:
            env[key] = submit_env[key]
    # the fake's own plumbing (what slurm.conf is to a real cluster)
    for k in ("FAKE_SLURM_DIR",):
        if k in submit_env:
            env[k] = submit_env[k]
    for k in [k for k in env if k.startswith("SLURM_")]:
        if k not in ("SLURM_CONF",):
            del env[k]

    jid = str(rec["job_id_raw"])
    node = cfg["node_name"]
    s = {
        "SLURM_JOB_ID": jid,
        "SLURM_JOBID": jid,
        "SLURM_JOB_NAME": rec.get("name") or "",
        "SLURM_JOB_PARTITION": rec.get("partition") or "",
        "SLURM_JOB_NODELIST": node,
        "SLURM_NODELIST": node,
        "SLURMD_NODENAME": node,
        "SLURM_JOB_NUM_NODES": str(rec.get("num_nodes") or 1),
        "SLURM_NNODES": str(rec.get("num_nodes") or 1),
        "SLURM_SUBMIT_DIR": rec["submit_dir"],
        "SLURM_SUBMIT_HOST": rec.get("submit_host") or "localhost",
        "SLURM_CLUSTER_NAME": cfg["cluster_name"],
        "SLURM_JOB_USER": rec.get("user") or "",
        "SLURM_JOB_UID": str(os.getuid()),
        "SLURM_CPUS_ON_NODE": str(rec.get("alloc_cpus") or 1),
        "SLURM_JOB_CPUS_PER_NODE": str(rec.get("alloc_cpus") or 1),
        "SLURM_TASKS_PER_NODE": str(rec.get("ntasks") or 1),
        "SLURM_NODEID": "0",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_TASK_PID": "",
        "SLURM_EXPORT_ENV": export,
        "ENVIRONMENT": "BATCH",
    }
    if rec.get("account"):
        s["SLURM_JOB_ACCOUNT"] = rec["account"]
    if rec.get("qos"):
        s["SLURM_JOB_QOS"] = rec["qos"]
    if rec.get("ntasks"):
        s["SLURM_NTASKS"] = s["SLURM_NPROCS"] = str(rec["ntasks"])
    if rec.get("cpus_per_task"):
        s["SLURM_CPUS_PER_TASK"] = str(rec["cpus_per_task"])
    if rec.get("cpus_per_gpu"):
        s["SLURM_CPUS_PER_GPU"] = str(rec["cpus_per_gpu"])
    if rec.get("mem_mb") is not None:
        s["SLURM_MEM_PER_NODE"] = str(rec["mem_mb"])
    if rec.get("mem_per_cpu_mb") is not None:
        s["SLURM_MEM_PER_CPU"] = str(rec["mem_per_cpu_mb"])
    if rec.get("mem_per_gpu_mb") is not None:
        s["SLURM_MEM_PER_GPU"] = str(rec["mem_per_gpu_mb"])
    if rec.get("gpus"):  # only set for -G/--gpus, as sbatch does
        s["SLURM_GPUS"] = rec["gpus"]
    if rec.get("ntasks_per_gpu"):
        s["SLURM_NTASKS_PER_GPU"] = str(rec["ntasks_per_gpu"])
    if rec.get("gpu_count"):
        ids = ",".join(str(i) for i in range(int(rec["gpu_count"])))
        s["SLURM_GPUS_ON_NODE"] = str(rec["gpu_count"])
        s["SLURM_JOB_GPUS"] = ids
        s["CUDA_VISIBLE_DEVICES"] = ids
        s["GPU_DEVICE_ORDINAL"] = ids
    if rec.get("array_job_id") is not None:
        s["SLURM_ARRAY_JOB_ID"] = str(rec["array_job_id"])
        s["SLURM_ARRAY_TASK_ID"] = str(rec["array_task_id"])
        s["SLURM_ARRAY_TASK_MIN"] = str(rec["array_task_min"])
        s["SLURM_ARRAY_TASK_MAX"] = str(rec["array_task_max"])
        s["SLURM_ARRAY_TASK_COUNT"] = str(rec["array_task_count"])
        s["SLURM_ARRAY_TASK_STEP"] = str(rec.get("array_task_step") or 1)
    env.update(s)
    return env


def cmd_sbatch(argv: list[str]) -> int:
    sdir = state_dir()
    cfg = load_config(sdir)
    opts, pos = parse_options("sbatch", argv, SBATCH_OPTIONS)
    names = {k for k, _ in opts}
    if "help" in names or "usage" in names:
        print("Usage: sbatch [OPTIONS(0)...] [ : [OPTIONS(N)...]] script(0) [args(0)...]")
        return 0
    if "version" in names:
        print(PROG_VERSION)
        return 0
    wrap = dict(opts).get("wrap")
    if wrap is not None and pos:
        raise SlurmError("sbatch: error: script arguments not permitted with --wrap option")
    if wrap is not None:
        script = f"#!/bin/sh\n# This script was created by sbatch --wrap.\n\n{wrap}\n"
        script_args: list[str] = []
    else:
        if pos and pos[0] != "-":
            try:
                script = Path(pos[0]).read_text()
            except OSError as e:
                raise SlurmError(f"sbatch: error: Unable to open file {pos[0]}: {e}") from None
        else:
            script = sys.stdin.read()
        script_args = pos[1:]
        if not script.startswith("#!"):
            raise SlurmError("sbatch: error: This does not look like a batch script.  The first\n"
                             "sbatch: error: line must start with #! followed by the path to an"
                             " interpreter.\nsbatch: error: For instance: #!/bin/sh")
        directive_opts, _ = parse_options("sbatch", sbatch_directives(script), SBATCH_OPTIONS)
        opts = directive_opts + opts  # the command line wins

    req = build_request(opts, cfg)
    submit_dir = os.getcwd()
    workdir = req["workdir"] or submit_dir
    if not os.path.isabs(workdir):
        workdir = os.path.join(submit_dir, workdir)
    if not os.path.isdir(workdir):
        raise SlurmError(f"sbatch: error: chdir to {workdir} failed: No such file or directory")

    array = dict(opts).get("array")
    indexes: list[int | None] = [None]
    array_limit = None
    if array is not None:
        indexes, array_limit = parse_array(array, int(cfg["max_array_size"]))

    test_only = "test-only" in names
    user = getpass.getuser()
    now = time.time()
    first_name = req["name"] or ("wrap" if wrap is not None else
                                 (os.path.basename(pos[0]) if pos else "sbatch"))
    target_jobs = parse_target_jobs(script)
    rule, wildcards = parse_comment(req["comment"])
    if test_only:
        print(f"sbatch: Job {allocate_preview(sdir, cfg)} to start at {fmt_ts(now)} using "
              f"{req['alloc_cpus']} processors on nodes {cfg['node_name']} in partition "
              f"{req['partition']}", file=sys.stderr)
        return 0

    records = []
    with locked(sdir):
        first = allocate_ids(sdir, cfg, len(indexes))
        for k, idx in enumerate(indexes):
            raw = first + k
            (sdir / "scripts" / f"{raw}.sh").write_text(script)
            os.chmod(sdir / "scripts" / f"{raw}.sh", 0o700)
            rec = dict(req)
            rec.update(
                job_id_raw=raw,
                job_id=f"{first}_{idx}" if idx is not None else str(raw),
                array_job_id=first if idx is not None else None,
                array_task_id=idx,
                array_task_min=indexes[0] if idx is not None else None,
                array_task_max=indexes[-1] if idx is not None else None,
                array_task_count=len(indexes) if idx is not None else None,
                array_task_step=None,
                array_limit=array_limit,
                argv=list(argv),
                script=script,
                script_args=script_args,
                wrap=wrap,
                name=first_name,
                user=user,
                submit_dir=submit_dir,
                submit_host=socket.gethostname(),
                workdir=workdir,
                rule=rule,
                wildcards=wildcards,
                target_jobs=target_jobs,
                state="PENDING",
                reason="None",
                submit_time=now,
                start_time=None,
                end_time=None,
                exit_code=None,
                signal=None,
                node=None,
                pid=None,
                supervisor_pid=None,
                cancel_requested=False,
                steps=[],
                rusage=None,
                cluster=cfg["cluster_name"],
            )
            save_record(sdir, rec)
            records.append(rec)

    submit_env = dict(os.environ)
    for rec in records:
        env = job_environment(rec, cfg, submit_env)
        sup = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "_supervise", str(sdir),
             str(rec["job_id_raw"])],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, cwd=workdir,
        )
        with locked(sdir):
            fresh = load_record(sdir, rec["job_id_raw"])
            if fresh is not None and fresh.get("supervisor_pid") is None:
                fresh["supervisor_pid"] = sup.pid
                save_record(sdir, fresh)
        sup.returncode = 0  # detached: never waited for here

    jid = records[0]["array_job_id"] or records[0]["job_id_raw"]
    if "parsable" in names:
        print(f"{jid};{req['clusters']}" if req["clusters"] else f"{jid}")
    elif "quiet" not in names:
        print(f"Submitted batch job {jid}" + (f" on cluster {req['clusters']}"
                                              if req["clusters"] else ""))
    sys.stdout.flush()
    if "wait" in names:
        raws = [r["job_id_raw"] for r in records]
        while True:
            recs = [load_record(sdir, r) for r in raws]
            if all(r and r["state"] not in ACTIVE_STATES for r in recs):
                break
            time.sleep(0.2)
        return max((r["exit_code"] or (0 if r["state"] == "COMPLETED" else 1)) for r in recs)
    return 0


def allocate_preview(sdir: Path, cfg: dict) -> int:
    counter = sdir / "next_id"
    return int(counter.read_text()) if counter.exists() else int(cfg["first_job_id"])


# ----------------------------------------------------------------------------------------------
# the per-job supervisor
# ----------------------------------------------------------------------------------------------


def dependency_ready(sdir: Path, spec: str | None, rec: dict) -> tuple[bool, str]:
    if not spec:
        return True, "None"
    recs = {r["job_id_raw"]: r for r in all_records(sdir)}
    by_jobid = {r["job_id"]: r for r in recs.values()}

    def find(jid: str) -> list[dict]:
        if jid in by_jobid:
            return [by_jobid[jid]]
        if jid.isdigit():
            raw = int(jid)
            arr = [r for r in recs.values() if r.get("array_job_id") == raw]
            return arr or ([recs[raw]] if raw in recs else [])
        return []

    def one(term: str) -> bool | None:  # True ok, False waiting, None never
        if term == "singleton":
            return not any(r["state"] in ("RUNNING",) and r["name"] == rec["name"]
                           and r["job_id_raw"] != rec["job_id_raw"] for r in recs.values())
        kind, _, ids = term.partition(":")
        for jid in ids.split(":"):
            deps = find(jid.split("+")[0])
            for d in deps:
                st = d["state"]
                if kind == "after" and st == "PENDING":
                    return False
                if kind in ("afterok", "afternotok", "afterany") and st in ACTIVE_STATES:
                    return False
                if kind == "afterok" and st != "COMPLETED":
                    return None
                if kind == "afternotok" and st == "COMPLETED":
                    return None
        return True

    ors = spec.split("?")
    results = []
    for alt in ors:
        vals = [one(t) for t in alt.split(",") if t]
        if all(v is True for v in vals):
            return True, "None"
        results.append(None if any(v is None for v in vals) else False)
    if all(r is None for r in results):
        return False, "DependencyNeverSatisfied"
    return False, "Dependency"


def supervise(sdir_s: str, raw_s: str) -> int:
    sdir = Path(sdir_s)
    raw = int(raw_s)
    cfg = load_config(sdir)
    cancel_flag = {"set": False}

    def on_term(signum, frame):
        cancel_flag["set"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    # wait for dependencies, holds and a free slot
    while True:
        with locked(sdir):
            rec = load_record(sdir, raw)
            if rec is None or rec["state"] != "PENDING":
                return 0
            ok, reason = dependency_ready(sdir, rec.get("dependency"), rec)
            if ok and rec.get("hold"):
                ok, reason = False, "JobHeldUser"
            if ok and rec.get("array_limit") and rec.get("array_job_id") is not None:
                running = sum(1 for r in all_records(sdir) if r["state"] == "RUNNING"
                              and r.get("array_job_id") == rec["array_job_id"])
                if running >= rec["array_limit"]:
                    ok, reason = False, "JobArrayTaskLimit"
            if ok and cfg.get("max_running"):
                running = sum(1 for r in all_records(sdir) if r["state"] == "RUNNING")
                if running >= int(cfg["max_running"]):
                    ok, reason = False, "Resources"
            if ok:
                rec.update(state="RUNNING", start_time=time.time(), reason="None",
                           node=cfg["node_name"], supervisor_pid=os.getpid())
                save_record(sdir, rec)
                break
            if rec.get("reason") != reason or rec.get("supervisor_pid") != os.getpid():
                rec["reason"] = reason
                rec["supervisor_pid"] = os.getpid()
                save_record(sdir, rec)
        if cancel_flag["set"]:
            return 0
        time.sleep(0.2)

    script = sdir / "scripts" / f"{raw}.sh"
    env = dict(os.environ)
    env["SLURM_JOB_START_TIME"] = str(int(rec["start_time"]))
    if rec.get("time_limit_seconds"):
        env["SLURM_JOB_END_TIME"] = str(int(rec["start_time"] + rec["time_limit_seconds"]))

    def path_for(pattern: str | None, default: str) -> str:
        p = expand_filename(pattern or default, rec)
        return p if os.path.isabs(p) else os.path.join(rec["workdir"], p)

    default_out = "slurm-%A_%a.out" if rec.get("array_job_id") is not None else "slurm-%j.out"
    out_path = path_for(rec.get("output"), default_out)
    err_path = path_for(rec.get("error"), default_out) if rec.get("error") else out_path
    mode = "a" if rec.get("open_mode") == "append" else "w"
    try:
        out_fh = open(out_path, mode)
        err_fh = out_fh if err_path == out_path else open(err_path, mode)
        in_fh = open(path_for(rec["input"], "/dev/null")) if rec.get("input") else \
            open(os.devnull)
    except OSError:
        # slurmstepd cannot open the output: the batch step fails with exit code 0:53
        update_record(sdir, raw, state="FAILED", end_time=time.time(), exit_code=0, signal=53,
                      reason="None", output_path=out_path)
        return 0

    start = time.time()
    try:
        proc = subprocess.Popen([str(script), *rec.get("script_args", [])], cwd=rec["workdir"],
                                env=env, stdin=in_fh, stdout=out_fh, stderr=err_fh,
                                start_new_session=True)
    except OSError as e:
        err_fh.write(f"slurmstepd: error: execve(): {script}: {e.strerror}\n")
        err_fh.flush()
        update_record(sdir, raw, state="FAILED", end_time=time.time(), exit_code=2, signal=0,
                      reason="NonZeroExitCode", output_path=out_path)
        return 0
    pgid = proc.pid
    with locked(sdir):
        rec = load_record(sdir, raw)
        rec.update(pid=proc.pid, pgid=pgid, output_path=out_path, error_path=err_path)
        cancelled_early = rec.get("cancel_requested")
        save_record(sdir, rec)
    if cancelled_early:
        cancel_flag["set"] = True

    spm = float(cfg.get("seconds_per_minute") or 60)
    limit = rec.get("time_limit_minutes")
    deadline = start + limit * spm if limit else None
    kill_wait = float(cfg.get("kill_wait") or 2)
    why = None  # None | "TIMEOUT" | "CANCELLED"
    kill_at = None
    status, rusage = 0, None
    while True:
        pid_done, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid_done:
            break
        now = time.time()
        if why is None and cancel_flag["set"]:
            why = "CANCELLED"
            err_fh.write(f"slurmstepd: error: *** JOB {raw} ON {cfg['node_name']} CANCELLED AT "
                         f"{fmt_ts(now)} ***\n")
        elif why is None and deadline is not None and now > deadline:
            why = "TIMEOUT"
            err_fh.write(f"slurmstepd: error: *** JOB {raw} ON {cfg['node_name']} CANCELLED AT "
                         f"{fmt_ts(now)} DUE TO TIME LIMIT ***\n")
        if why is not None and kill_at is None:
            err_fh.flush()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            kill_at = now + kill_wait
        elif kill_at is not None and now > kill_at:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.05)
    proc.returncode = 0
    # like the job's cgroup going away: nothing the script left behind survives it
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    end = time.time()
    if os.WIFSIGNALED(status):
        code, sig = 0, os.WTERMSIG(status)
    else:
        code, sig = os.WEXITSTATUS(status), 0
    with locked(sdir):
        rec = load_record(sdir, raw)
        if why is None and rec.get("cancel_requested"):
            why = "CANCELLED"
        if why == "CANCELLED":
            state = f"CANCELLED by {os.getuid()}"
            reason = "None"
        elif why == "TIMEOUT":
            state, reason = "TIMEOUT", "TimeLimit"
        elif code == 0 and sig == 0:
            state, reason = "COMPLETED", "None"
        else:
            state, reason = "FAILED", "NonZeroExitCode"
        rec.update(state=state, reason=reason, end_time=end, exit_code=code, signal=sig,
                   rusage={"utime": rusage.ru_utime, "stime": rusage.ru_stime,
                           "maxrss_kb": rusage.ru_maxrss} if rusage else None)
        save_record(sdir, rec)
    for fh in {id(out_fh): out_fh, id(err_fh): err_fh, id(in_fh): in_fh}.values():
        fh.close()
    return 0


# ----------------------------------------------------------------------------------------------
# srun
# ----------------------------------------------------------------------------------------------


def cmd_srun(argv: list[str]) -> int:
    opts, cmd = parse_options("srun", argv, SRUN_OPTIONS)
    o = dict(opts)
    if "help" in o:
        print("Usage: srun [OPTIONS(0)... [executable(0) [args(0)...]]]")
        return 0
    if "version" in o:
        print(PROG_VERSION)
        return 0
    if not cmd:
        raise SlurmError("srun: fatal: No command given to execute.")
    jobid = o.get("jobid") or os.environ.get("SLURM_JOB_ID")
    sdir = state_dir(required=False)
    ntasks = parse_positive_int("srun", "ntasks", o["ntasks"]) if "ntasks" in o else 1
    cpt = parse_positive_int("srun", "cpus-per-task", o["cpus-per-task"]) \
        if "cpus-per-task" in o else None
    gpus = parse_gpus(o["gpus"]) if "gpus" in o else 0
    if "gres" in o:
        gpus = max(gpus, parse_gres_gpus(o["gres"]))
    step_id = None
    rec = None
    if jobid and sdir is not None:
        with locked(sdir):
            rec = load_record(sdir, jobid) if str(jobid).isdigit() else None
            if rec is None or rec["state"] != "RUNNING":
                raise SlurmError(f"srun: error: Unable to create step for job {jobid}: "
                                 "Invalid job id specified")
            alloc_cpus = int(rec.get("alloc_cpus") or 1)
            if ntasks * (cpt or 1) > alloc_cpus:
                raise SlurmError(f"srun: error: Unable to create step for job {jobid}: "
                                 "More processors requested than permitted")
            if gpus > int(rec.get("gpu_count") or 0):
                raise SlurmError(f"srun: error: Unable to create step for job {jobid}: "
                                 "Requested node configuration is not available")
            step_id = len([s for s in rec["steps"] if isinstance(s["step_id"], int)])
            rec["steps"].append({
                "step_id": step_id, "argv": list(argv), "command": cmd,
                "name": os.path.basename(cmd[0]), "ntasks": ntasks, "cpus_per_task": cpt,
                "gpus": gpus, "state": "RUNNING", "start_time": time.time(),
                "end_time": None, "exit_code": None, "signal": None,
            })
            save_record(sdir, rec)
    env = dict(os.environ)
    if rec is not None:
        env.update(SLURM_STEP_ID=str(step_id), SLURM_STEPID=str(step_id),
                   SLURM_NTASKS=str(ntasks), SLURM_NPROCS=str(ntasks),
                   SLURM_STEP_NUM_TASKS=str(ntasks), SLURM_STEP_NUM_NODES="1",
                   SLURM_STEP_NODELIST=rec.get("node") or "", SLURM_JOB_ID=str(jobid),
                   SLURM_JOBID=str(jobid))
        if cpt:
            env["SLURM_CPUS_PER_TASK"] = str(cpt)
        if gpus:
            ids = ",".join(str(i) for i in range(gpus))
            env.update(SLURM_STEP_GPUS=ids, SLURM_GPUS_ON_NODE=str(gpus),
                       CUDA_VISIBLE_DEVICES=ids, GPU_DEVICE_ORDINAL=ids)
            if "gpus" in o:
                env["SLURM_GPUS"] = o["gpus"]
    procs = []
    rc = None
    for task in range(ntasks):
        tenv = dict(env, SLURM_PROCID=str(task), SLURM_LOCALID=str(task))
        try:
            procs.append(subprocess.Popen(cmd, env=tenv, cwd=o.get("chdir")))
        except OSError as e:
            print(f"slurmstepd: error: execve(): {cmd[0]}: {e.strerror}", file=sys.stderr)
            rc = 2
            break

    def forward(signum, frame):
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    codes = [p.wait() for p in procs]
    if rc is None:
        rc = 0
        for c in codes:
            rc = max(rc, c if c >= 0 else 128 - c)
    sig = max([-c for c in codes if c < 0], default=0)
    if rec is not None and sdir is not None:
        with locked(sdir):
            fresh = load_record(sdir, jobid)
            for s in fresh["steps"]:
                if s["step_id"] == step_id:
                    s.update(state="COMPLETED" if rc == 0 else
                             ("CANCELLED" if sig in (9, 15) else "FAILED"),
                             end_time=time.time(), exit_code=0 if sig else rc, signal=sig)
            save_record(sdir, fresh)
    if rc and sig == 0:
        print(f"srun: error: {rec['node'] if rec else 'localhost'}: task 0: Exited with exit "
              f"code {rc}", file=sys.stderr)
    return rc


# ----------------------------------------------------------------------------------------------
# job selection helpers for sacct/squeue/scancel/scontrol
# ----------------------------------------------------------------------------------------------


def matches_id(rec: dict, jid: str) -> bool:
    jid = jid.strip()
    if jid == rec["job_id"] or jid == str(rec["job_id_raw"]):
        return True
    return rec.get("array_job_id") is not None and jid == str(rec["array_job_id"])


def step_rows(rec: dict) -> list[dict]:
    """Pseudo step rows the way sacct lists them: batch, extern, then srun steps."""
    rows = []
    if rec.get("start_time"):
        batch_state = rec["state"]
        if batch_state.startswith("CANCELLED"):
            batch_state = "CANCELLED"
        rows.append({"step_id": "batch", "name": "batch", "state": batch_state,
                     "start_time": rec["start_time"], "end_time": rec.get("end_time"),
                     "exit_code": rec.get("exit_code"), "signal": rec.get("signal"),
                     "rusage": rec.get("rusage")})
        rows.append({"step_id": "extern", "name": "extern",
                     "state": "RUNNING" if rec["state"] == "RUNNING" else "COMPLETED",
                     "start_time": rec["start_time"], "end_time": rec.get("end_time"),
                     "exit_code": 0, "signal": 0})
    rows.extend(rec.get("steps") or [])
    return rows


def field_value(field: str, rec: dict, step: dict | None, cfg: dict) -> str:
    f = field.lower()
    src = step if step is not None else rec
    sid = None if step is None else step["step_id"]
    start, end = src.get("start_time"), src.get("end_time")
    if f in ("jobid", "jobidraw"):
        base = rec["job_id"] if f == "jobid" else str(rec["job_id_raw"])
        return base if sid is None else f"{base}.{sid}"
    if f == "jobname":
        return rec.get("name") or "" if step is None else step.get("name") or ""
    if f == "state":
        return src.get("state") or ""
    if f == "exitcode":
        if src.get("exit_code") is None:
            return "0:0"
        return f"{src['exit_code']}:{src.get('signal') or 0}"
    if f == "derivedexitcode":
        return "0:0"
    if f == "account":
        return rec.get("account") or ""
    if f == "partition":
        return rec.get("partition") or "" if step is None else ""
    if f == "comment":
        return rec.get("comment") or "" if step is None else ""
    if f == "user":
        return rec.get("user") or "" if step is None else ""
    if f == "elapsed":
        if not start:
            return "00:00:00"
        return fmt_duration((end or time.time()) - start)
    if f == "elapsedraw":
        return str(int((end or time.time()) - start)) if start else "0"
    if f == "timelimit":
        if step is not None:
            return ""
        return fmt_duration(rec.get("time_limit_seconds"))
    if f == "timelimitraw":
        t = rec.get("time_limit_minutes")
        return "UNLIMITED" if t is None else str(t)
    if f == "start":
        return fmt_ts(start) if start else "Unknown"
    if f == "end":
        return fmt_ts(end) if end else "Unknown"
    if f == "submit":
        return fmt_ts(rec.get("submit_time"))
    if f in ("nnodes", "allocnodes"):
        return str(rec.get("num_nodes") or 1)
    if f in ("ncpus", "alloccpus", "reqcpus"):
        if step is not None and step.get("cpus_per_task"):
            return str(step["cpus_per_task"] * (step.get("ntasks") or 1))
        return str(rec.get("alloc_cpus") or 1)
    if f == "ntasks":
        return "" if step is None else str(step.get("ntasks") or 1)
    if f == "nodelist":
        return rec.get("node") or "None assigned"
    if f == "reqmem":
        if rec.get("mem_per_cpu_mb") is not None:
            return f"{rec['mem_per_cpu_mb']}Mc"
        if rec.get("mem_mb") is not None:
            return f"{rec['mem_mb']}M"
        return "0"
    if f == "maxrss":
        ru = src.get("rusage")
        return f"{int(ru['maxrss_kb'])}K" if ru and step is not None else ""
    if f == "totalcpu":
        ru = src.get("rusage") if step is not None else rec.get("rusage")
        return fmt_cputime(ru["utime"] + ru["stime"]) if ru else "00:00:00"
    if f == "reason":
        return rec.get("reason") or "None"
    if f in ("alloctres", "reqtres"):
        parts = [f"billing={rec.get('alloc_cpus') or 1}", f"cpu={rec.get('alloc_cpus') or 1}"]
        if rec.get("gpu_count"):
            parts.append(f"gres/gpu={rec['gpu_count']}")
        if rec.get("mem_total_mb") is not None:
            parts.append(f"mem={rec['mem_total_mb']}M")
        parts.append(f"node={rec.get('num_nodes') or 1}")
        return ",".join(parts)
    if f == "qos":
        return rec.get("qos") or "normal"
    if f == "cluster":
        return rec.get("cluster") or cfg["cluster_name"]
    if f == "workdir":
        return rec.get("workdir") or ""
    if f == "constraints":
        return rec.get("constraint") or ""
    if f == "reservation":
        return rec.get("reservation") or ""
    if f == "priority":
        return "1"
    if f == "uid":
        return str(os.getuid())
    if f == "group":
        return "root" if os.getuid() == 0 else ""
    raise KeyError(field)


SACCT_FIELDS = ["JobID", "JobIDRaw", "JobName", "State", "ExitCode", "DerivedExitCode",
                "Account", "Partition", "Comment", "User", "Elapsed", "ElapsedRaw", "Timelimit",
                "TimelimitRaw", "Start", "End", "Submit", "NNodes", "AllocNodes", "NCPUS",
                "AllocCPUS", "ReqCPUS", "NTasks", "NodeList", "ReqMem", "MaxRSS", "TotalCPU",
                "Reason", "AllocTRES", "ReqTRES", "QOS", "Cluster", "WorkDir", "Constraints",
                "Reservation", "Priority", "UID", "Group"]


DEFAULT_WIDTH = {"jobid": 12, "jobidraw": 12, "reason": 20, "start": 19, "end": 19, "submit": 19,
                 "nodelist": 15, "comment": 20, "alloctres": 30, "reqtres": 30, "workdir": 30}


def parse_format_list(spec: str, valid: list[str], prog: str) -> list[tuple[str, int | None]]:
    out = []
    lower = {v.lower(): v for v in valid}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, width = item.partition("%")
        if name.lower() not in lower:
            raise SlurmError(f"{prog}: error: Invalid field requested: \"{name}\"")
        out.append((lower[name.lower()], int(width) if width else None))
    return out


def render_table(rows: list[list[str]], fields: list[tuple[str, int | None]], parsable: str | None,
                 header: bool, delimiter: str = "|") -> str:
    lines = []
    if parsable:
        trail = delimiter if parsable == "p" else ""
        if header:
            lines.append(delimiter.join(n for n, _ in fields) + trail)
        lines.extend(delimiter.join(r) + trail for r in rows)
    else:
        def cell(text: str, width: int | None, name: str) -> str:
            w = abs(width) if width else DEFAULT_WIDTH.get(name.lower(), 10)
            if len(text) > w:
                text = text[: w - 1] + "+"
            return text.ljust(w) if (width is not None and width < 0) else text.rjust(w)

        if header:
            lines.append(" ".join(cell(n, w, n) for n, w in fields))
            lines.append(" ".join("-" * (abs(w) if w else DEFAULT_WIDTH.get(n.lower(), 10))
                                  for n, w in fields))
        for r in rows:
            lines.append(" ".join(cell(r[k], fields[k][1], fields[k][0])
                                  for k in range(len(fields))))
    return "\n".join(lines) + ("\n" if lines else "")


def parse_when(value: str) -> float | None:
    v = value.strip()
    if v.lower() == "now":
        return time.time()
    m = re.fullmatch(r"now-(\d+)(second|seconds|minute|minutes|hour|hours|day|days|week|weeks)?",
                     v.lower())
    if m:
        mult = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
        unit = (m.group(2) or "seconds").rstrip("s") or "second"
        return time.time() - int(m.group(1)) * mult.get(unit, 1)
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%m/%d/%y", "%m/%d"):
        try:
            return _dt.datetime.strptime(v, fmt).timestamp()
        except ValueError:
            continue
    return None


# ----------------------------------------------------------------------------------------------
# sacct
# ----------------------------------------------------------------------------------------------

SACCT_OPTIONS = [
    ("allusers", "a", NOARG), ("accounts", "A", REQ), ("allocations", "X", NOARG),
    ("brief", "b", NOARG), ("clusters", "M", REQ), ("delimiter", None, REQ),
    ("duplicates", "D", NOARG), ("endtime", "E", REQ), ("format", "o", REQ),
    ("help", "h", NOARG), ("jobs", "j", REQ), ("long", "l", NOARG), ("name", None, REQ),
    ("noheader", "n", NOARG), ("parsable", "p", NOARG), ("parsable2", "P", NOARG),
    ("partition", "r", REQ), ("starttime", "S", REQ), ("state", "s", REQ),
    ("units", None, REQ), ("user", "u", REQ), ("uid", None, REQ), ("verbose", "v", NOARG),
    ("version", "V", NOARG), ("array", "T", NOARG), ("json", None, OPT),
]


def cmd_sacct(argv: list[str]) -> int:
    opts, _pos = parse_options("sacct", argv, SACCT_OPTIONS, stop_at_positional=False)
    o: dict[str, str | None] = {}
    for k, v in opts:
        o[k] = v
    if "version" in o:
        print(PROG_VERSION)
        return 0
    if "help" in o:
        print("sacct [<OPTION>]")
        return 0
    sdir = state_dir()
    cfg = load_config(sdir)
    fmt = o.get("format") or ("JobID,State,ExitCode" if "brief" in o else
                              "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode")
    fields = parse_format_list(fmt, SACCT_FIELDS, "sacct")
    recs = reap_lost_jobs(sdir, all_records(sdir))

    wanted_steps: dict[int, set[str]] = {}
    if o.get("jobs"):
        keep = []
        for rec in recs:
            for jid in o["jobs"].split(","):
                base, dot, stepid = jid.strip().partition(".")
                if matches_id(rec, base):
                    if dot:
                        wanted_steps.setdefault(rec["job_id_raw"], set()).add(stepid)
                    else:
                        wanted_steps.setdefault(rec["job_id_raw"], set()).add("*")
            if rec["job_id_raw"] in wanted_steps:
                keep.append(rec)
        recs = keep
    if o.get("name"):
        names = set(o["name"].split(","))
        recs = [r for r in recs if r.get("name") in names]
    if o.get("user") and "allusers" not in o:
        users = set(o["user"].split(","))
        recs = [r for r in recs if r.get("user") in users]
    if o.get("accounts"):
        accts = {a.lower() for a in o["accounts"].split(",")}
        recs = [r for r in recs if (r.get("account") or "").lower() in accts]
    if o.get("partition"):
        parts = set(o["partition"].split(","))
        recs = [r for r in recs if r.get("partition") in parts]
    if o.get("state"):
        states = {s.upper() for s in o["state"].split(",")}
        short = {v: k for k, v in COMPACT_STATE.items()}
        states |= {short[s] for s in list(states) if s in short}
        recs = [r for r in recs if r["state"].split()[0] in states]
    if o.get("starttime") and not o.get("jobs"):
        since = parse_when(o["starttime"])
        if since is not None:
            recs = [r for r in recs if (r.get("end_time") or time.time()) >= since]

    rows = []
    for rec in recs:
        steps = wanted_steps.get(rec["job_id_raw"], {"*"})
        if "*" in steps:
            rows.append([field_value(f, rec, None, cfg) for f, _ in fields])
        if "allocations" in o:
            continue
        for st in step_rows(rec):
            if "*" in steps or str(st["step_id"]) in steps:
                rows.append([field_value(f, rec, st, cfg) for f, _ in fields])
    parsable = "P" if "parsable2" in o else ("p" if "parsable" in o else None)
    sys.stdout.write(render_table(rows, fields, parsable, "noheader" not in o,
                                  o.get("delimiter") or "|"))
    return 0


# ----------------------------------------------------------------------------------------------
# squeue
# ----------------------------------------------------------------------------------------------

SQUEUE_OPTIONS = [
    ("account", "A", REQ), ("all", "a", NOARG), ("array", "r", NOARG), ("clusters", "M", REQ),
    ("format", "o", REQ), ("help", None, NOARG), ("jobs", "j", REQ), ("long", "l", NOARG),
    ("me", None, NOARG), ("name", "n", REQ), ("noheader", "h", NOARG),
    ("partition", "p", REQ), ("sort", "S", REQ), ("states", "t", REQ), ("steps", "s", OPT),
    ("user", "u", REQ), ("verbose", "v", NOARG), ("version", "V", NOARG),
    ("qos", "q", REQ), ("iterate", "i", REQ),
]

SQUEUE_SPEC = {
    "i": ("JOBID", lambda r, c: r["job_id"]),
    "A": ("JOBID", lambda r, c: str(r["job_id_raw"])),
    "F": ("ARRAY_JOB_ID", lambda r, c: str(r.get("array_job_id") or r["job_id_raw"])),
    "K": ("ARRAY_TASK_ID", lambda r, c: "N/A" if r.get("array_task_id") is None
          else str(r["array_task_id"])),
    "j": ("NAME", lambda r, c: r.get("name") or ""),
    "T": ("STATE", lambda r, c: r["state"].split()[0]),
    "t": ("ST", lambda r, c: COMPACT_STATE.get(r["state"].split()[0], "?")),
    "P": ("PARTITION", lambda r, c: r.get("partition") or ""),
    "u": ("USER", lambda r, c: r.get("user") or ""),
    "a": ("ACCOUNT", lambda r, c: r.get("account") or ""),
    "k": ("COMMENT", lambda r, c: r.get("comment") or ""),
    "M": ("TIME", lambda r, c: fmt_duration(((r.get("end_time") or time.time())
                                             - r["start_time"]) if r.get("start_time") else 0)),
    "l": ("TIME_LIMIT", lambda r, c: fmt_duration(r.get("time_limit_seconds"))),
    "D": ("NODES", lambda r, c: str(r.get("num_nodes") or 1)),
    "C": ("CPUS", lambda r, c: str(r.get("alloc_cpus") or 1)),
    "m": ("MIN_MEMORY", lambda r, c: f"{r['mem_mb']}M" if r.get("mem_mb") is not None else
          (f"{r['mem_per_cpu_mb']}M" if r.get("mem_per_cpu_mb") is not None else "0")),
    "b": ("TRES_PER_NODE", lambda r, c: (f"gres/gpu:{r['gpu_count']}" if r.get("gpu_count")
                                         else "N/A")),
    "q": ("QOS", lambda r, c: r.get("qos") or "normal"),
    "N": ("NODELIST", lambda r, c: r.get("node") or ""),
    "r": ("REASON", lambda r, c: r.get("reason") or "None"),
    "R": ("NODELIST(REASON)", lambda r, c: r.get("node") if r["state"] == "RUNNING"
          else f"({r.get('reason') or 'None'})"),
    "V": ("SUBMIT_TIME", lambda r, c: fmt_ts(r.get("submit_time"))),
    "S": ("START_TIME", lambda r, c: fmt_ts(r.get("start_time")) if r.get("start_time")
          else "N/A"),
    "e": ("END_TIME", lambda r, c: fmt_ts(r.get("end_time")) if r.get("end_time") else "N/A"),
    "Z": ("WORK_DIR", lambda r, c: r.get("workdir") or ""),
    "o": ("COMMAND", lambda r, c: "(null)" if r.get("wrap") is not None
          else str(r.get("submit_dir"))),
    "c": ("MIN_CPUS", lambda r, c: str(r.get("cpus_per_task") or 1)),
    "Q": ("PRIORITY", lambda r, c: "1"),
    "x": ("EXC_NODES", lambda r, c: r.get("exclude") or ""),
}


def format_renderer(fmt: str, spec: dict, error: str):
    """Compile a %-style --format string (squeue, sinfo) into a function of one item's arguments.

    `spec` maps a letter to (header, fn); the function renders fn(*args), or the headers when
    given None. `%.N` right-aligns in N columns, `%N` left-aligns, `%#` is sinfo's 10 columns."""
    tokens = re.split(r"(%[#.]?-?\d*[A-Za-z%])", fmt)

    def render(args: tuple | None) -> str:
        out = []
        for tok in tokens:
            m = re.fullmatch(r"%([#.])?(-)?(\d*)([A-Za-z%])", tok)
            if not m:
                out.append(tok)
                continue
            flag, _minus, width, ch = m.groups()
            if ch == "%":
                out.append("%")
                continue
            if ch not in spec:
                raise SlurmError(f"{error}: {ch}")
            head, fn = spec[ch]
            text = head if args is None else fn(*args)
            w = int(width) if width else (10 if flag == "#" else 0)
            if w:
                text = text[:w]
                text = text.rjust(w) if flag == "." else text.ljust(w)
            out.append(text)
        return "".join(out)

    return render


def cmd_squeue(argv: list[str]) -> int:
    opts, _pos = parse_options("squeue", argv, SQUEUE_OPTIONS, stop_at_positional=False)
    o: dict[str, str | None] = {}
    for k, v in opts:
        o[k] = v
    if "version" in o:
        print(PROG_VERSION)
        return 0
    sdir = state_dir()
    cfg = load_config(sdir)
    recs = reap_lost_jobs(sdir, all_records(sdir))
    states = o.get("states")
    now = time.time()
    if states and states.lower() == "all":
        min_age = float(cfg.get("min_job_age") or 300)
        recs = [r for r in recs if r["state"] in ACTIVE_STATES
                or (r.get("end_time") and now - r["end_time"] < min_age)]
    elif states:
        wanted = {s.upper() for s in states.split(",")}
        short = {v: k for k, v in COMPACT_STATE.items()}
        wanted |= {short[s] for s in list(wanted) if s in short}
        recs = [r for r in recs if r["state"].split()[0] in wanted]
    else:
        recs = [r for r in recs if r["state"] in ACTIVE_STATES]
    if o.get("jobs"):
        ids = o["jobs"].split(",")
        recs = [r for r in recs if any(matches_id(r, j) for j in ids)]
    if o.get("name"):
        names = set(o["name"].split(","))
        recs = [r for r in recs if r.get("name") in names]
    if o.get("user"):
        users = set(o["user"].split(","))
        recs = [r for r in recs if r.get("user") in users]
    if "me" in o:
        recs = [r for r in recs if r.get("user") == getpass.getuser()]
    if o.get("partition"):
        parts = set(o["partition"].split(","))
        recs = [r for r in recs if r.get("partition") in parts]
    if o.get("account"):
        accts = set(o["account"].lower().split(","))
        recs = [r for r in recs if (r.get("account") or "").lower() in accts]

    fmt = o.get("format") or "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
    render_fields = format_renderer(fmt, SQUEUE_SPEC, "squeue: error: Invalid job format specification")
    out_lines = []

    def render(rec: dict | None) -> str:
        return render_fields(None if rec is None else (rec, cfg))

    if "noheader" not in o:
        out_lines.append(render(None))
    out_lines.extend(render(r) for r in recs)
    sys.stdout.write("\n".join(out_lines) + ("\n" if out_lines else ""))
    return 0


# ----------------------------------------------------------------------------------------------
# scancel
# ----------------------------------------------------------------------------------------------

SCANCEL_OPTIONS = [
    ("account", "A", REQ), ("batch", "b", NOARG), ("clusters", "M", REQ), ("full", "f", NOARG),
    ("interactive", "i", NOARG), ("me", None, NOARG), ("name", "n", REQ),
    ("partition", "p", REQ), ("quiet", "Q", NOARG), ("signal", "s", REQ),
    ("state", "t", REQ), ("user", "u", REQ), ("verbose", "v", NOARG),
    ("version", "V", NOARG), ("help", "h", NOARG),
]


def cancel_record(sdir: Path, rec: dict, sig: str | None = None) -> None:
    with locked(sdir):
        fresh = load_record(sdir, rec["job_id_raw"])
        if fresh is None or fresh["state"] not in ACTIVE_STATES:
            return
        if sig:  # --signal: deliver, do not cancel
            signum = getattr(signal, sig if sig.startswith("SIG") else "SIG" + sig, None)
            if signum is None and sig.isdigit():
                signum = int(sig)
            if fresh.get("pgid"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(fresh["pgid"], signum)
            return
        fresh["cancel_requested"] = True
        if fresh["state"] == "PENDING":
            fresh.update(state=f"CANCELLED by {os.getuid()}", end_time=time.time(),
                         reason="None", exit_code=0, signal=0)
        save_record(sdir, fresh)
        sup = fresh.get("supervisor_pid")
    if sup and pid_alive(sup):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(sup, signal.SIGTERM)


def cmd_scancel(argv: list[str]) -> int:
    opts, pos = parse_options("scancel", argv, SCANCEL_OPTIONS, stop_at_positional=False)
    o: dict[str, str | None] = {}
    for k, v in opts:
        o[k] = v
    if "version" in o:
        print(PROG_VERSION)
        return 0
    sdir = state_dir()
    recs = all_records(sdir)
    ids = [p for x in pos for p in x.split(",") if p]
    if not ids and not any(k in o for k in ("name", "user", "me", "account", "partition",
                                              "state")):
        raise SlurmError("scancel: error: No job identification provided")
    rc = 0
    selected = []
    for jid in ids:
        base = jid.split(".")[0]
        hit = [r for r in recs if matches_id(r, base)]
        if not hit:
            print(f"scancel: error: Kill job error on job id {jid}: Invalid job id specified",
                  file=sys.stderr)
            rc = 1
        selected.extend(hit)
    if not ids:
        selected = list(recs)
    if o.get("name"):
        selected = [r for r in selected if r.get("name") in o["name"].split(",")]
    if o.get("user"):
        selected = [r for r in selected if r.get("user") in o["user"].split(",")]
    if "me" in o:
        selected = [r for r in selected if r.get("user") == getpass.getuser()]
    if o.get("partition"):
        selected = [r for r in selected if r.get("partition") in o["partition"].split(",")]
    if o.get("state"):
        wanted = {s.upper() for s in o["state"].split(",")}
        short = {v: k for k, v in COMPACT_STATE.items()}
        wanted |= {short[s] for s in list(wanted) if s in short}
        selected = [r for r in selected if r["state"] in wanted]
    for rec in selected:
        cancel_record(sdir, rec, o.get("signal"))
    return rc


# ----------------------------------------------------------------------------------------------
# sinfo, scontrol, sacctmgr, sshare
# ----------------------------------------------------------------------------------------------


def partitions(cfg: dict) -> dict[str, dict]:
    parts = cfg.get("partitions")
    if parts is None:
        return {"cpu": {"default": True}}
    return {k: (v or {}) for k, v in parts.items()}


SINFO_OPTIONS = [
    ("all", "a", NOARG), ("clusters", "M", REQ), ("format", "o", REQ), ("help", None, NOARG),
    ("long", "l", NOARG), ("noheader", "h", NOARG), ("Node", "N", NOARG),
    ("partition", "p", REQ), ("summarize", "s", NOARG), ("states", "t", REQ),
    ("version", "V", NOARG), ("verbose", "v", NOARG), ("exact", "e", NOARG),
]


def cmd_sinfo(argv: list[str]) -> int:
    opts, _pos = parse_options("sinfo", argv, SINFO_OPTIONS, stop_at_positional=False)
    o = dict(opts)
    if "version" in o:
        print(PROG_VERSION)
        return 0
    cfg = load_config(state_dir(required=False))
    parts = partitions(cfg)
    if o.get("partition"):
        parts = {k: v for k, v in parts.items() if k in o["partition"].split(",")}
    fmt = o.get("format") or "%#P %.5a %.10l %.6D %.6t %N"
    node = cfg["node_name"]
    spec = {
        "P": ("PARTITION", lambda n, p: n + ("*" if p.get("default") else "")),
        "R": ("PARTITION", lambda n, p: n),
        "a": ("AVAIL", lambda n, p: "up"),
        "l": ("TIMELIMIT", lambda n, p: "infinite" if p.get("max_time") is None
              else fmt_duration(int(p["max_time"]) * 60)),
        "D": ("NODES", lambda n, p: str(p.get("nodes") or 1)),
        "t": ("STATE", lambda n, p: "idle"),
        "T": ("STATE", lambda n, p: "idle"),
        "N": ("NODELIST", lambda n, p: node),
        "c": ("CPUS", lambda n, p: str(p.get("cpus") or os.cpu_count() or 1)),
        "m": ("MEMORY", lambda n, p: str(p.get("mem_mb") or 1000)),
        "G": ("GRES", lambda n, p: f"gpu:{p['gpus']}" if p.get("gpus") else "(null)"),
        "F": ("NODES(A/I/O/T)", lambda n, p: f"0/{p.get('nodes') or 1}/0/{p.get('nodes') or 1}"),
    }
    render_fields = format_renderer(fmt, spec, "sinfo: error: Invalid node format specification")

    def render(name, p):
        return render_fields(None if name is None else (name, p))

    lines = [] if "noheader" in o else [render(None, None)]
    lines.extend(render(n, p) for n, p in parts.items())
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_scontrol(argv: list[str]) -> int:
    args = list(argv)
    # global options
    while args and args[0].startswith("-"):
        a = args.pop(0)
        if a in ("-V", "--version"):
            print(PROG_VERSION)
            return 0
        if a in ("-M", "--clusters") and args:
            args.pop(0)
        elif a.startswith("--clusters=") or a in ("-o", "--oneliner", "-d", "--details",
                                                  "-Q", "--quiet", "-a", "--all"):
            continue
        elif a.startswith("-M"):
            continue
    if not args:
        raise SlurmError("scontrol: error: no command given")
    sdir = state_dir(required=False)
    cfg = load_config(sdir)
    verb = args[0].lower()
    if verb in ("show", "sho", "sh") and len(args) >= 2:
        what = args[1].lower()
        if what in ("config", "conf", "configuration"):
            stamp = _dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
            lines = [
                f"Configuration data as of {stamp}",
                "AccountingStorageType   = accounting_storage/slurmdbd",
                f"ClusterName             = {cfg['cluster_name']}",
                "EnforcePartLimits       = ALL",
                "GresTypes               = gpu",
                f"KillWait                = {int(cfg['kill_wait'])} sec",
                f"MaxArraySize            = {int(cfg['max_array_size'])}",
                "MaxJobCount             = 10000",
                f"MinJobAge               = {int(cfg['min_job_age'])} sec",
                "OverTimeLimit           = 0 min",
                "SelectType              = select/cons_tres",
                "SLURM_VERSION           = 23.11.10",
                "",
            ]
            print("\n".join(lines))
            return 0
        if what in ("partition", "partitions", "part"):
            parts = partitions(cfg)
            if len(args) >= 3:
                parts = {k: v for k, v in parts.items() if k == args[2]}
                if not parts:
                    raise SlurmError(f"Partition {args[2]} not found")
            blocks = []
            for name, p in parts.items():
                cpus = int(p.get("cpus") or os.cpu_count() or 1)
                nodes = int(p.get("nodes") or 1)
                tres = f"cpu={cpus * nodes},mem={int(p.get('mem_mb') or 1000) * nodes}M," \
                       f"node={nodes}"
                if p.get("gpus"):
                    tres += f",gres/gpu={int(p['gpus']) * nodes}"
                maxtime = ("UNLIMITED" if p.get("max_time") is None
                           else fmt_duration(int(p["max_time"]) * 60))
                blocks.append("\n".join([
                    f"PartitionName={name}",
                    "   AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL",
                    f"   Default={'YES' if p.get('default') else 'NO'} QoS=N/A",
                    f"   DefaultTime=NONE MaxNodes={p.get('max_nodes') or 'UNLIMITED'} "
                    f"MaxTime={maxtime} MinNodes=0",
                    f"   Nodes={cfg['node_name']}",
                    "   State=UP",
                    f"   TotalCPUs={cpus * nodes} TotalNodes={nodes}",
                    f"   TRES={tres}",
                ]))
            print("\n\n".join(blocks) + "\n")
            return 0
        if what == "job" and sdir is not None:
            recs = all_records(sdir)
            if len(args) >= 3:
                recs = [r for r in recs if matches_id(r, args[2])]
                if not recs:
                    raise SlurmError("slurm_load_jobs error: Invalid job id specified")
            for r in recs:
                print(f"JobId={r['job_id_raw']} JobName={r.get('name')}\n"
                      f"   UserId={r.get('user')} Account={r.get('account')}\n"
                      f"   JobState={r['state'].split()[0]} Reason={r.get('reason')}\n"
                      f"   ExitCode={r.get('exit_code') or 0}:{r.get('signal') or 0}\n"
                      f"   TimeLimit={fmt_duration(r.get('time_limit_seconds'))}\n"
                      f"   Partition={r.get('partition')} NodeList={r.get('node') or ''}\n"
                      f"   NumCPUs={r.get('alloc_cpus')} NumNodes={r.get('num_nodes')}\n"
                      f"   Comment={r.get('comment') or ''}\n"
                      f"   WorkDir={r.get('workdir')}\n"
                      f"   StdOut={r.get('output_path') or ''}\n")
            return 0
        if what in ("node", "nodes"):
            print(f"NodeName={cfg['node_name']} Arch=x86_64 CoresPerSocket=1\n"
                  f"   CPUAlloc=0 CPUTot={os.cpu_count()} State=IDLE\n")
            return 0
    if verb in ("hold", "release", "uhold") and sdir is not None and len(args) >= 2:
        for jid in args[1].split(","):
            for r in all_records(sdir):
                if matches_id(r, jid) and r["state"] == "PENDING":
                    update_record(sdir, r["job_id_raw"], hold=(verb != "release"))
        return 0
    if verb == "ping":
        print("Slurmctld(primary) at localhost is UP")
        return 0
    raise SlurmError(f"scontrol: error: Invalid command: {' '.join(args)}")


def _accounts(cfg: dict) -> list[str]:
    return [a.lower() for a in (cfg.get("accounts") or [])]


def cmd_sacctmgr(argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("-")]
    words = [a for a in argv if not a.startswith("-")]
    if "-V" in flags or "--version" in flags:
        print(PROG_VERSION)
        return 0
    cfg = load_config(state_dir(required=False))
    noheader = any(f in ("-n", "--noheader") or (not f.startswith("--") and "n" in f)
                   for f in flags)
    parsable2 = any(f in ("-P", "--parsable2") for f in flags)
    parsable = any(f in ("-p", "--parsable") for f in flags)
    if not words or words[0].lower() not in ("list", "show"):
        raise SlurmError("sacctmgr: error: Unrecognized or unsupported command (fake SLURM "
                         "supports 'list/show user|account|association')")
    entity = words[1].lower() if len(words) > 1 else ""
    fmt = "Cluster,Account,User,Partition,Share,Priority,DefaultQOS"
    names = []
    for w in words[2:]:
        key, eq, val = w.partition("=")
        if eq and key.lower() == "format":
            fmt = val
        elif eq and key.lower() in ("name", "names", "user", "users"):
            names.extend(val.split(","))
        elif not eq and key.lower() != "where":
            names.append(w)
    user = getpass.getuser()
    accounts = _accounts(cfg)
    if entity in ("user", "users"):
        if names and user not in names:
            accounts = []
    elif entity in ("account", "accounts"):
        if names:
            accounts = [a for a in accounts if a in {n.lower() for n in names}]
    elif entity not in ("association", "associations", "assoc"):
        raise SlurmError(f"sacctmgr: error: Unknown entity {entity}")
    fields = []
    for item in fmt.split(","):
        name, _, width = item.partition("%")
        fields.append((name, int(width) if width else None))
    values = {"account": None, "user": user, "cluster": cfg["cluster_name"], "partition": "",
              "share": "1", "priority": "", "defaultqos": "normal", "qos": "normal",
              "defaultaccount": accounts[0] if accounts else ""}
    rows = []
    for acct in accounts:
        vals = dict(values, account=acct)
        rows.append([vals.get(n.lower(), "") for n, _ in fields])
    mode = "P" if parsable2 else ("p" if parsable else None)
    sys.stdout.write(render_table(rows, [(n, w) for n, w in fields], mode, not noheader))
    return 0


def cmd_sshare(argv: list[str]) -> int:
    opts, _pos = parse_options("sshare", argv, [
        ("accounts", "A", REQ), ("all", "a", NOARG), ("clusters", "M", REQ),
        ("format", "o", REQ), ("help", "h", NOARG), ("long", "l", NOARG),
        ("noheader", "n", NOARG), ("parsable", "p", NOARG), ("parsable2", "P", NOARG),
        ("users", "u", REQ), ("Users", "U", NOARG), ("verbose", "v", NOARG),
        ("version", "V", NOARG),
    ], stop_at_positional=False)
    o = dict(opts)
    if "version" in o:
        print(PROG_VERSION)
        return 0
    cfg = load_config(state_dir(required=False))
    fmt = o.get("format") or "Account,User,RawShares,NormShares,RawUsage,EffectvUsage,FairShare"
    fields = []
    for item in fmt.split(","):
        name, _, width = item.strip().partition("%")
        fields.append((name, int(width) if width else None))
    rows = []
    for acct in _accounts(cfg):
        vals = {"account": acct, "user": getpass.getuser(), "rawshares": "1",
                "normshares": "1.000000", "rawusage": "0", "effectvusage": "0.000000",
                "fairshare": "1.000000", "cluster": cfg["cluster_name"]}
        rows.append([vals.get(n.lower(), "") for n, _ in fields])
    mode = "P" if "parsable2" in o else ("p" if "parsable" in o else None)
    sys.stdout.write(render_table(rows, fields, mode, "noheader" not in o))
    return 0


# ----------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------

COMMANDS = {
    "sbatch": cmd_sbatch, "srun": cmd_srun, "sacct": cmd_sacct, "squeue": cmd_squeue,
    "scancel": cmd_scancel, "sinfo": cmd_sinfo, "scontrol": cmd_scontrol,
    "sacctmgr": cmd_sacctmgr, "sshare": cmd_sshare,
}


def main(prog: str, argv: list[str]) -> int:
    if prog == "_supervise":
        return supervise(*argv[:2])
    try:
        return COMMANDS[prog](argv)
    except SlurmError as e:
        sys.stdout.flush()
        print(str(e), file=sys.stderr)
        return e.rc
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
