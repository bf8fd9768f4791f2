"""The dashboard's web application (Starlette): three pages, a JSON API, server-sent events.

=======================================  ================================================
route                                    what
=======================================  ================================================
``GET /``, ``/opt/{id}``, ``/job/{id}``  the pages (a shell; the data comes from the API)
``GET /api/optimizations``               every optimizer of the namespace
``GET /api/opt/{id}``                    overview, budgets, failures, aggregated charts
``GET /api/opt/{id}/jobs``               one page of the jobs table: ``offset``, ``limit``,
                                         ``sort`` (``rank``, ``index``, ..., ``param:NAME``),
                                         ``order`` (``asc``/``desc``), ``status`` (comma list)
``GET /api/opt/{id}/curves``             learning curves of the objective (``limit`` jobs)
``GET /api/job/{id}``                    one job
``GET /api/stream``                      server-sent events: ``opt=ID``, ``job=ID`` or the list
``POST /api/opt/{id}/stop``              stop an optimization (token)
``POST /api/job/{id}/stop``              stop a job (token)
=======================================  ================================================

Actions need the header ``X-HPQ-Token`` (the token printed at start; a custom header cannot be
sent cross-site without a CORS pre-flight, which is never granted); ``read_only`` refuses them.
A server bound to a loopback address answers only requests addressed to a loopback host name
(no DNS rebinding). Every read goes through :mod:`controller.dashboard.data`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from workers.errors import TaskNotFoundError
from workers.store import Store

from . import data
from .live import Change, Hub, Subscription

STATIC = Path(__file__).resolve().with_name("static")
#: Seconds the server waits after a change before telling the browser: a burst of events goes
#: out as one message, and the controller has saved the pass that handled them.
COALESCE_SECONDS = 0.1
#: Seconds between keep-alive comments on an idle event stream.
KEEPALIVE_SECONDS = 15.0
_LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class BadRequest(ValueError):
    """A query argument that is not what the route expects."""


def create_app(store: Store, *, token: str, read_only: bool = False,
               host: str = "127.0.0.1", hub: Hub | None = None) -> Starlette:
    """The dashboard application over ``store``. ``host`` is the address the server binds:
    a loopback one restricts the accepted Host headers to loopback names."""
    cache = data.SnapshotCache(store)
    hub = hub or Hub(store)

    def page(kind: str, title: str, ident: str = "") -> HTMLResponse:
        body = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
                f"<title>{html.escape(title)} - hpqueue</title>"
                "<link rel='icon' href='/static/favicon.svg' type='image/svg+xml'>"
                "<link rel='stylesheet' href='/static/uPlot.min.css'>"
                "<link rel='stylesheet' href='/static/dashboard.css'></head>"
                f"<body data-page='{kind}' data-id='{html.escape(ident, quote=True)}' "
                f"data-read-only='{int(read_only)}'>"
                "<header><a class='brand' href='/'>hpqueue</a><span id='crumbs'></span>"
                "<span id='live' class='live off' title='live updates'>offline</span></header>"
                "<div id='banner' hidden></div><main id='main'></main>"
                "<script src='/static/uPlot.iife.min.js'></script>"
                "<script src='/static/charts.js'></script>"
                "<script src='/static/dashboard.js'></script></body></html>")
        return HTMLResponse(body, headers=_SECURITY_HEADERS)

    async def list_page(request: Request) -> Response:
        return page("list", "optimizations")

    async def opt_page(request: Request) -> Response:
        return page("opt", f"optimization {request.path_params['id']}",
                    request.path_params["id"])

    async def job_page(request: Request) -> Response:
        return page("job", f"job {request.path_params['id']}", request.path_params["id"])

    async def api_list(request: Request) -> Response:
        return await _call(data.list_optimizations, store)

    async def api_opt(request: Request) -> Response:
        return await _call(data.optimization, cache, request.path_params["id"])

    async def api_jobs(request: Request) -> Response:
        q = request.query_params
        try:
            order = q.get("order", "asc")
            if order not in ("asc", "desc"):
                raise BadRequest(f"order must be asc or desc, got {order!r}")
            kwargs = {"offset": _int(q, "offset", 0), "limit": _int(q, "limit", 50),
                      "sort": q.get("sort", "rank"), "descending": order == "desc",
                      "statuses": [s for s in q.get("status", "").split(",") if s] or None}
        except BadRequest as exc:
            return _error(400, str(exc))
        return await _call(data.jobs_page, cache, request.path_params["id"], **kwargs)

    async def api_curves(request: Request) -> Response:
        try:
            limit = _int(request.query_params, "limit", 300)
        except BadRequest as exc:
            return _error(400, str(exc))
        return await _call(data.learning_curves, cache, request.path_params["id"], limit)

    async def api_job(request: Request) -> Response:
        return await _call(data.job_detail, store, request.path_params["id"])

    def refused(request: Request) -> Response | None:
        if read_only:
            return _error(403, "the dashboard runs read-only (--read-only): actions are off")
        given = request.headers.get("x-hpq-token", "")
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            return _error(401, "missing or wrong token: open the dashboard with the URL it "
                               "printed at start (…/#token=…)")
        return None

    async def stop_opt(request: Request) -> Response:
        return refused(request) or await _call(data.stop_optimization, store,
                                               request.path_params["id"])

    async def stop_job(request: Request) -> Response:
        return refused(request) or await _call(data.stop_job, store, request.path_params["id"])

    async def stream(request: Request) -> Response:
        q = request.query_params
        if "opt" in q:
            parents: list[str | None] = [q["opt"]]
        elif "job" in q:
            parent = await _threaded(data.job_parent, store, q["job"])
            if isinstance(parent, Response):
                return parent
            parents = [parent]
        else:
            parents = [None, *[o["id"] for o in await run_in_threadpool(
                data.list_optimizations, store) if o["status"] == "in_progress"]]
        return StreamingResponse(_events(request, hub, parents, cache.invalidate,
                                         follow_new="opt" not in q and "job" not in q),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    routes = [
        Route("/", list_page), Route("/opt/{id}", opt_page), Route("/job/{id}", job_page),
        Route("/api/optimizations", api_list), Route("/api/opt/{id}", api_opt),
        Route("/api/opt/{id}/jobs", api_jobs), Route("/api/opt/{id}/curves", api_curves),
        Route("/api/job/{id}", api_job), Route("/api/stream", stream),
        Route("/api/opt/{id}/stop", stop_opt, methods=["POST"]),
        Route("/api/job/{id}/stop", stop_job, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    hosts = _LOOPBACK_NAMES if host in ("127.0.0.1", "localhost", "::1") else ["*"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(hub.close)

    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)])
    app.state.hub = hub
    app.state.cache = cache
    return app


async def _events(request: Request, hub: Hub, parents: list[str | None],
                  invalidate: Callable[[str | None], None], follow_new: bool
                  ) -> AsyncIterator[str]:
    """The event stream of one browser connection: ``ready`` once it follows its streams (the
    page then loads its data), then ``change`` messages (changed task ids and statuses), each
    after the cached snapshots of the changed optimizers were dropped."""
    sub = Subscription(asyncio.get_running_loop())
    try:
        for parent in parents:
            await run_in_threadpool(hub.subscribe, sub, parent)
        yield "event: ready\ndata: {}\n\n"
        idle = 0.0
        while True:
            try:
                first = await asyncio.wait_for(sub.queue.get(), timeout=5.0)
            except asyncio.TimeoutError:
                if await request.is_disconnected():
                    return
                idle += 5.0
                if idle >= KEEPALIVE_SECONDS:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                continue
            idle = 0.0
            if first is None:
                return
            await asyncio.sleep(COALESCE_SECONDS)
            batch: list[Change | None] = [first]
            while not sub.queue.empty():
                batch.append(sub.queue.get_nowait())
            changes = [c for c in batch if c is not None]
            for parent in {c.parent for c in changes}:
                invalidate(parent)
            if follow_new:  # the list page also follows optimizers that start meanwhile
                for c in changes:
                    for task_id, status in c.statuses.items():
                        if c.parent is None and status == "in_progress" \
                                and task_id not in sub.parents:
                            await run_in_threadpool(hub.subscribe, sub, task_id)
            yield f"event: change\ndata: {json.dumps(_merge(changes))}\n\n"
            if len(changes) < len(batch):
                return
    finally:
        hub.unsubscribe(sub)


def _merge(changes: list[Change]) -> dict[str, Any]:
    tasks = sorted({t for c in changes for t in c.tasks})
    statuses = {t: s for c in changes for t, s in c.statuses.items()}
    return {"tasks": tasks[:1000], "statuses": statuses,
            "parents": sorted({c.parent or "" for c in changes}),
            "commands": [cmd for c in changes for cmd in c.commands]}


async def _call(func: Any, *args: Any, **kwargs: Any) -> Response:
    """``func(*args)`` on a worker thread as a JSON response; known errors as 4xx."""
    result = await _threaded(func, *args, **kwargs)
    return result if isinstance(result, Response) else _json(result)


async def _threaded(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(func, *args, **kwargs)
    except TaskNotFoundError as exc:
        return _error(404, str(exc))
    except data.NotAnOptimizerError as exc:
        return _error(404, str(exc))
    except data.ActionRefusedError as exc:
        return _error(409, str(exc))
    except ValueError as exc:
        return _error(400, str(exc))


def _json(payload: Any, status: int = 200) -> Response:
    return Response(data.to_json(payload), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _int(query: Any, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
