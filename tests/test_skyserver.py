"""The real HTTP client against a SkyServer double on 127.0.0.1 (tests/fake_skyserver.py)."""

import pandas as pd
import pytest
from fake_skyserver import FakeSkyServer, make_rows
from galaxy_cnn import catalog, skyserver
from galaxy_cnn.images import decode_image
from galaxy_cnn.sources import sdss

FAST = skyserver.Retry(attempts=4, base_delay=0.01, max_delay=0.05)


def test_paper_sql_has_the_selection_and_keyset_paging():
    sql = skyserver.paper_sql(50000, 123)
    assert sql.startswith("SELECT TOP 50000 ")
    for cut in [
        "G.petroMag_r > 10",
        "G.petroMag_r < 18",
        "S.rChi2 < 2",
        "S.zErr > 0",
        "S.zErr < 0.01",
        "S.z > 0.02",
        "E.oh_p50 != -9999",
        "G.modelMag_u - G.modelMag_r < 6",
        "G.modelMag_z < 25",
        "S.specObjID > 123 ORDER BY S.specObjID",
        "JOIN GalSpecIndx",
        "G.objID = S.bestObjID",
    ]:
        assert cut in sql
    assert ";" not in sql and "--" not in sql
    with pytest.raises(ValueError, match="page_size"):
        skyserver.paper_sql(500_001)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("#Table1\nerror_message\nerror: limit is  top 500000 rows\n", skyserver.SkyServerRejected),
        (
            "#Table1\nerror_message\n"
            "ERROR: Maximum 60 queries allowed per minute. Rejected query: x\n",
            skyserver.SkyServerError,
        ),
        ('{"ErrorCode":500,"ErrorMessage":"x"}', skyserver.SkyServerError),
        ("<html><title>Skyserver Error</title></html>", skyserver.SkyServerError),
        ("#Table1\na,b\n1,2\n3", skyserver.SkyServerError),  # cut mid-row
        ("#Table1\na,b\n1,2\n3,4,5\n", skyserver.SkyServerError),  # ragged
        ("#Table1\nx,b\n1,2\n", skyserver.SkyServerError),  # wrong header
        ("a,b\n1,2\n", skyserver.SkyServerError),  # no #Table1
    ],
)
def test_csv_pages_are_validated(body, error, monkeypatch):
    def answer(sql, required=()):  # the server's body, parsed as the client parses it
        return skyserver.parse_csv_table(body, required)

    client = skyserver.SqlClient("http://127.0.0.1:9", retry=FAST, min_interval=0)
    monkeypatch.setattr(client, "query_table", answer)
    with pytest.raises(error):
        next(client.keyset_pages(lambda after: "", "a", columns=["a", "b"]))


def test_csv_keeps_ids_exact_and_values_with_hashes():
    header, rows = skyserver.parse_csv_table('#Table1\na,b\n9300000000000000123,"x,#1"\n')
    assert header == ["a", "b"] and rows == [["9300000000000000123", "x,#1"]]


def test_catalog_pages_resume_and_survive_hostile_answers(tmp_path):
    rows = make_rows(95, duplicates=3)
    with FakeSkyServer(rows) as server:
        server.sql_faults.extend(["500", "truncate", "html", "throttle"])
        raw, info = sdss.download_sdss_catalog(
            server.url,
            str(tmp_path / "pages"),
            page_size=40,
            min_interval=0,
            retries=6,
            retry_delay=0.01,
        )
        assert info["complete"] and len(raw) == 98
        assert all("TOP 40 " in q for q in server.sql_log)
        n_queries = len(server.sql_log)
        # a rerun reads the finished pages from disk and asks nothing
        raw2, _ = sdss.download_sdss_catalog(
            server.url, str(tmp_path / "pages"), page_size=40, min_interval=0
        )
        assert len(server.sql_log) == n_queries
    pd.testing.assert_frame_equal(raw, raw2)
    assert sorted(int(s) for s in raw["specObjID"]) == sorted(r["specObjID"] for r in rows)
    df, report, _ = catalog.clean_catalog(raw)
    assert report["duplicate_objID_dropped"] == 3 and len(df) == 95
    assert df["objID"].dtype == "int64" and set(df["objID"]) == {r["objID"] for r in rows}
    assert df["lgm_tot_p50"].isna().sum() == sum(1 for r in rows[:95] if r["lgm_tot_p50"] == -9999)


