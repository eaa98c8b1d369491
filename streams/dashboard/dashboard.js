// Draws the analysts' payload (sinks/reports.py dashboard_payload) as tables and inline SVG.
// The same script serves the live dashboard (polls data-live) and the static `hcp report --html`
// page (data embedded in #hcp-data). Text from the data is only ever set as textContent.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  let labels = { provinces: {}, steps: {}, reasons: {}, modes: {}, matters: {}, orgs: {} };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  const name = (kind, code) => (labels[kind] && labels[kind][code]) || code || "—";
  const named = (kind, code) => el("span", {}, name(kind, code), el("span", { class: "code" }, code));
  const pct = (rate) => (rate === null || rate === undefined ? "—" : (100 * rate).toFixed(1) + "%");
  const num = (value, digits) =>
    value === null || value === undefined ? "—" : Number(value).toLocaleString("zh-CN", { maximumFractionDigits: digits || 0 });
  const reasons = (pairs) => (pairs || []).map((pair) => name("reasons", pair[0]) + " " + num(pair[1], 1)).join("；");
  const beijing = (iso) =>
    new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });

  function table(id, headers, rows, makeRow) {
    if (!rows || rows.length === 0) return el("p", { class: "empty", id: id }, "暂无数据 (none)");
    const head = el("tr", {}, ...headers.map((header) => el("th", {}, header)));
    const body = el("tbody", {}, ...rows.map(makeRow));
    return el("table", { id: id }, el("thead", {}, head), body);
  }
  const td = (value, cls) => el("td", cls ? { class: cls } : {}, value);

  function replace(id, node) {
    const holder = document.getElementById(id);
    holder.replaceChildren(node);
  }

  function renderAlerts(alerts) {
    replace("alerts", table("alerts-table", ["省份", "事项", "环节", "时间窗", "评价数", "差评率", "基线", "得分", "主要原因", "责任单位"], alerts, (a) =>
      el("tr", { "data-alert": a.alert_id },
        td(named("provinces", a.province)), td(a.matter_code ? named("matters", a.matter_code) : "全部事项"), td(named("steps", a.step)),
        td(beijing(a.window_start) + " — " + beijing(a.window_end)), td(num(a.ratings), "num"),
        td(pct(a.rate), "num bad"), td(pct(a.baseline), "num"), td(num(a.score, 1), "num"),
        td(reasons(a.top_reasons)), td((a.responsible_orgs || []).map((o) => name("orgs", o)).join("、")))));
  }

  function renderPriorities(rows) {
    const headers = ["#", "省份", "事项", "办理方式", "环节", "评价数", "差评(加权)", "差评率", "他省", "历史", "超额差评", "优先级", "主要原因", "责任单位", "超时率", "退回率", "示例评价"];
    replace("priorities", table("priorities-table", headers, rows, (r, index) => {
      const top = (r.top_reasons || [])[0];
      return el("tr", { "data-province": r.province, "data-matter": r.matter_code, "data-mode": r.mode, "data-step": r.step, "data-reason": top ? top[0] : "" },
        td(index + 1, "num"), td(named("provinces", r.province)), td(named("matters", r.matter_code)), td(name("modes", r.mode)),
        td(named("steps", r.step)), td(num(r.ratings), "num"), td(num(r.negatives, 1), "num"), td(pct(r.rate), "num bad"),
        td(pct(r.peer_rate), "num"), td(pct(r.history_rate), "num"), td(num(r.excess, 1), "num"), td(num(r.priority, 1), "num"),
        td(reasons(r.top_reasons)), td(r.top_org ? named("orgs", r.top_org) : "—"),
        td(pct(r.breach_rate), "num"), td(pct(r.send_back_rate), "num"),
        td(el("span", {}, ...(r.sample_comments || []).map((c) => el("span", { class: "comment" }, "“" + c + "”")))));
    }));
  }

  function heatColor(rate, max) {
    if (rate === null || rate === undefined) return "#f6f8fa";
    const t = Math.min(1, rate / max);
    const g = Math.round(245 - 190 * t), b = Math.round(240 - 200 * t);
    return "rgb(250," + g + "," + b + ")";
  }

  function renderHeatmap(cells) {
    if (!cells || cells.length === 0) return replace("heatmap", el("p", { class: "empty" }, "暂无数据 (none)"));
    const order = Object.keys(labels.steps);
    const steps = [...new Set(cells.map((c) => c.step))].sort((a, b) => order.indexOf(a) - order.indexOf(b));
    const provinces = [...new Set(cells.map((c) => c.province))].sort();
    const byKey = new Map(cells.map((c) => [c.province + "|" + c.step, c]));
    const max = Math.max(0.01, ...cells.filter((c) => c.ratings >= 20).map((c) => c.rate || 0));
    const cw = 74, ch = 24, left = 90, top = 92;
    const root = svg("svg", { id: "heatmap-svg", width: left + cw * steps.length + 10, height: top + ch * provinces.length + 10, role: "img" });
    steps.forEach((step, i) => {
      const x = left + cw * i + cw / 2;
      root.append(svg("text", { x: x, y: top - 8, transform: "rotate(-35 " + x + " " + (top - 8) + ")" }, name("steps", step)));
    });
    provinces.forEach((province, j) => {
      const y = top + ch * j;
      root.append(svg("text", { x: 4, y: y + ch / 2 + 4 }, name("provinces", province)));
      steps.forEach((step, i) => {
        const cell = byKey.get(province + "|" + step);
        const rect = svg("rect", { x: left + cw * i, y: y, width: cw - 2, height: ch - 2, fill: heatColor(cell ? cell.rate : null, max),
          "data-province": province, "data-step": step, "data-rate": cell ? cell.rate : "" });
        rect.append(svg("title", {}, name("provinces", province) + " · " + name("steps", step) + (cell ? "：" + pct(cell.rate) + "，" + num(cell.ratings) + " 条评价" : "：无评价")));
        root.append(rect);
        if (cell) root.append(svg("text", { x: left + cw * i + cw / 2 - 16, y: y + ch / 2 + 4 }, pct(cell.rate)));
      });
    });
    replace("heatmap", root);
  }

  function lineChart(trend) {
    const points = trend.points || [];
    const w = 460, h = 200, left = 44, right = 10, top = 10, bottom = 30;
    const times = points.map((p) => Date.parse(p.period));
    const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1);
    const rates = points.flatMap((p) => [p.rate, p.peer_rate]).filter((r) => r !== null && r !== undefined);
    const ymax = Math.max(0.01, ...rates) * 1.1;
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (w - left - right);
    const y = (r) => top + (1 - r / ymax) * (h - top - bottom);
    const root = svg("svg", { width: w, height: h, class: "trend-svg", role: "img" });
    for (const alert of trend.alerts || []) {
      const a = Math.max(t0, Date.parse(alert.window_start)), b = Math.min(t1, Date.parse(alert.window_end));
      if (b > a) {
        const band = svg("rect", { x: x(a), y: top, width: Math.max(2, x(b) - x(a)), height: h - top - bottom, fill: "#fde2e1", class: "alert-band" });
        band.append(svg("title", {}, "告警 " + alert.state + "：" + pct(alert.rate) + "（基线 " + pct(alert.baseline) + "）"));
        root.append(band);
      }
    }
    root.append(svg("line", { x1: left, y1: h - bottom, x2: w - right, y2: h - bottom, stroke: "#8c959f" }));
    root.append(svg("line", { x1: left, y1: top, x2: left, y2: h - bottom, stroke: "#8c959f" }));
    [0, 0.5, 1].forEach((f) => root.append(svg("text", { x: 2, y: y(ymax * f) + 4 }, pct(ymax * f))));
    if (points.length) {
      root.append(svg("text", { x: left, y: h - 10 }, beijing(points[0].period)));
      root.append(svg("text", { x: w - right - 80, y: h - 10 }, beijing(points[points.length - 1].period)));
    }
    const path = (key, color, cls) => {
      const d = points.filter((p) => p[key] !== null && p[key] !== undefined)
        .map((p, i) => (i ? "L" : "M") + x(Date.parse(p.period)).toFixed(1) + "," + y(p[key]).toFixed(1)).join(" ");
      if (d) root.append(svg("path", { d: d, fill: "none", stroke: color, "stroke-width": 2, class: cls }));
    };
    path("peer_rate", "#8c959f", "peer-line");
    path("rate", "#b42318", "rate-line");
    return root;
  }

  function renderTrends(trends) {
    if (!trends || trends.length === 0) return replace("trends", el("p", { class: "empty" }, "暂无数据 (none)"));
    const holder = el("div", {});
    for (const trend of trends) {
      const k = trend.key;
      holder.append(el("div", { class: "chart", "data-province": k.province, "data-step": k.step, "data-matter": k.matter_code },
        el("h3", {}, name("provinces", k.province) + " · " + name("matters", k.matter_code) + " · " + name("steps", k.step)),
        lineChart(trend),
        el("div", { class: "muted" }, "红线：差评率；灰线：其他省份同环节；浅红底：告警时段 (" + (trend.granularity === "day" ? "按日" : "按小时") + ")")));
    }
    replace("trends", holder);
  }

  function renderReducible(rows) {
    replace("reducible", table("reducible-table", ["事项", "办理方式", "环节", "评价数", "办结环节数", "差评(加权)", "可精简原因差评", "占比", "按原因", "涉及省份"], rows, (r) =>
      el("tr", { "data-matter": r.matter_code, "data-step": r.step },
        td(named("matters", r.matter_code)), td(name("modes", r.mode)), td(named("steps", r.step)), td(num(r.ratings), "num"),
        td(num(r.steps_completed), "num"), td(num(r.negatives, 1), "num"), td(num(r.reducible, 1), "num"),
        td(pct(r.reducible_share), "num"), td(reasons(r.by_reason)), td(num(r.provinces), "num"))));
  }

  function renderHandoffs(rows) {
    replace("handoffs", table("handoffs-table", ["环节", "移出/请求方", "接收/提供方", "交接次数", "有评价", "差评(加权)", "差评率", "中位用时(工作日)", "超时率", "退回+失败", "主要原因"], rows, (r) =>
      el("tr", {},
        td(named("steps", r.step)), td(named("provinces", r.from_province)), td(named("provinces", r.to_province)),
        td(num(r.handoffs), "num"), td(num(r.rated_handoffs), "num"), td(num(r.negatives, 1), "num"), td(pct(r.rate), "num"),
        td(num(r.median_days, 2), "num"), td(pct(r.breach_rate), "num"), td(num(r.returns_and_failures), "num"),
        td(name("reasons", r.top_reason)))));
  }

  function renderInput(worker) {
    const section = document.getElementById("input-section");
    if (!worker) return section.remove();  // the static report has no worker behind it
    const rows = Object.entries(worker.misplaced_by_topic || {}).sort((a, b) => b[1] - a[1]);
    replace("input", table("input-table", ["主题 (topic)", "分区错误的记录 (misplaced)"], rows, (r) =>
      el("tr", { "data-topic": r[0] }, td(r[0]), td(num(r[1]), "num bad"))));
  }

  function render(data) {
    labels = data.labels || labels;
    if (document.getElementById("input-section")) renderInput(data.worker);
    document.getElementById("period").textContent = "统计期 " + data.period.label + " · 数据表 " + data.period.table;
    renderAlerts(data.alerts);
    renderPriorities(data.priorities);
    renderHeatmap(data.heatmap);
    renderTrends(data.trends);
    renderReducible(data.reducible);
    renderHandoffs(data.handoffs);
  }

  function status(text) {
    document.getElementById("status").textContent = text;
  }

  const embedded = document.getElementById("hcp-data").textContent.trim();
  if (embedded && embedded !== "null") {
    const data = JSON.parse(embedded);
    render(data);
    status("生成于 " + beijing(data.generated_at));
  }
  const live = document.body.dataset.live;
  if (live) {
    const seconds = Number(document.body.dataset.refreshSeconds) || 15;
    let refreshes = 0;
    const refresh = async function () {
      try {
        const response = await fetch(live + window.location.search, { cache: "no-store" });
        if (!response.ok) throw new Error("HTTP " + response.status + " " + (await response.text()));
        const data = await response.json();
        render(data);
        refreshes += 1;
        document.body.dataset.refreshes = String(refreshes);
        status("实时 · 每 " + seconds + " 秒刷新 · 更新于 " + beijing(data.generated_at) + "（第 " + refreshes + " 次）");
      } catch (error) {
        status("刷新失败：" + error.message);
      }
    };
    refresh();
    setInterval(refresh, seconds * 1000);
  }
})();
