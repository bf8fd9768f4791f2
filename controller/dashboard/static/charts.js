/* hpqueue dashboard charts: uPlot line and point charts, small SVG charts (parallel coordinates,
 * importance, worker timeline, rungs, lineage). No external requests; every text goes through
 * textContent. Exposes window.HPQCharts. Each chart sets data-points (or data-lines) on its
 * container: the number of data items it drew. A click on a job opens
 * HPQCharts.options.jobHref(id) (the dashboard's job page; the static report sets it to the
 * job's row). */
(function () {
  "use strict";
  const SVGNS = "http://www.w3.org/2000/svg";
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const STATUS_COLOURS = {
    created: "#bbbbbb", queued: "#9e9e9e", in_progress: "#1f77b4", completed: "#2ca02c",
    failed: "#d62728", stopped: "#ff7f0e",
  };
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22"];

  /** Viridis colour of t in [0, 1]. */
  function viridis(t) {
    t = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(t), VIRIDIS.length - 2);
    const f = t - i;
    const c = VIRIDIS[i].map((a, k) => Math.round(a + (VIRIDIS[i + 1][k] - a) * f));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }
  const options = { jobHref: (id) => `/job/${encodeURIComponent(id)}` };

  /** Colour of a job by goodness g (1 best: dark purple, 0 worst: yellow). */
  const quality = (g) => viridis(1 - g);

  /** A short text for a number (4 significant digits) or any value. */
  function fmt(v, digits) {
    if (v === null || v === undefined) return "-";
    if (typeof v === "number") {
      if (!isFinite(v)) return String(v);
      if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
      return String(Number(v.toPrecision(digits || 4)));
    }
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    if (seconds < 60) return `${seconds.toFixed(1)}s`;
    let s = Math.floor(seconds);
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
    return h ? `${h}h ${mm}m ${ss}s` : `${m}m ${ss}s`;
  }

  function svgEl(tag, attrs, parent) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  function svgText(parent, x, y, str, attrs) {
    const t = svgEl("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = str;
    return t;
  }
  function tip(parent, str) { svgEl("title", {}, parent).textContent = str; }
  function clear(node) {
    if (node._uplot) { node._uplot.destroy(); node._uplot = null; }
    if (node._ro) { node._ro.disconnect(); node._ro = null; }
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  const widthOf = (node) => Math.max(320, Math.floor(node.clientWidth || 640));
  function empty(node, message) {
    clear(node);
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = message;
    node.appendChild(p);
    node.dataset.points = "0";
  }
  function link(node, id) {
    node.addEventListener("click", () => { window.location.href = options.jobHref(id); });
    node.classList.add("clickable");
  }

  /** Round tick values covering [lo, hi]. */
  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / (count || 5);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }
  /** Ticks of a log axis over a positive [lo, hi]: the decades, or 1-2-5 steps, or every
   * digit, whichever first gives three ticks (the range's ends when none does). */
  function logTicks(lo, hi) {
    let out = [];
    for (const steps of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
      out = [];
      for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
        for (const m of steps) {
          const v = m * Math.pow(10, e);
          if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
        }
      }
      if (out.length >= 3) return out;
    }
    return out.length >= 2 ? out : [lo, hi];
  }
  /** Tick steps of an axis of iterations (integers: no tick between two iterations). */
  const INT_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4,
    2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8, 1e9];
  const useLog = (values) => {
    const v = values.filter((x) => x !== null && x !== undefined);
    return v.length > 1 && Math.min(...v) > 0 && Math.max(...v) / Math.min(...v) >= 100;
  };

  // ------------------------------------------------------------------ uPlot charts
  /** A uPlot chart in `node`, sized to it; rebuilt when `key` changes, else given new data. */
  function uplot(node, key, opts, data) {
    const height = opts.height || 320;
    if (node._uplot && node._key === key) {
      node._uplot.setData(data);
      return node._uplot;
    }
    clear(node);
    const u = new uPlot(Object.assign({ width: widthOf(node), height: height }, opts), data, node);
    node._uplot = u;
    node._key = key;
    node._ro = new ResizeObserver(() => {
      const w = widthOf(node);
      if (Math.abs(w - u.width) > 2) u.setSize({ width: w, height: height });
    });
    node._ro.observe(node);
    return u;
  }

  /** Hover: the series closest to the cursor gets a tooltip `describe(u, series, index)`;
   * a click opens `target(u, series, index)` (a job id) when given. */
  function hoverPlugin(describe, target) {
    let box = null, focus = null;
    return {
      hooks: {
        init: (u) => {
          box = document.createElement("div");
          box.className = "u-tip";
          box.hidden = true;
          u.over.appendChild(box);
          u.over.addEventListener("mouseleave", () => { box.hidden = true; });
          if (target) {
            u.over.addEventListener("click", () => {
              if (focus) {
                const id = target(u, focus[0], focus[1]);
                if (id) window.location.href = options.jobHref(id);
              }
            });
          }
        },
        setCursor: (u) => {
          const idx = u.cursor.idx, top = u.cursor.top;
          focus = null;
          if (idx === null || idx === undefined || top === null || top < 0) { box.hidden = true; return; }
          let best = Infinity;
          for (let s = 1; s < u.series.length; s++) {
            const y = u.data[s][idx];
            if (y === null || y === undefined || !u.series[s].show) continue;
            const d = Math.abs(u.valToPos(y, u.series[s].scale) - top);
            if (d < best) { best = d; focus = [s, idx]; }
          }
          if (!focus || best > 40) { box.hidden = true; focus = null; return; }
          box.textContent = describe(u, focus[0], focus[1]);
          box.hidden = false;
          const left = u.cursor.left + 12;
          box.style.left = `${Math.min(left, u.over.clientWidth - box.offsetWidth - 4)}px`;
          box.style.top = `${Math.max(0, top - box.offsetHeight - 8)}px`;
        },
      },
    };
  }

  /** Learning curves: d = {x, ys, jobs:[{id,index,status,rank}], title, series}. */
  function learningCurves(node, d) {
    if (!d.jobs.length) { empty(node, "no job has reported the objective yet"); return; }
    const ranks = d.jobs.map((j) => j.rank).filter((r) => r !== null);
    const worst = Math.max(1, ...ranks);
    const colourOf = (j) => j.rank !== null ? quality(1 - j.rank / worst)
      : (STATUS_COLOURS[j.status] || "#999");
    const marks = d.jobs.length <= 20; // a point per report only while they can be told apart
    const series = [{ label: "iteration" }].concat(d.jobs.map((j) => ({
      label: `#${j.index}`, stroke: colourOf(j), width: j.rank === 0 ? 2.5 : 1.25,
      spanGaps: true, points: { show: marks },
    })));
    const log = useLog([].concat(...d.ys));
    const data = [d.x].concat(d.ys);
    const key = `curves:${d.jobs.map((j) => `${j.id}/${j.rank}/${j.status}`).join(",")}:${log}`;
    uplot(node, key, {
      series: series, legend: { show: false },
      scales: { x: { time: false }, y: { distr: log ? 3 : 1 } },
      axes: [{ label: "iteration", incrs: INT_INCRS }, { label: `${d.title}/${d.series}`, size: 72 }],
      cursor: { points: { one: true }, drag: { x: true, y: false } },
      plugins: [hoverPlugin((u, s, i) => {
        const j = d.jobs[s - 1];
        return `job #${j.index} (${j.status}${j.rank !== null ? `, rank ${j.rank + 1}` : ""}): ` +
          `${fmt(u.data[s][i])} at iteration ${fmt(u.data[0][i])}`;
      }, (u, s) => d.jobs[s - 1].id)],
    }, data);
    node.dataset.points = String(d.ys.reduce((n, y) => n + y.filter((v) => v !== null).length, 0));
    node.dataset.series = String(d.jobs.length);
  }

  /** Objective of each ended job at its end time, and the best so far (stepped). */
  function objectiveOverTime(node, d, maximize) {
    if (!d.t.length) { empty(node, "no job has ended with the objective yet"); return; }
    const best = [];
    let b = null;
    for (const v of d.v) {
      if (b === null || (maximize ? v > b : v < b)) b = v;
      best.push(b);
    }
    const log = useLog(d.v);
    uplot(node, `time:${log}`, {
      series: [
        {},
        { label: "best so far", stroke: "#d62728", width: 2,
          paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } },
        { label: "job", stroke: "#3b6fb6", paths: () => null,
          points: { show: true, size: 5, fill: "#3b6fb6" } },
      ],
      legend: { show: false },
      scales: {
        x: { range: (u, lo, hi) => hi - lo < 60 ? [lo - 30, hi + 30] : [lo, hi] },
        y: { distr: log ? 3 : 1 },
      },
      axes: [{}, { label: "objective", size: 72 }],
      cursor: { points: { one: true } },
      plugins: [hoverPlugin((u, s, i) => s === 2
        ? `job #${d.index[i]}: ${fmt(d.v[i])} (ended ${new Date(d.t[i] * 1000).toLocaleTimeString()})`
        : `best so far: ${fmt(best[i])}`, (u, s, i) => d.id[i])],
    }, [d.t, best, d.v]);
    node.dataset.points = String(d.t.length);
  }

  /** One chart per scalar title of a job: scalars = {title: {series: {x, y}}}. */
  function scalarCharts(node, scalars) {
    const titles = Object.keys(scalars).sort();
    if (!titles.length) { empty(node, "no scalar reported"); return; }
    const keep = new Set(titles);
    for (const child of Array.from(node.children)) {
      if (!keep.has(child.dataset.title)) { clear(child); child.remove(); }
    }
    let points = 0;
    for (const title of titles) {
      let box = Array.from(node.children).find((c) => c.dataset.title === title);
      if (!box) {
        box = document.createElement("div");
        box.className = "scalar-chart";
        box.dataset.title = title;
        node.appendChild(box);
      }
      const names = Object.keys(scalars[title]).sort();
      const xs = Array.from(new Set([].concat(...names.map((n) => scalars[title][n].x))))
        .sort((a, b) => a - b);
      const pos = new Map(xs.map((x, i) => [x, i]));
      const ys = names.map((n) => {
        const row = new Array(xs.length).fill(null);
        scalars[title][n].x.forEach((x, i) => { row[pos.get(x)] = scalars[title][n].y[i]; });
        points += scalars[title][n].x.length;
        return row;
      });
      uplot(box, `scalar:${title}:${names.join(",")}`, {
        title: title, height: 240,
        series: [{ label: "iteration" }].concat(names.map((n, i) => ({
          label: n, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true,
        }))),
        scales: { x: { time: false } },
        axes: [{ label: "iteration", incrs: INT_INCRS }, { size: 72 }],
      }, [xs].concat(ys));
    }
    node.dataset.points = String(points);
  }

  // ------------------------------------------------------------------- SVG charts
  function svgRoot(node, width, height, cls) {
    clear(node);
    return svgEl("svg", { width: width, height: height, viewBox: `0 0 ${width} ${height}`,
      class: cls, role: "img" }, node);
  }

  /** Maps dim.min to `from` and dim.max to `to` (log-aware). */
  function scale(dim, from, to) {
    let lo = dim.min, hi = dim.max;
    if (dim.log) { lo = Math.log10(lo); hi = Math.log10(hi); }
    const span = hi - lo || 1;
    return (v) => from + ((dim.log ? Math.log10(v) : v) - lo) / span * (to - from);
  }

  /** A vertical axis: larger values up, except the objective's, where better is up. */
  function axisScale(dim, top, bottom) {
    if (dim.kind === "cat") {
      const n = dim.categories.length;
      return (v) => n <= 1 ? (top + bottom) / 2 : bottom - (v / (n - 1)) * (bottom - top);
    }
    return dim.objective && !dim.maximize ? scale(dim, top, bottom) : scale(dim, bottom, top);
  }

  /** A white box behind a label that lines cross (drawn before the label, under it). */
  function labelBox(parent, text) {
    const b = text.getBBox();
    const box = svgEl("rect", { x: b.x - 2, y: b.y - 1, width: b.width + 4, height: b.height + 2,
      rx: 2, class: "label-box" }, parent);
    parent.insertBefore(box, text);
  }

  /** Parallel coordinates: d = {dims, lines, ids, indices, shown, total}. */
  function parallel(node, d) {
    if (!d.lines.length) { empty(node, "no job has ended with the objective yet"); return; }
    const W = widthOf(node), H = 400, top = 48, bottom = H - 28, left = 70, right = 110;
    const k = d.dims.length;
    const xOf = (i) => k === 1 ? (left + W - right) / 2 : left + i * (W - left - right) / (k - 1);
    const scales = d.dims.map((dim) => axisScale(dim, top, bottom));
    const svg = svgRoot(node, W, H, "pc");
    const obj = d.dims[k - 1];
    const span = obj.max - obj.min;
    const goodness = (v) => !span ? 1 : obj.maximize ? (v - obj.min) / span : (obj.max - v) / span;
    const lines = svgEl("g", { class: "pc-lines" }, svg);
    for (let n = d.lines.length - 1; n >= 0; n--) { // best last: on top
      const row = d.lines[n];
      let path = "", pen = false;
      row.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        path += `${pen ? "L" : "M"}${xOf(i).toFixed(1)} ${scales[i](v).toFixed(1)}`;
        pen = true;
      });
      const p = svgEl("path", { d: path, class: "pc-line", stroke: quality(goodness(row[k - 1])) },
        lines);
      tip(p, `job #${d.indices[n]}: ${fmt(row[k - 1])}\n` + d.dims.slice(0, -1).map((dim, i) =>
        `${dim.name} = ${dim.kind === "cat" && row[i] !== null ? dim.categories[row[i]] : fmt(row[i])}`)
        .join("\n"));
      link(p, d.ids[n]);
    }
    const spacing = k > 1 ? (W - left - right) / (k - 1) : W;
    d.dims.forEach((dim, i) => {
      const x = xOf(i), g = svgEl("g", { class: "pc-axis" }, svg);
      svgEl("line", { x1: x, x2: x, y1: top, y2: bottom }, g);
      const label = dim.objective ? "objective" : dim.name;
      const maxChars = Math.max(6, Math.floor(spacing / 7));
      const name = svgText(g, x, top - 22, label.length > maxChars
        ? `…${label.slice(-maxChars + 1)}` : label, { "text-anchor": "middle", class: "pc-name" });
      tip(name, label);
      let ticks;
      if (dim.kind === "cat") {
        const every = Math.ceil(dim.categories.length / 12);
        ticks = dim.categories.map((c, j) => [j, c]).filter((_, j) => j % every === 0);
      } else if (dim.log) {
        ticks = logTicks(dim.min, dim.max).map((v) => [v, fmt(v, 3)]);
      } else {
        ticks = niceTicks(dim.min, dim.max, 7).filter((v) => !dim.integer || Number.isInteger(v))
          .map((v) => [v, fmt(v, 3)]);
        if (ticks.length < 2) ticks = [[dim.min, fmt(dim.min, 3)]];
      }
      for (const [v, text] of ticks) {
        const y = scales[i](v);
        svgEl("line", { x1: x - 4, x2: x, y1: y, y2: y }, g);
        labelBox(g, svgText(g, x - 6, y + 4, text, { "text-anchor": "end", class: "pc-tick" }));
      }
    });
    // colour bar beside the objective axis: same direction as the axis (better is up)
    const defs = svgEl("defs", {}, svg);
    const grad = svgEl("linearGradient", { id: "pc-grad", x1: 0, y1: 0, x2: 0, y2: 1 }, defs);
    for (let s = 0; s <= 4; s++) svgEl("stop", { offset: s / 4, "stop-color": quality(1 - s / 4) }, grad);
    const bx = W - right + 40;
    svgEl("rect", { x: bx, y: top, width: 12, height: bottom - top, fill: "url(#pc-grad)" }, svg);
    svgText(svg, bx + 16, top + 10, "better", { class: "pc-tick" });
    svgText(svg, bx + 16, bottom, "worse", { class: "pc-tick" });
    node.dataset.lines = String(d.lines.length);
    node.dataset.points = String(d.lines.length);
  }

  /** Parameter importance bars: d = {method, jobs, parameters:[{name, score, jobs}]}. */
  function importance(node, d) {
    if (!d.parameters.length) {
      empty(node, `needs 10 jobs ended with the objective (${d.jobs} so far)`);
      return;
    }
    const W = widthOf(node), row = 24, left = 220, H = d.parameters.length * row + 10;
    const svg = svgRoot(node, W, H, "bars");
    const max = Math.max(...d.parameters.map((p) => p.score), 1e-9);
    d.parameters.forEach((p, i) => {
      const y = 4 + i * row, w = (W - left - 80) * p.score / max;
      const name = p.name.length > 30 ? `…${p.name.slice(-29)}` : p.name;
      tip(svgText(svg, left - 8, y + 15, name, { "text-anchor": "end" }), p.name);
      const bar = svgEl("rect", { x: left, y: y + 3, width: Math.max(1, w), height: row - 8,
        class: "bar" }, svg);
      tip(bar, `${p.name}: ${(p.score * 100).toFixed(1)}% of the objective-rank variance ` +
        `(${p.jobs} jobs)`);
      svgText(svg, left + w + 6, y + 15, `${(p.score * 100).toFixed(1)}%`);
    });
    node.dataset.points = String(d.parameters.length);
  }

  function timeAxis(svg, x0, x1, t0, t1, y) {
    const scale = (t) => x0 + (t - t0) / (t1 - t0 || 1) * (x1 - x0);
    svgEl("line", { x1: x0, x2: x1, y1: y, y2: y, class: "axis" }, svg);
    const short = t1 - t0 < 10; // seconds with their digits, else durations
    for (const t of niceTicks(0, t1 - t0, 6)) {
      const x = scale(t0 + t);
      svgEl("line", { x1: x, x2: x, y1: y, y2: y + 4, class: "axis" }, svg);
      svgText(svg, x, y + 16, short ? `${fmt(t, 3)}s` : duration(t),
        { "text-anchor": "middle", class: "tick" });
    }
    return scale;
  }

  /** Worker timeline: d = {lanes, now, jobs:[{id,index,lane,start,end,status}]}. */
  function timeline(node, d) {
    if (!d.jobs.length) { empty(node, "no job has started yet"); return; }
    const W = widthOf(node), lane = 20, left = 190, H = d.lanes.length * lane + 36;
    const svg = svgRoot(node, W, H, "timeline");
    const t0 = Math.min(...d.jobs.map((j) => j.start)), t1 = Math.max(d.now, ...d.jobs.map((j) => j.end));
    const x = timeAxis(svg, left, W - 30, t0, t1, d.lanes.length * lane + 6);
    d.lanes.forEach((name, i) => {
      const shown = name.length > 28 ? `…${name.slice(-27)}` : name;
      tip(svgText(svg, left - 8, i * lane + 14, shown, { "text-anchor": "end", class: "tick" }), name);
    });
    for (const j of d.jobs) {
      const r = svgEl("rect", { x: x(j.start), y: j.lane * lane + 2,
        width: Math.max(1.5, x(j.end) - x(j.start)), height: lane - 4,
        fill: STATUS_COLOURS[j.status] || "#999", class: "job" }, svg);
      tip(r, `job #${j.index} (${j.status}): ${duration(j.end - j.start)}`);
      link(r, j.id);
    }
    node.dataset.points = String(d.jobs.length);
  }

  /** Hyperband/ASHA rungs: objective against resource, promoted configurations joined. */
  function rungs(node, d) {
    const pts = d.points.filter((p) => p.value !== null && p.resource !== null);
    if (!pts.length) { empty(node, "no rung has a finished job yet"); return; }
    const W = widthOf(node), H = 320, left = 80, right = 20, top = 14, bottom = H - 40;
    const svg = svgRoot(node, W, H, "scatter");
    const rs = pts.map((p) => p.resource), vs = pts.map((p) => p.value);
    // resources grow geometrically from rung to rung: a log axis from a ratio of 8
    const xDim = { kind: "num", min: Math.min(...rs), max: Math.max(...rs) };
    xDim.log = xDim.min > 0 && xDim.max / xDim.min >= 8;
    const yDim = { kind: "num", min: Math.min(...vs), max: Math.max(...vs), log: useLog(vs) };
    const pad = (lo, hi, log) => log ? [lo / 1.5, hi * 1.5] : [lo - (hi - lo || 1) * 0.05, hi + (hi - lo || 1) * 0.05];
    [xDim.min, xDim.max] = pad(xDim.min, xDim.max, xDim.log);
    [yDim.min, yDim.max] = pad(yDim.min, yDim.max, yDim.log);
    const sx = scale(xDim, left, W - right), sy = scale(yDim, bottom, top);
    const ax = svgEl("g", { class: "axis-g" }, svg);
    svgEl("line", { x1: left, x2: W - right, y1: bottom, y2: bottom, class: "axis" }, ax);
    svgEl("line", { x1: left, x2: left, y1: top, y2: bottom, class: "axis" }, ax);
    for (const v of xDim.log ? logTicks(xDim.min, xDim.max) : niceTicks(xDim.min, xDim.max, 6)) {
      svgText(ax, sx(v), bottom + 16, fmt(v, 3), { "text-anchor": "middle", class: "tick" });
    }
    for (const v of yDim.log ? logTicks(yDim.min, yDim.max) : niceTicks(yDim.min, yDim.max, 5)) {
      svgText(ax, left - 6, sy(v) + 4, fmt(v, 3), { "text-anchor": "end", class: "tick" });
    }
    svgText(ax, (left + W - right) / 2, H - 6, "resource (rung budget)", { "text-anchor": "middle", class: "tick" });
    const byConfig = new Map();
    for (const p of pts) {
      const key = `${p.bracket}:${p.config}`;
      if (!byConfig.has(key)) byConfig.set(key, []);
      byConfig.get(key).push(p);
    }
    for (const chain of byConfig.values()) {
      if (chain.length < 2) continue;
      chain.sort((a, b) => a.rung - b.rung);
      svgEl("path", { d: chain.map((p, i) => `${i ? "L" : "M"}${sx(p.resource).toFixed(1)} ${sy(p.value).toFixed(1)}`).join(""),
        class: "promotion" }, svg);
    }
    for (const p of pts) {
      const c = svgEl("circle", { cx: sx(p.resource), cy: sy(p.value), r: 4,
        fill: PALETTE[p.bracket % PALETTE.length], class: "dot" }, svg);
      tip(c, `job #${p.index} bracket ${p.bracket} rung ${p.rung} config ${p.config}: ` +
        `${fmt(p.value)} at resource ${fmt(p.resource)} (${p.status})`);
      link(c, p.id);
    }
    node.dataset.points = String(pts.length);
  }

  /** PBT lineage: members (rows) by generation (columns); an edge from the job each continued. */
  function lineage(node, d, maximize) {
    const nodes = d.nodes;
    const members = Array.from(new Set(nodes.map((n) => n.member))).sort((a, b) => a - b);
    const gens = Math.max(...nodes.map((n) => n.generation)) + 1;
    const W = widthOf(node), row = 26, left = 90, H = members.length * row + 40;
    const svg = svgRoot(node, W, H, "lineage");
    const colW = (W - left - 20) / Math.max(1, gens - 1 || 1);
    const rowOf = new Map(members.map((m, i) => [m, i]));
    const pos = new Map(nodes.map((n) => [n.id, [left + n.generation * colW, 14 + rowOf.get(n.member) * row]]));
    const vals = nodes.map((n) => n.value).filter((v) => v !== null);
    const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1;
    const g = (v) => maximize ? (v - lo) / span : (hi - v) / span;
    members.forEach((m, i) => svgText(svg, left - 14, 18 + i * row, `member ${m}`, { "text-anchor": "end", class: "tick" }));
    for (const n of nodes) {
      const from = n.parent && pos.get(n.parent);
      if (!from) continue;
      const [x, y] = pos.get(n.id);
      svgEl("path", { d: `M${from[0]} ${from[1]}L${x} ${y}`,
        class: n.exploited !== null && n.exploited !== undefined ? "edge exploit" : "edge" }, svg);
    }
    for (const n of nodes) {
      const [x, y] = pos.get(n.id);
      const c = svgEl("circle", { cx: x, cy: y, r: 6, class: "dot",
        fill: n.value === null ? "#bbb" : quality(g(n.value)) }, svg);
      tip(c, `job #${n.index}: member ${n.member}, generation ${n.generation}, ${fmt(n.value)}` +
        (n.exploited !== null && n.exploited !== undefined ? ` (copied member ${n.exploited})` : "") +
        ` (${n.status})`);
      link(c, n.id);
    }
    svgText(svg, left, H - 6, "generation →", { class: "tick" });
    node.dataset.points = String(nodes.length);
  }

  window.HPQCharts = {
    options, fmt, duration, quality, STATUS_COLOURS, clear, learningCurves, objectiveOverTime,
    scalarCharts, parallel, importance, timeline, rungs, lineage,
  };
})();