def test_interrupted_catalog_download_resumes_without_loss_or_doubles(tmp_path):
    rows = make_rows(130, duplicates=0)
    with FakeSkyServer(rows) as server:
        server.sql_faults.extend(["500"] * 10)  # the third page fails for good on the first run
        server.sql_faults.appendleft(None)
        server.sql_faults.appendleft(None)
        with pytest.raises(skyserver.SkyServerError, match="after 3 attempts"):
            sdss.download_sdss_catalog(
                server.url,
                str(tmp_path / "p"),
                page_size=50,
                min_interval=0,
                retries=3,
                retry_delay=0.01,
            )
        assert len(list((tmp_path / "p").glob("page-*.csv"))) == 2
        server.sql_faults.clear()
        raw, info = sdss.download_sdss_catalog(
            server.url, str(tmp_path / "p"), page_size=50, min_interval=0
        )
    assert info["complete"] and len(raw) == 130 and raw["specObjID"].is_unique


def test_rejection_stops_with_the_servers_message(tmp_path):
    with FakeSkyServer(make_rows(10)) as server:
        with pytest.raises(skyserver.SkyServerRejected, match="limit is  top 500000"):
            skyserver.SqlClient(server.url, retry=FAST, min_interval=0).query_table(
                "SELECT TOP 600000 objID FROM Galaxy"
            )
        before = len(server.sql_log)
        with pytest.raises(
            skyserver.SkyServerRejected, match="Invalid column name 'nope'"
        ):  # HTTP 500 + JSON
            skyserver.SqlClient(server.url, retry=FAST, min_interval=0).query_table(
                "SELECT TOP 5 G.x AS nope FROM Galaxy"
            )
        assert len(server.sql_log) == before + 1  # wrong SQL is not retried


def test_sql_rate_is_at_most_one_query_per_interval(tmp_path):
    import time

    with FakeSkyServer(make_rows(10)) as server:
        client = skyserver.SqlClient(server.url, retry=FAST, min_interval=0.2)
        t0 = time.monotonic()
        for _ in range(4):
            client.query_table("SELECT TOP 5 G.objID AS objID FROM Galaxy")
        assert time.monotonic() - t0 >= 0.6


def _client(server, **kw):
    return skyserver.CutoutClient(
        server.url,
        64,
        0.592,
        timeout=kw.pop("timeout", 1.0),
        retry=FAST,
        requests_per_second=1000,
        **kw,
    )


def test_cutout_recovers_from_transient_failures():
    rows = make_rows(6, duplicates=0)
    with FakeSkyServer(rows, slow_seconds=1.5) as server:
        plan = [["500"], ["truncate"], ["drop"], ["slow"], ["html"], ["500", "drop", "truncate"]]
        for r, faults in zip(rows, plan, strict=True):
            server.cutout_faults[r["objID"]].extend(faults)
        client = _client(server)
        for r, faults in zip(rows, plan, strict=True):
            res = client.fetch(r["ra"], r["dec"])
            assert res.status == "ok", res.error
            assert decode_image(res.data, 64).shape == (64, 64, 3)
            assert res.attempts == 1 + len(faults)
            assert server.cutout_requests[r["objID"]] == 1 + len(faults)


def test_cutout_404_is_permanent_and_500_forever_fails():
    rows = make_rows(3, duplicates=0, outside=1)
    with FakeSkyServer(rows) as server:
        server.always_fail.add(rows[1]["objID"])
        client = _client(server)
        outside = client.fetch(rows[0]["ra"], rows[0]["dec"])
        assert (outside.status, outside.http_status, outside.attempts) == (
            "outside_footprint",
            404,
            1,
        )
        assert server.cutout_requests[rows[0]["objID"]] == 1
        broken = client.fetch(rows[1]["ra"], rows[1]["dec"])
        assert (broken.status, broken.http_status, broken.attempts) == (
            "failed",
            500,
            FAST.attempts,
        )


def test_wrong_size_answers_are_not_kept():
    rows = make_rows(1, duplicates=0)
    with FakeSkyServer(rows) as server:  # the server clips 32 px requests to 64
        res = skyserver.CutoutClient(server.url, 32, 1.0, retry=FAST).fetch(
            rows[0]["ra"], rows[0]["dec"]
        )
    assert res.status == "failed" and "expected 32x32" in res.error


def test_a_wrong_apply_query_stops_at_once_and_a_timeout_is_retried():
    """SQL errors and timeouts both come back as HTTP 500 + JSON: only a timeout merits a retry."""
    from galaxy_cnn.apply import run_query
    from galaxy_cnn.errors import InputError

    with FakeSkyServer(make_rows(30, duplicates=0, outside=0)) as server:
        with pytest.raises(InputError, match="Invalid column name 'petroMag_q'"):
            run_query(
                server.url,
                "SELECT objID, ra, dec, petroMag_q FROM Galaxy",
                retries=4,
                retry_delay=0.01,
                min_query_interval=0,
            )
        assert len(server.sql_log) == 1
        server.sql_faults.append("500")  # "Execution Timeout Expired."
        rows = run_query(
            server.url,
            "SELECT objID, ra, dec FROM Galaxy",
            page_size=20,
            retries=4,
            retry_delay=0.01,
            min_query_interval=0,
        )
        assert len(rows) == 30 and rows["objID"].is_unique
