"""The dashboard's HTTP routes (Starlette's test client, fakeredis store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from bench.dashboard import fill
from controller.dashboard.app import create_app
from workers import Store

TOKEN = "t0ken"


@pytest.fixture
def opt(store: Store) -> str:
    return fill(store, 30, iterations=4, running=3, failed_every=10)


@pytest.fixture
def client(store: Store, opt: str) -> Iterator[TestClient]:
    with TestClient(create_app(store, token=TOKEN), base_url="http://127.0.0.1") as c:
        yield c


def test_pages_are_shells_that_load_only_local_files(client: TestClient, opt: str) -> None:
    for path, page in (("/", "list"), (f"/opt/{opt}", "opt"), ("/job/x<y", "job")):
        r = client.get(path)
        assert r.status_code == 200 and f"data-page='{page}'" in r.text
        assert "http://" not in r.text and "https://" not in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "data-id='x&lt;y'" in client.get("/job/x<y").text
    for asset in ("uPlot.iife.min.js", "charts.js", "dashboard.js", "dashboard.css",
                  "favicon.svg", "uPlot.LICENSE"):
        assert client.get(f"/static/{asset}").status_code == 200


def test_api_routes(client: TestClient, opt: str, store: Store) -> None:
    assert client.get("/api/optimizations").json()[0]["id"] == opt
    o = client.get(f"/api/opt/{opt}").json()
    assert o["counts"]["failed"] == 2 and o["failures"][0]["count"] == 2
    page = client.get(f"/api/opt/{opt}/jobs", params={"sort": "index", "order": "desc",
                                                      "limit": 5, "status": "completed"}).json()
    assert page["total"] == 25 and [j["index"] for j in page["jobs"]] == [26, 25, 24, 23, 22]
    assert client.get(f"/api/opt/{opt}/curves", params={"limit": 10}).json()["shown"] == 10
    job = store.find(parent=opt)[9]
    detail = client.get(f"/api/job/{job}").json()
    assert detail["status"] == "failed" and "Traceback" in detail["traceback"]


@pytest.mark.parametrize("path, status, message", [
    ("/api/opt/nope", 404, "nope"),
    ("/api/opt/{opt}/jobs?limit=x", 400, "limit must be an integer, got 'x'"),
    ("/api/opt/{opt}/jobs?order=up", 400, "order must be asc or desc"),
    ("/api/opt/{opt}/jobs?sort=param:zzz", 400, "unknown parameter 'zzz'"),
    ("/api/opt/{opt}/curves?limit=0", 400, "limit must be within 1..5000"),
    ("/api/job/nope", 404, "nope"),
])
def test_bad_requests_are_named(client: TestClient, opt: str, path: str, status: int,
                                message: str) -> None:
    r = client.get(path.format(opt=opt))
    assert r.status_code == status and message in r.json()["error"]


def test_non_finite_numbers_are_sent_as_null(client: TestClient, store: Store, opt: str
                                             ) -> None:
    job = store.find(parent=opt)[0]
    store.redis.hset(store.keys.metrics(job), "x\x1fy\x1flast", "nan")
    store.redis.hset(store.keys.metrics(job), "x\x1fy\x1fiter", "0")
    r = client.get(f"/api/job/{job}")
    assert r.status_code == 200 and r.json()["metrics"]["x"]["y"]["last"] is None


def test_actions_need_the_token(client: TestClient, store: Store, opt: str) -> None:
    job = client.get(f"/api/opt/{opt}/jobs", params={"status": "in_progress"}).json()["jobs"][0]
    for headers in ({}, {"X-HPQ-Token": "wrong"}):
        r = client.post(f"/api/job/{job['id']}/stop", headers=headers)
        assert r.status_code == 401 and "token" in r.json()["error"]
        assert r.status_code == client.post(f"/api/opt/{opt}/stop", headers=headers).status_code
    assert store.get(job["id"])["stop"] == ""
    r = client.post(f"/api/job/{job['id']}/stop", headers={"X-HPQ-Token": TOKEN})
    assert r.json() == {"id": job["id"], "outcome": "flagged"}
    r = client.post(f"/api/opt/{opt}/stop", headers={"X-HPQ-Token": TOKEN})
    assert r.status_code == 409 and "no controller drives" in r.json()["error"]
    assert client.get(f"/api/job/{job['id']}/stop").status_code == 405


def test_read_only_turns_the_actions_off(store: Store, opt: str) -> None:
    with TestClient(create_app(store, token=TOKEN, read_only=True),
                    base_url="http://127.0.0.1") as c:
        assert "data-read-only='1'" in c.get("/").text
        r = c.post(f"/api/opt/{opt}/stop", headers={"X-HPQ-Token": TOKEN})
        assert r.status_code == 403 and "read-only" in r.json()["error"]


def test_a_loopback_server_refuses_other_host_names(store: Store, opt: str) -> None:
    app = create_app(store, token=TOKEN)
    with TestClient(app, base_url="http://evil.example") as c:
        assert c.get("/api/optimizations").status_code == 400
    with TestClient(app, base_url="http://localhost:8765") as c:
        assert c.get("/api/optimizations").status_code == 200
    with TestClient(create_app(store, token=TOKEN, host="0.0.0.0"),
                    base_url="http://dash.example") as c:
        assert c.get("/api/optimizations").status_code == 200
