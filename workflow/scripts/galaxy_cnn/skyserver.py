"""SDSS SkyServer client: paged SQL and JPEG cutouts.

The service reports many failures with HTTP 200, so every response is validated before it is
trusted: SQL pages must be a `#Table1` CSV with the expected header and complete rows; cutouts
must be a decodable JPEG of the requested size.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

from .columns import CATALOG_COLUMNS
from .cutouts import CutoutResult
from .images import ImageError, decode_image

log = logging.getLogger(__name__)

SQL_PATH = "/SkyServerWS/SearchTools/SqlSearch"
CUTOUT_PATH = "/SkyServerWS/ImgCutout/getjpeg"
MAX_ROWS = 500_000

_SELECT = {
    "objID": "G.objID", "specObjID": "S.specObjID", "ra": "G.ra", "dec": "G.dec", "z": "S.z",
    "zErr": "S.zErr", "petroMag_r": "G.petroMag_r", "petroR50_r": "G.petroR50_r",
    "petroR90_r": "G.petroR90_r",
} | {f"modelMag_{b}": f"G.modelMag_{b}" for b in "ugriz"} | {
    c: f"E.{c}" for c in ("oh_p16", "oh_p50", "oh_p84", "lgm_tot_p50", "sfr_tot_p50", "bptclass")
}  # fmt: skip


def paper_sql(top: int, after_spec_obj_id: int = 0) -> str:
    """The paper's galaxy selection, one keyset page ordered by specObjID."""
    if not 0 < top <= MAX_ROWS:
        raise ValueError(f"sdss.page_size must be in 1..{MAX_ROWS}, got {top}")
    cols = ", ".join(f"{_SELECT[c]} AS {c}" for c in CATALOG_COLUMNS)
    mags = " AND ".join(f"G.modelMag_{b} > 10 AND G.modelMag_{b} < 25" for b in "ugriz")
    return (
        f"SELECT TOP {top} {cols} FROM SpecObj AS S "
        "JOIN Galaxy AS G ON G.objID = S.bestObjID "
        "JOIN GalSpecLine AS L ON L.specObjID = S.specObjID "
        "JOIN GalSpecInfo AS I ON I.specObjID = S.specObjID "
        "JOIN GalSpecIndx AS X ON X.specObjID = S.specObjID "
        "JOIN GalSpecExtra AS E ON E.specObjID = S.specObjID "
        "WHERE G.petroMag_r > 10 AND G.petroMag_r < 18 "
        "AND G.modelMag_u - G.modelMag_r > 0 AND G.modelMag_u - G.modelMag_r < 6 "
        f"AND {mags} AND S.rChi2 < 2 AND S.zErr > 0 AND S.zErr < 0.01 AND S.z > 0.02 "
        f"AND E.oh_p50 != -9999 AND S.specObjID > {int(after_spec_obj_id)} ORDER BY S.specObjID"
    )


class SkyServerError(RuntimeError):
    """A failure worth retrying (server error, timeout, truncated or malformed body)."""


class SkyServerRejected(RuntimeError):
    """The server refused the request (error_message table, 4xx): retrying will not help."""


def parse_csv_table(
    text: str, required: list[str] | tuple[str, ...] = ()
) -> tuple[list[str], list[list[str]]]:
    """Validate a SqlSearch CSV body that has at least the `required` columns: (header, rows as
    strings; IDs stay exact)."""
    head = text.lstrip()[:1]
    if head in ("<", "{"):
        raise SkyServerError(
            f"expected CSV, got {'HTML' if head == '<' else 'JSON'}: {text[:200]!r}"
        )
    lines = text.split("\n")
    if not lines or not lines[0].startswith("#"):
        raise SkyServerError(f"CSV body does not start with '#Table1': {text[:200]!r}")
    rows = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    rows = [r for r in rows if r]
    if not rows:
        raise SkyServerError("CSV body has no header line (truncated?)")
    header = rows[0]
    if header and header[0].strip().lower() == "error_message":
        message = " ".join(",".join(r) for r in rows[1:]).strip()
        if "queries allowed per minute" in message.lower():
            raise SkyServerError(f"throttled by SkyServer: {message}")
        raise SkyServerRejected(f"SkyServer rejected the query: {message}")
    missing = [c for c in required if c not in header]
    if missing:
        raise SkyServerRejected(f"the query's result has no column(s) {missing} (it has {header})")
    if not text.endswith("\n"):
        raise SkyServerError("CSV body does not end with a newline (truncated mid-stream?)")
    for k, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise SkyServerError(
                f"row {k} has {len(r)} fields, header has {len(header)} (truncated body?)"
            )
    return header, rows[1:]


# Database errors in the SQL (HTTP 500 + JSON), as opposed to timeouts and overloads that a
# retry may cure.
PERMANENT_SQL_ERROR = re.compile(
    r"syntax|invalid (column|object) name|could not be bound|ambiguous column|"
    r"conversion failed",
    re.IGNORECASE,
)


def _error_text(resp: requests.Response) -> str:
    ctype = resp.headers.get("Content-Type", "")
    if "json" in ctype or resp.text.lstrip().startswith("{"):
        try:
            body = resp.json()
            return f"{body.get('ErrorType', '')}: {body.get('ErrorMessage', body)}"
        except ValueError:
            pass
    return resp.text[:300]


