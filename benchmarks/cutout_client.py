"""Cutout-client benchmark: cutouts per second against a loopback SkyServer double.

A separate server process answers `ImgCutout/getjpeg` with a real 128 px JPEG after a fixed
latency (the service's response time), so N connections can at best reach N / latency. The
client side is this workflow's real path, `galaxy_cnn.sources.sdss.cutouts_shard`: thread pool,
global rate limiter, retries, body validation (decodes, right size) and atomic writes.
  python benchmarks/cutout_client.py --out benchmarks/results/cutout_client.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import provenance  # noqa: E402
from galaxy_cnn.images import jpeg_of  # noqa: E402
from galaxy_cnn.sources.sdss import cutouts_shard  # noqa: E402


def serve(port_queue: mp.Queue, latency: float) -> None:
    """A lean asyncio HTTP/1.1 keep-alive server: one pre-built JPEG response after `latency` s.

    Lean on purpose: the server shares this machine's cores with the client being measured.
    """
    import asyncio

    rng = np.random.default_rng(0)
    body = jpeg_of(np.clip(rng.normal(8, 3, (128, 128, 3)), 0, 255).astype(np.uint8), 80)
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if latency:
                    await asyncio.sleep(latency)
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def run(url: str, n: int, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cat = pd.DataFrame(
            {
                "objID": np.arange(1, n + 1),
                "specObjID": np.arange(1, n + 1),
                "ra": np.linspace(150, 151, n),
                "dec": np.linspace(2, 3, n),
            }
        )
        cat.to_csv(Path(tmp, "catalog.csv"), index=False)
        settings = {
            "url": url,
            "timeout": 30,
            "retries": 3,
            "retry_delay": 0.5,
            "requests_per_second": 10_000,
            "concurrency": concurrency,
        }
        t0, cpu0 = time.perf_counter(), time.process_time()
        manifest = cutouts_shard(
            str(Path(tmp, "catalog.csv")),
            {},
            shard=0,
            n_shards=1,
            image={"size": 128, "scale": 0.296},
            settings=settings,
            folder=tmp,
            out_manifest=str(Path(tmp, "m.csv")),
        )
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert (manifest["status"] == "ok").all(), manifest["status"].value_counts()
    return {
        "concurrency": concurrency,
        "n": n,
        "seconds": seconds,
        "cutouts_per_s": n / seconds,
        "client_cpu_ms_per_cutout": 1000 * cpu / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--latency", type=float, default=0.03, help="server response time, seconds")
    ap.add_argument("--concurrency", default="1,2,4,8,16,32")
    ap.add_argument("--out", default="benchmarks/results/cutout_client.json")
    args = ap.parse_args()
    results = {}
    for latency in (args.latency, 0.0):
        q: mp.Queue = mp.Queue()
        server = mp.Process(target=serve, args=(q, latency), daemon=True)
        server.start()
        url = f"http://127.0.0.1:{q.get(timeout=10)}/dr17"
        rows = []
        for c in [int(x) for x in args.concurrency.split(",")]:
            n = min(args.n, max(100, int(c / max(latency, 1e-3) * 5)))
            r = run(url, n, c) | {"ideal_cutouts_per_s": c / latency if latency else None}
            print(
                f"latency {latency * 1000:.0f} ms, {c:2d} connections: "
                f"{r['cutouts_per_s']:7.1f} cutouts/s, "
                f"client CPU {r['client_cpu_ms_per_cutout']:.2f} ms/cutout"
                + (f" (ideal {r['ideal_cutouts_per_s']:.0f})" if latency else ""),
                flush=True,
            )
            rows.append(r)
        results[f"latency_{int(latency * 1000)}ms"] = rows
        server.terminate()
    out = {"args": vars(args), "results": results, "provenance": provenance.collect()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from galaxy_cnn import style

    style.apply()
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, rows in results.items():
        c = [r["concurrency"] for r in rows]
        ax.plot(
            c, [r["cutouts_per_s"] for r in rows], marker="o", label=f"measured, server {key[8:]}"
        )
        if rows[0]["ideal_cutouts_per_s"]:
            ax.plot(
                c,
                [r["ideal_cutouts_per_s"] for r in rows],
                ls="--",
                color="grey",
                label=f"ideal: connections / {key[8:]}",
            )
    ax.axhline(
        300, color=style.COLORS["nmad"], lw=1, ls=":", label="target 300 / s at 16 connections"
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("concurrent connections")
    ax.set_ylabel("verified cutouts written / s")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(Path(args.out).with_suffix(".png"), dpi=150)


if __name__ == "__main__":
    main()
