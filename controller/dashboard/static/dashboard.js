/* hpqueue dashboard pages: the list of optimizations, one optimization, one job.
 * Data comes from the JSON API; pages follow server-sent events (/api/stream) and reload what
 * changed. Every user string is set through textContent. */
(function () {
  "use strict";
  const C = window.HPQCharts;
  const body = document.body;
  const PAGE = body.dataset.page, ID = body.dataset.id, READ_ONLY = body.dataset.readOnly === "1";
  const main = document.getElementById("main");
  const TOKEN_KEY = "hpq-dashboard-token";

  // ------------------------------------------------------------------ helpers
  /** Build an element: el("a", {href: "/"}, "text", child, ...). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  function section(id, title, ...children) {
    return el("section", { id: id }, el("h2", {}, title), ...children);
  }
  const jobLink = (id, text) => el("a", { href: `/job/${encodeURIComponent(id)}` }, text || id);
  const optLink = (id, text) => el("a", { href: `/opt/${encodeURIComponent(id)}` }, text || id);
  const badge = (status) => el("span", { class: `badge s-${status}` }, status.replace("_", " "));
  const when = (t) => t ? new Date(t * 1000).toLocaleString() : "-";
  function replace(id, node) {
    const old = document.getElementById(id);
    node.id = id;
    old.replaceWith(node);
  }
  function banner(message, kind) {
    const b = document.getElementById("banner");
    b.textContent = message || "";
    b.className = kind || "error";
    b.hidden = !message;
  }

  async function api(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" } });
    const payload = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(payload.error || `${r.status} ${r.statusText}`);
    return payload;
  }

  // the action token: given once as …/#token=…, then kept by this browser for this origin
  (function takeToken() {
    const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (m) {
      localStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  })();

  async function action(path, what) {
    if (!window.confirm(`${what}?`)) return;
    const headers = { Accept: "application/json" };
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) headers["X-HPQ-Token"] = token;
    const r = await fetch(path, { method: "POST", headers: headers });
    const payload = await r.json().catch(() => ({}));
    if (r.ok) banner(`${what}: ${payload.outcome}`, "info");
    else banner(`${what} refused: ${payload.error || r.status}`, "error");
  }
  function actionButton(label, path, what) {
    if (READ_ONLY) return null;
    return el("button", { class: "action", type: "button", onclick: () => action(path, what) }, label);
  }

  /** Run `load` now and again after each change message, one run at a time: a change during
   * a run makes one more run, started after a pause as long as the run took (so that a large
   * optimization under a stream of events keeps the server at most half busy).
   * `wanted(change)` filters changes. */
  function follow(query, load, wanted) {
    let running = false, again = false;
    async function run() {
      if (running) { again = true; return; }
      running = true;
      const started = performance.now();
      try { await load(); } catch (e) { banner(String(e.message || e)); }
      const took = performance.now() - started;
      window.setTimeout(() => {
        running = false;
        if (again) { again = false; run(); }
      }, Math.min(took, 5000));
    }
    const live = document.getElementById("live");
    const source = new EventSource(`/api/stream${query}`);
    source.addEventListener("ready", () => {
      live.textContent = "live"; live.className = "live on"; run();
    });
    source.addEventListener("change", (ev) => {
      const change = JSON.parse(ev.data);
      if (!wanted || wanted(change)) run();
    });
    source.onerror = () => { live.textContent = "reconnecting"; live.className = "live off"; };
    window.addEventListener("beforeunload", () => source.close());
  }

  function table(header, rows, opts) {
    const thead = el("thead", {}, el("tr", {}, ...header.map((h) => typeof h === "string" ? el("th", {}, h) : h)));
    return el("table", { class: (opts && opts.class) || "grid" }, thead, el("tbody", {}, ...rows));
  }
  const num = (v) => el("td", { class: "num" }, C.fmt(v));
  const values = (vs) => vs ? vs.map((v) => C.fmt(v)).join(" / ") : "-";

  // ------------------------------------------------------------------ list page
  function listPage() {
    document.getElementById("crumbs").textContent = " / optimizations";
    main.appendChild(el("h1", {}, "Optimizations"));
    main.appendChild(el("div", { id: "opt-list" }, el("p", { class: "muted" }, "loading…")));
    follow("", async () => {
      const opts = await api("/api/optimizations");
      if (!opts.length) {
        replace("opt-list", el("p", { class: "muted" }, "no optimizer in this namespace yet"));
        return;
      }
      const rows = opts.map((o) => el("tr", { "data-id": o.id, "data-status": o.status },
        el("td", {}, optLink(o.id, o.name || o.id), el("div", { class: "muted small" }, o.id)),
        el("td", {}, badge(o.status)),
        el("td", {}, o.live ? el("span", { class: "live-dot", title: "a controller holds the lease" }, "driven")
          : el("span", { class: "muted" }, o.status === "in_progress" ? "none (hpq resume)" : "-")),
        el("td", { class: "progress-cell" }, progressBar(o), el("div", { class: "small" },
          `done ${o.done}${o.total ? ` of ${o.total}` : ""} · running ${o.running} · queued ${o.queued}` +
          (o.failed ? ` · failed ${o.failed}` : ""))),
        el("td", { class: "num" }, o.best ? values(o.best) : "-",
          o.best_job !== null ? el("div", { class: "muted small" }, `job #${o.best_job}`) : null),
        el("td", { class: "num" }, C.duration(o.elapsed)),
        el("td", {}, o.end_reason || ""),
        el("td", {}, o.strategy, el("div", { class: "muted small" }, o.objective.join(", ")))));
      replace("opt-list", table(["optimization", "status", "controller", "progress", "best",
        "elapsed", "end reason", "strategy / objective"], rows, { class: "grid wide" }));
    });
  }
  function progressBar(o) {
    const frac = o.progress === null ? null : Math.min(1, o.progress);
    const bar = el("div", { class: "bar-outer", title: frac === null ? "no job limit" : `${(frac * 100).toFixed(0)}%` });
    const inner = el("div", { class: "bar-inner" });
    inner.style.width = `${frac === null ? 0 : frac * 100}%`;
    bar.appendChild(inner);
    return bar;
  }

  // ---------------------------------------------------------- optimization page
  const jobsState = { offset: 0, limit: 50, sort: "rank", order: "asc", status: "" };

  function optPage() {
    document.getElementById("crumbs").append(" / ", el("a", { href: "/" }, "optimizations"), ` / ${ID}`);
    main.append(
      el("div", { id: "opt-head" }),
      el("div", { class: "cols" }, section("overview", "Overview", el("div", { id: "overview-body" })),
        section("budgets", "Budgets", el("div", { id: "budget-body" }))),
      el("div", { id: "failures" }),
      section("curves-sec", "Learning curves", el("p", { class: "muted small", id: "curves-note" }),
        el("div", { id: "curves", class: "chart" })),
      section("time-sec", "Objective over time", el("p", { class: "muted small" },
        "each ended job's objective when it ended (blue), the best so far (red); click a point to open its job"),
      el("div", { id: "objective-time", class: "chart" })),
      section("jobs", "Jobs", el("div", { id: "jobs-controls" }), el("div", { id: "jobs-table" })),
      section("parallel-sec", "Parallel coordinates", el("p", { class: "muted small", id: "parallel-note" }),
        el("div", { id: "parallel", class: "chart" })),
      el("div", { class: "cols" },
        section("importance-sec", "Parameter importance", el("p", { class: "muted small" },
          "share of the variance of the objective's rank that each parameter explains alone " +
          "(eta squared over its values; numeric parameters in up to 10 quantile bins); " +
          "interactions are not counted"), el("div", { id: "importance", class: "chart" })),
        section("timeline-sec", "Worker timeline", el("p", { class: "muted small" },
          "the latest started jobs (up to 300), one lane per worker process; colour: status"),
        el("div", { id: "timeline", class: "chart" }))),
      el("div", { id: "rungs-sec" }), el("div", { id: "lineage-sec" }),
      section("config-sec", "Configuration", el("details", {}, el("summary", {}, "optimizer configuration (JSON)"),
        el("pre", { id: "config" }))));
    buildJobControls();
    follow(`?opt=${encodeURIComponent(ID)}`, () => Promise.all([loadOpt(), loadJobs(), loadCurves()]));
  }

  async function loadOpt() {
    const o = await api(`/api/opt/${encodeURIComponent(ID)}`);
    document.title = `${o.name || o.id} - hpqueue`;
    replace("opt-head", el("div", { class: "head" },
      el("h1", {}, o.name || o.id), badge(o.status),
      el("span", { class: o.live ? "live-dot" : "muted" }, o.live ? "driven by a live controller" : "no live controller"),
      o.status === "in_progress" && o.live ? actionButton("Stop optimization",
        `/api/opt/${encodeURIComponent(o.id)}/stop`, `Stop optimization ${o.id}`) : null));
    const counts = Object.entries(o.counts).sort().map(([k, v]) => `${k} ${v}`).join(", ") || "none";
    const kv = [
      ["id", o.id], ["status", o.status + (o.end_reason ? ` (${o.end_reason})` : "")],
      ["project", o.project], ["strategy", o.strategy],
      ["objective", o.objectives.map((x) => `${x.title}/${x.series} (${x.sign})`).join(", ")],
      ["queue", o.queue], ["concurrency", C.fmt(o.concurrency)], ["jobs", `${o.total}: ${counts}`],
      ["elapsed", C.duration(o.elapsed)],
    ];
    const bestRow = el("tr", {}, el("th", {}, "best"), el("td", {}, o.best
      ? el("span", {}, `${values(o.best.values)} (`, jobLink(o.best.id, `job #${o.best.index}`), ")") : "-"));
    replace("overview-body", el("table", { class: "kv" }, el("tbody", {},
      ...kv.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, String(v)))), bestRow,
      el("tr", {}, el("th", {}, "base task"), el("td", {}, o.base_task)))));
    replace("budget-body", budgets(o.budget));
    replace("failures", o.failures.length ? section("failures", "Failures",
      table(["error", "jobs", "example"], o.failures.map((f) => el("tr", {},
        el("td", { class: "error" }, f.error), num(f.count),
        el("td", {}, jobLink(f.example, `job #${f.example_index}`)))))) : el("div"));
    C.objectiveOverTime(document.getElementById("objective-time"), o.objective_over_time, o.maximize);
    document.getElementById("parallel-note").textContent =
      `${o.parallel.shown} of ${o.parallel.total} ended jobs with the objective (the best 100 ` +
      "and an even sample of the rest); colour and the objective axis: better is up; hover a line " +
      "for its job, click to open it";
    C.parallel(document.getElementById("parallel"), o.parallel);
    C.importance(document.getElementById("importance"), o.importance);
    C.timeline(document.getElementById("timeline"), o.timeline);
    if (o.rungs) {
      if (!document.getElementById("rungs")) {
        replace("rungs-sec", section("rungs-sec", "Rungs (Hyperband / ASHA)", el("div", { id: "rungs-table" }),
          el("p", { class: "muted small" }, "objective of each job against its resource; lines join the rungs of one configuration"),
          el("div", { id: "rungs", class: "chart" })));
      }
      replace("rungs-table", table(["bracket", "rung", "resource", "jobs", "completed", "running", "failed", "best"],
        o.rungs.table.map((r) => el("tr", {}, num(r.bracket), num(r.rung), num(r.resource), num(r.jobs),
          num(r.completed || 0), num(r.in_progress || 0), num(r.failed || 0), num(r.best)))));
      C.rungs(document.getElementById("rungs"), o.rungs);
    }
    if (o.lineage) {
      if (!document.getElementById("lineage")) {
        replace("lineage-sec", section("lineage-sec", "Population-based training lineage",
          el("p", { class: "muted small" }, "one row per member, one column per generation; a red dashed edge: the member copied another's checkpoint (exploit)"),
          el("div", { id: "lineage", class: "chart" })));
      }
      C.lineage(document.getElementById("lineage"), o.lineage, o.maximize);
    }
    document.getElementById("config").textContent = JSON.stringify(o.config, null, 2);
  }

  function budgets(budget) {
    const units = { jobs: "", iterations: "", compute_time: " min", time: " min" };
    const rows = Object.entries(budget).map(([name, b]) => {
      const frac = b.fraction === null ? null : Math.min(1, b.fraction);
      const bar = progressBar({ progress: frac });
      return el("tr", {}, el("th", {}, name.replace("_", " ")),
        el("td", { class: "num" }, `${C.fmt(b.used)}${units[name]}`),
        el("td", { class: "num" }, b.until ? `until ${when(b.until)}` : b.limit === null ? "no limit" : `${C.fmt(b.limit)}${units[name]}`),
        el("td", {}, bar));
    });
    return el("table", { class: "kv" }, el("thead", {}, el("tr", {}, el("th", {}, ""),
      el("th", { class: "num" }, "used"), el("th", { class: "num" }, "limit"), el("th", {}, ""))),
    el("tbody", {}, ...rows));
  }

  function buildJobControls() {
    const select = el("select", { id: "status-filter", onchange: (e) => {
      jobsState.status = e.target.value; jobsState.offset = 0; loadJobs();
    } }, ...["", "queued", "in_progress", "completed", "failed", "stopped"].map((s) =>
      el("option", { value: s }, s ? s.replace("_", " ") : "all statuses")));
    replace("jobs-controls", el("div", { class: "controls" }, el("label", {}, "show ", select),
      el("button", { type: "button", id: "prev-page", onclick: () => {
        jobsState.offset = Math.max(0, jobsState.offset - jobsState.limit); loadJobs();
      } }, "‹ previous"),
      el("span", { id: "page-info" }),
      el("button", { type: "button", id: "next-page", onclick: () => {
        jobsState.offset += jobsState.limit; loadJobs();
      } }, "next ›")));
  }

  async function loadJobs() {
    const s = jobsState;
    const q = new URLSearchParams({ offset: s.offset, limit: s.limit, sort: s.sort, order: s.order });
    if (s.status) q.set("status", s.status);
    const page = await api(`/api/opt/${encodeURIComponent(ID)}/jobs?${q}`);
    if (page.total && s.offset >= page.total) { s.offset = Math.max(0, page.total - s.limit); return loadJobs(); }
    const sortable = (label, key) => {
      const active = s.sort === key;
      return el("th", { class: `sortable${active ? " active" : ""}`, "data-sort": key, title: "sort",
        onclick: () => {
          s.order = active && s.order === "asc" ? "desc" : "asc"; s.sort = key; s.offset = 0; loadJobs();
        } }, label + (active ? (s.order === "asc" ? " ▲" : " ▼") : ""));
    };
    const header = [sortable("rank", "rank"), sortable("job #", "index"), "job", sortable("status", "status"),
      ...page.objective_labels.map((l) => el("th", {}, l)), sortable("iteration", "iteration"),
      sortable("run time", "run"), sortable("started", "started"),
      ...page.parameters.map((p) => sortable(p, `param:${p}`)), "error / reason", ""];
    const rows = page.jobs.map((j) => el("tr", { "data-id": j.id, "data-status": j.status, class: j.rank === 0 ? "best" : "" },
      num(j.rank === null ? null : j.rank + 1), num(j.index), el("td", {}, jobLink(j.id, j.id.slice(0, 10))),
      el("td", {}, badge(j.status), j.archived ? el("span", { class: "muted small" }, " archived") : null),
      ...page.objective_labels.map((_, i) => num(j.values ? j.values[i] : null)),
      num(j.iteration), el("td", { class: "num" }, j.started ? C.duration(j.run) : "-"),
      el("td", { class: "small" }, when(j.started)),
      ...page.parameters.map((p) => num(j.parameters[p])),
      el("td", { class: j.status === "failed" ? "error" : "muted small", title: j.error || j.reason || "" },
        (j.error || j.reason || "").split("\n")[0].slice(0, 160)),
      el("td", {}, ["queued", "in_progress", "created"].includes(j.status)
        ? actionButton("stop", `/api/job/${encodeURIComponent(j.id)}/stop`, `Stop job #${j.index}`) : null)));
    replace("jobs-table", page.jobs.length ? el("div", { class: "scroll" }, table(header, rows))
      : el("p", { class: "muted" }, "no job matches"));
    const last = Math.min(page.total, s.offset + page.jobs.length);
    document.getElementById("page-info").textContent =
      page.total ? `${s.offset + 1}–${last} of ${page.total}` : "0 jobs";
    document.getElementById("prev-page").disabled = s.offset === 0;
    document.getElementById("next-page").disabled = last >= page.total;
  }

  async function loadCurves() {
    const d = await api(`/api/opt/${encodeURIComponent(ID)}/curves`);
    document.getElementById("curves-note").textContent =
      `${d.title}/${d.series} (${d.sign}) of ${d.shown} of ${d.total} started jobs` +
      (d.sampled ? " (the best half and the most recent)" : "") +
      "; colour: rank (dark is better), blue: running, red: failed; hover a curve for its job, click to open it; drag to zoom";
    C.learningCurves(document.getElementById("curves"), d);
  }

  // ------------------------------------------------------------------ job page
  function jobPage() {
    main.append(el("div", { id: "job-head" }),
      el("div", { class: "cols" }, section("job-overview", "Job", el("div", { id: "job-kv" })),
        section("params", "Parameters", el("div", { id: "params-body" }))),
      el("div", { id: "error-sec" }),
      section("scalars-sec", "Scalars", el("div", { id: "scalars", class: "charts-grid" })),
      section("output-sec", "Output (tail)", el("pre", { id: "output", class: "output" })),
      el("div", { class: "cols" }, section("artifacts-sec", "Artifacts", el("div", { id: "artifacts" })),
        section("chain-sec", "Checkpoints and the jobs it continued from", el("div", { id: "chain" }))));
    follow(`?job=${encodeURIComponent(ID)}`,
      async () => renderJob(await api(`/api/job/${encodeURIComponent(ID)}`)),
      (change) => change.tasks.includes(ID));
  }

  function renderJob(j) {
    const crumbs = document.getElementById("crumbs");
    crumbs.textContent = " / ";
    crumbs.append(el("a", { href: "/" }, "optimizations"), " / ");
    if (j.parent) crumbs.append(optLink(j.parent), " / ");
    crumbs.append(j.index !== null ? `job #${j.index}` : j.id);
    document.title = `job ${j.index !== null ? "#" + j.index : j.id} - hpqueue`;
    replace("job-head", el("div", { class: "head" }, el("h1", {}, j.name || j.id), badge(j.status),
      ["queued", "in_progress", "created"].includes(j.status)
        ? actionButton("Stop job", `/api/job/${encodeURIComponent(j.id)}/stop`, `Stop job ${j.id}`) : null));
    const run = j.started ? ((j.completed || Date.now() / 1000) - j.started) : null;
    const kv = [["id", j.id], ["status", j.status + (j.reason ? ` (${j.reason})` : "")],
      ["job #", j.index === null ? "-" : j.index], ["worker", j.worker || "-"], ["attempts", j.attempts],
      ["queue", j.queue || "-"], ["created", when(j.created)], ["started", when(j.started)],
      ["ended", when(j.completed)], ["run time", C.duration(run)],
      ["meta", Object.keys(j.meta).length ? JSON.stringify(j.meta) : "-"]];
    replace("job-kv", el("table", { class: "kv" }, el("tbody", {},
      ...kv.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, String(v)))),
      el("tr", {}, el("th", {}, "optimization"), el("td", {}, j.parent ? optLink(j.parent) : "-")))));
    const params = Object.entries(j.parameters).sort();
    replace("params-body", params.length ? table(["parameter", "value"], params.map(([k, v]) =>
      el("tr", {}, el("td", {}, k), num(v)))) : el("p", { class: "muted" }, "none"));
    replace("error-sec", j.error || j.traceback ? section("error-sec", "Error",
      el("p", { class: "error", id: "error" }, j.error || j.reason),
      el("pre", { id: "traceback", class: "traceback" }, j.traceback || "(no traceback recorded)")) : el("div"));
    C.scalarCharts(document.getElementById("scalars"), j.scalars);
    document.getElementById("output").textContent = j.output || "(no output)";
    const arts = Object.entries(j.artifacts);
    replace("artifacts", arts.length ? table(["name", "type", "path or value"], arts.map(([k, a]) =>
      el("tr", {}, el("td", {}, k), el("td", {}, a.type), el("td", { class: "small" },
        a.type === "file" ? a.path : JSON.stringify(a.value).slice(0, 300)))))
      : el("p", { class: "muted" }, "no artifact"));
    const chain = [{ id: j.id, name: "this job", status: j.status, checkpoints: j.checkpoints, missing: false }]
      .concat(j.chain);
    replace("chain", el("ol", { class: "chain" }, ...chain.map((c, i) => el("li", {},
      i === 0 ? el("strong", {}, "this job") : jobLink(c.id, c.name || c.id),
      c.missing ? el("span", { class: "error" }, " (record missing)") : el("span", { class: "muted" }, ` ${c.status}`),
      c.checkpoints.length ? el("ul", {}, ...c.checkpoints.map((k) => el("li", { class: "small" },
        `iteration ${C.fmt(k.iteration)}: ${k.path} (${when(k.created)})`)))
        : el("div", { class: "muted small" }, "no checkpoint")))));
  }

  if (PAGE === "list") listPage();
  else if (PAGE === "opt") optPage();
  else if (PAGE === "job") jobPage();
})();
