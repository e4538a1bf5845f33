"""A SkyServer double on 127.0.0.1 that behaves as the real service does (docs/data-sources.md).

SQL: `#Table1` CSV, silent truncation without TOP, `error_message` tables with HTTP 200 for
rejections and throttling, JSON 500s for database errors. Cutouts: JPEGs clipped to 64-2048 px,
404 with a JPEG body outside the footprint, 500 with a JPEG body, 400 with JSON for bad
parameters. Scripted faults (server errors, HTML pages, truncated bodies, dropped
connections, slow answers) are consumed per request so tests can see the client recover.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections import defaultdict, deque
from urllib.parse import ParseResult, parse_qs

import numpy as np
from local_http import Answer, LocalServer
from PIL import Image

SQL_MAX_ROWS = 500_000


def make_rows(n: int, seed: int = 0, duplicates: int = 3, outside: int = 0) -> list[dict]:
    """Catalog rows like the paper's query returns; some objIDs with two spectra, some -9999s."""
    rng = np.random.default_rng(seed)
    rows = []
    spec = 9_300_000_000_000_000_000  # above 2**63: unsigned, as SDSS specObjIDs can be
    for k in range(n):
        spec += int(rng.integers(1, 10**9))
        dec = float(rng.uniform(-10, 60)) if k >= outside else float(rng.uniform(-60, -40))
        rows.append(
            {
                "objID": 1237648700000000000 + 7919 * k + int(rng.integers(0, 7919)),
                "specObjID": spec,
                "ra": round(float(rng.uniform(0, 360)), 6),
                "dec": round(dec, 6),
                "z": round(float(rng.uniform(0.02, 0.2)), 5),
                "zErr": 1e-5,
                **{f"modelMag_{b}": round(float(rng.uniform(14, 18)), 4) for b in "ugriz"},
                "petroMag_r": 17.0,
                "petroR50_r": 2.5,
                "petroR90_r": 6.0,
                "oh_p16": 8.8,
                "oh_p50": round(float(rng.normal(8.9, 0.2)), 5),
                "oh_p84": 9.0,
                "lgm_tot_p50": round(float(rng.normal(10, 0.5)), 4) if k % 17 else -9999,
                "sfr_tot_p50": 0.1,
                "bptclass": 1,
            }
        )
    for k in range(duplicates):  # one photometric object, two spectra
        twin = dict(rows[k])
        spec += 1
        twin["specObjID"] = spec
        rows.append(twin)
    return rows