@dataclass
class Retry:
    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + random.random())


class RateLimiter:
    """At most `rate` calls per second across all threads (evenly spaced)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.lock = threading.Lock()
        self.next_time = 0.0

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_time)
            self.next_time = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class SqlClient:
    def __init__(
        self,
        base_url: str,
        timeout: float = 600,
        retry: Retry | None = None,
        min_interval: float = 1.0,
    ):
        self.url = base_url.rstrip("/") + SQL_PATH
        self.timeout, self.retry = timeout, retry or Retry()
        self.limiter = RateLimiter(1 / min_interval if min_interval > 0 else 0)
        self.session = requests.Session()

    def query_table(
        self, sql: str, required: list[str] | tuple[str, ...] = ()
    ) -> tuple[list[str], list[list[str]]]:
        """Run one query; retry transient failures with backoff; raise on rejections."""
        for attempt in range(1, self.retry.attempts + 1):
            self.limiter.wait()
            try:
                resp = self.session.get(
                    self.url, params={"cmd": sql, "format": "csv"}, timeout=self.timeout
                )
                if 400 <= resp.status_code < 500:
                    raise SkyServerRejected(f"HTTP {resp.status_code}: {_error_text(resp)}")
                if resp.status_code != 200:
                    text = _error_text(resp)
                    if PERMANENT_SQL_ERROR.search(text):  # the SQL is wrong: a retry cannot help
                        raise SkyServerRejected(f"HTTP {resp.status_code}: {text}")
                    raise SkyServerError(f"HTTP {resp.status_code}: {text}")
                return parse_csv_table(resp.text, required)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                SkyServerError,
            ) as err:
                if attempt == self.retry.attempts:
                    raise SkyServerError(
                        f"SQL query failed after {attempt} attempts: {err}"
                    ) from err
                wait = self.retry.delay(attempt)
                log.warning("SQL attempt %d failed (%s); retrying in %.1f s", attempt, err, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def keyset_pages(
        self,
        sql_after: Callable[[int], str],
        key: str,
        *,
        after: int = 0,
        columns: list[str] | None = None,
        required: list[str] | tuple[str, ...] = (),
        check: Callable[[list[int]], None] | None = None,
    ) -> Iterator[tuple[list[str], list[list[str]]]]:
        """(header, rows) of each page of a selection keyset-paged on the integer column `key`,
        the last one empty: a body cut at a line boundary looks like a short page, so only an
        empty one ends the selection.

        A page must have the header `columns` (default: the first page's) and keys ascending past
        the previous page's, or rows could be lost or doubled; `check(keys)` sees them first.
        """
        fixed = columns is not None
        while True:
            header, rows = self.query_table(sql_after(after), required)
            if columns is None:
                columns = header
            elif header != columns:
                raise SkyServerError(
                    f"unexpected header {header}, expected {columns}"
                    if fixed
                    else f"query pages disagree on columns: {columns} then {header}"
                )
            if not rows:
                yield header, rows
                return
            at = header.index(key)
            ids = [int(r[at]) for r in rows]
            if check is not None:
                check(ids)
            if ids != sorted(ids) or ids[0] <= after:
                raise SkyServerError(
                    f"SkyServer returned a page out of {key} order; paging is unsafe"
                )
            yield header, rows
            after = ids[-1]


class CutoutClient:
    """Fetches getjpeg cutouts; thread-safe, one requests.Session per thread."""

    def __init__(
        self,
        base_url: str,
        size: int,
        scale: float,
        timeout: float = 30,
        retry: Retry | None = None,
        requests_per_second: float = 10,
    ):
        self.url = base_url.rstrip("/") + CUTOUT_PATH
        self.size, self.scale, self.timeout = size, scale, timeout
        self.retry = retry or Retry()
        self.limiter = RateLimiter(requests_per_second)
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def fetch(self, ra: float, dec: float) -> CutoutResult:
        params = {
            "ra": f"{ra:.7f}",
            "dec": f"{dec:.7f}",
            "scale": f"{self.scale:.6g}",
            "width": self.size,
            "height": self.size,
        }
        status, error = None, ""
        for attempt in range(1, self.retry.attempts + 1):
            self.limiter.wait()
            try:
                resp = self._session().get(self.url, params=params, timeout=self.timeout)
                status = resp.status_code
                if status == 404:
                    return CutoutResult(
                        "outside_footprint", attempt, 404, "HTTP 404: outside the survey footprint"
                    )
                if 400 <= status < 500:
                    return CutoutResult(
                        "failed", attempt, status, f"HTTP {status}: {_error_text(resp)}"
                    )
                if status != 200:
                    raise SkyServerError(f"HTTP {status}")
                data = resp.content
                if not data.rstrip(b"\0").endswith(b"\xff\xd9"):
                    raise SkyServerError("JPEG is truncated (no end-of-image marker)")
                decode_image(data, self.size)
                return CutoutResult("ok", attempt, status, "", data)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                SkyServerError,
                ImageError,
            ) as err:
                error = f"{type(err).__name__}: {err}"
                if attempt < self.retry.attempts:
                    time.sleep(self.retry.delay(attempt))
        return CutoutResult("failed", self.retry.attempts, status, error)
