/* hpqueue static report: draws the dashboard's charts (charts.js) from the JSON embedded in the
 * page (the element #hpq-report-data), offline. A click on a job scrolls to its row of the jobs
 * table. The SVG charts are drawn again when the page's width changes (uPlot's charts follow it
 * by themselves). */
(function () {
  "use strict";
  const C = window.HPQCharts;
  const d = JSON.parse(document.getElementById("hpq-report-data").textContent);
  const o = d.overview;
  const node = (id) => document.getElementById(id);
  C.options.jobHref = (id) => `#job-${id}`;

  function svgCharts() {
    C.parallel(node("parallel"), o.parallel);
    C.importance(node("importance"), o.importance);
    C.timeline(node("timeline"), o.timeline);
    if (o.rungs) C.rungs(node("rungs"), o.rungs);
    if (o.lineage) C.lineage(node("lineage"), o.lineage, o.maximize);
  }

  C.learningCurves(node("curves"), d.curves);
  C.objectiveOverTime(node("objective-time"), o.objective_over_time, o.maximize);
  svgCharts();
  let width = document.body.clientWidth, pending = null;
  window.addEventListener("resize", () => {
    if (document.body.clientWidth === width) return;
    width = document.body.clientWidth;
    window.clearTimeout(pending);
    pending = window.setTimeout(svgCharts, 150);
  });
})();