def jpeg(width: int, height: int, seed: int, text_like: bool = False) -> bytes:
    rng = np.random.default_rng(seed % 2**32)
    arr = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    if not text_like:  # a galaxy of random size and colour
        yy, xx = np.mgrid[:height, :width]
        r2 = ((yy - height / 2) ** 2 + (xx - width / 2) ** 2) / (
            rng.uniform(0.005, 0.05) * width * height
        )
        blob = np.exp(-r2)[..., None] * rng.uniform(80, 215, 3)
        arr = np.clip(arr + blob, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


class FakeSkyServer(LocalServer):
    prefix = "/dr17"

    def __init__(
        self,
        rows: list[dict],
        queries_per_minute: int = 60,
        cutout_delay: float = 0.0,
        slow_seconds: float = 3.0,
        footprint_min_dec: float = -25.0,
    ):
        self.rows = sorted(rows, key=lambda r: r["specObjID"])
        self.columns = list(rows[0])
        self.queries_per_minute = queries_per_minute
        self.cutout_delay, self.slow_seconds = cutout_delay, slow_seconds
        self.footprint_min_dec = footprint_min_dec
        self.sql_faults: deque[str] = deque()
        self.cutout_faults: dict[int, deque[str]] = defaultdict(deque)
        self.always_fail: set[int] = set()
        self.by_position = {(round(r["ra"], 5), round(r["dec"], 5)): r["objID"] for r in self.rows}
        self.query_times: deque[float] = deque()
        self.sql_log: list[str] = []
        self.cutout_requests: dict[int, int] = defaultdict(int)
        self.lock = threading.Lock()
        super().__init__()

    def get(self, url: ParseResult) -> Answer:
        query = parse_qs(url.query)
        if url.path.endswith("/SkyServerWS/SearchTools/SqlSearch"):
            status, ctype, text = self.answer_sql(query.get("cmd", [""])[0])
            return status, ctype, text.encode(), {}, None
        if url.path.endswith("/SkyServerWS/ImgCutout/getjpeg"):
            status, ctype, body, fault = self.answer_cutout(query)
            return status, ctype, body, {}, fault
        return 404, "text/html", b"<html>not found</html>", {}, None

    # --- SQL -------------------------------------------------------------------------------
    def answer_sql(self, cmd: str) -> tuple[int, str, str]:
        with self.lock:
            self.sql_log.append(cmd)
            fault = self.sql_faults.popleft() if self.sql_faults else None
            now = time.monotonic()
            while self.query_times and now - self.query_times[0] > 60:
                self.query_times.popleft()
            self.query_times.append(now)
            throttled = len(self.query_times) > self.queries_per_minute
        sql = re.sub(r"--[^\n]*", "", cmd).replace(";", "").strip()
        if fault == "500":
            return database_error("Execution Timeout Expired.", log_id=1)
        if fault == "html":
            return (
                200,
                "text/html",
                "<html><head><title>Skyserver Error</title></head><body>error</body></html>",
            )
        if throttled or fault == "throttle":
            return (
                200,
                "text/plain",
                (
                    f"#Table1\nerror_message\nERROR: Maximum {self.queries_per_minute} "
                    f"queries allowed per minute. Rejected query: {sql[:60]}\n"
                ),
            )
        if not sql.upper().startswith("SELECT"):
            return (
                200,
                "text/plain",
                "#Table1\nerror_message\nerror: only SELECT statements are allowed\n",
            )
        top = re.match(r"SELECT\s+TOP\s+(\d+)\s", sql, re.I)
        if top and int(top[1]) > SQL_MAX_ROWS:
            return 200, "text/plain", "#Table1\nerror_message\nerror: limit is  top 500000 rows\n"
        nested = re.search(r"FROM\s*\((SELECT\s.+)\)\s*AS\s+(\w+)\s+(.*)$", sql, re.I | re.S)
        if nested:
            return self._answer_selection(nested[1], nested[3], top, fault)
        aliases = re.findall(r"\bAS\s+(\w+)\s*(?:,|FROM)", sql, re.I)
        unknown = [a for a in aliases if a not in self.columns]
        if unknown:
            return database_error(f"Invalid column name '{unknown[0]}'.")
        after = re.search(r"specObjID\s*>\s*(\d+)", sql)
        rows = [r for r in self.rows if not after or r["specObjID"] > int(after[1])]
        rows = rows[: min(int(top[1]) if top else SQL_MAX_ROWS, SQL_MAX_ROWS)]
        cols = aliases or self.columns
        lines = ["#Table1", ",".join(cols)] + [",".join(_fmt(r[c]) for c in cols) for r in rows]
        body = "\n".join(lines) + "\n"
        if fault == "truncate":
            return 200, "text/plain", body[: len(body) // 2]
        return 200, "text/plain", body

    def _answer_selection(self, inner: str, outer: str, top, fault) -> tuple[int, str, str]:
        """`SELECT TOP n q.* FROM (<selection>) AS q WHERE q.objID > last ORDER BY q.objID` over the
        photometric objects (one row per objID): the selection's columns (`col` or `T.col AS name`)
        and a WHERE of `col BETWEEN a AND b` / `col < x` / `col > x` terms joined by AND."""
        m = re.match(
            r"SELECT\s+(?:TOP\s+\d+\s+)?(.+?)\s+FROM\s+\w+(?:\s+AS\s+\w+)?(?:\s+WHERE\s+(.+))?$",
            inner,
            re.I | re.S,
        )
        if not m or re.search(r"ORDER\s+BY", inner, re.I):
            return database_error("Incorrect syntax in the subquery.")
        cols = []
        for item in m[1].split(","):
            parts = re.split(r"\s+AS\s+", item.strip(), flags=re.I)
            expr, alias = (
                parts[0].split(".")[-1],
                parts[1] if len(parts) > 1 else parts[0].split(".")[-1],
            )
            if expr not in self.columns:
                return database_error(f"Invalid column name '{expr}'.")
            cols.append((expr, alias))
        photo = {r["objID"]: r for r in self.rows}
        rows = sorted(photo.values(), key=lambda r: r["objID"])
        where = re.sub(
            r"\s+BETWEEN\s+([-\d.]+)\s+AND\s+", r" BETWEEN \1 ~ ", m[2] or "", flags=re.I
        )
        for term in re.split(r"\s+AND\s+", where, flags=re.I) if where else []:
            between = re.match(
                r"(?:\w+\.)?(\w+)\s+BETWEEN\s+([-\d.]+)\s+~\s+([-\d.]+)", term.strip(), re.I
            )
            compare = re.match(r"(?:\w+\.)?(\w+)\s*([<>])\s*([-\d.]+)$", term.strip())
            if between:
                lo, hi = float(between[2]), float(between[3])
                rows = [r for r in rows if lo <= r[between[1]] <= hi]
            elif compare:
                value = float(compare[3])
                rows = [
                    r
                    for r in rows
                    if (r[compare[1]] < value if compare[2] == "<" else r[compare[1]] > value)
                ]
        after = re.search(r"objID\s*>\s*(\d+)", outer)
        rows = [r for r in rows if not after or r["objID"] > int(after[1])]
        rows = rows[: int(top[1]) if top else SQL_MAX_ROWS]
        lines = ["#Table1", ",".join(a for _, a in cols)] + [
            ",".join(_fmt(r[e]) for e, _ in cols) for r in rows
        ]
        body = "\n".join(lines) + "\n"
        return 200, "text/plain", body[: len(body) // 2] if fault == "truncate" else body

    # --- cutouts ----------------------------------------------------------------------------
    def answer_cutout(self, query: dict) -> tuple[int, str, bytes, str | None]:
        try:
            ra, dec = float(query["ra"][0]), float(query["dec"][0])
            width = int(query.get("width", ["128"])[0])
            height = int(query.get("height", ["128"])[0])
            float(query.get("scale", ["0.396127"])[0])
        except (KeyError, ValueError):
            return (
                400,
                "application/json",
                json.dumps({"ErrorCode": 400, "ErrorMessage": "bad parameter"}).encode(),
                None,
            )
        width, height = (min(max(v, 64), 2048) for v in (width, height))  # silently clipped
        obj = self.by_position.get((round(ra, 5), round(dec, 5)), 0)
        with self.lock:
            self.cutout_requests[obj] += 1
            fault = self.cutout_faults[obj].popleft() if self.cutout_faults[obj] else None
        if self.cutout_delay:
            time.sleep(self.cutout_delay)
        if dec < self.footprint_min_dec:
            return 404, "image/jpeg", jpeg(width, height, 0, text_like=True), None
        if obj in self.always_fail or fault == "500":
            return 500, "image/jpeg", jpeg(width, height, 1, text_like=True), None
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "html":
            return 200, "text/html", b"<html><title>Skyserver Error</title></html>", None
        return (
            200,
            "image/jpeg",
            jpeg(width, height, obj),
            fault,
        )  # 'truncate' / 'drop' handled on send


def database_error(message: str, *, log_id: int | None = None) -> tuple[int, str, str]:
    """SkyServer's answer to a failed SQL statement: HTTP 500 with a JSON body."""
    body = {"ErrorCode": 500, "ErrorType": "InternalServerError", "ErrorMessage": message}
    return 500, "application/json", json.dumps(body | ({"LogMessageID": log_id} if log_id else {}))


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)
