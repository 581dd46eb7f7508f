// Orkestra Control Center. Plain JavaScript, no build step.
//
// Reads two things: the /ui/live websocket (a snapshot of every box, the cross
// graph and the CR lists, pushed on every change) and the ONCOP routes
// (/katalog/...) for one CR's detail and Events. Everything shown comes from
// the runtime's own data; every string is inserted as text, never as HTML.
"use strict";

(() => {
  const STATES = ["healthy", "pending", "gated", "degraded", "not started"];
  const STATE_COLORS = {
    healthy: "var(--healthy)", pending: "var(--pending)", gated: "var(--gated)",
    degraded: "var(--degraded)", "not started": "var(--notstarted)",
  };
  const RESULT_COLORS = {
    found: "var(--found)", not_found: "var(--not_found)", stale: "var(--stale)",
    error: "var(--error)", none: "var(--none)",
  };
  const RESULT_WORDS = {
    found: "found", not_found: "not found", stale: "stale", error: "error", none: "not read yet",
  };
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";

  const ui = {
    snapshot: null,
    selectedBox: null,
    selectedCr: null, // {box, namespace, name}
    detailBusy: false,
    detailAgain: false,
    updates: 0,
  };
  window.orkestraUi = ui; // lets tests and curious people look at the live state

  // ------------------------------------------------------------------ DOM helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "style") el.setAttribute("style", value);
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const SVG = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) el.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function stateClass(state) { return "state-" + state.replace(" ", "-"); }
  function badge(state) { return h("span", { class: "badge " + stateClass(state) }, state); }
  function replace(id, ...children) { document.getElementById(id).replaceChildren(...children); }
  function fmt(n, digits = 0) {
    return Number(n || 0).toLocaleString(undefined, { maximumFractionDigits: digits });
  }

  // ------------------------------------------------------------------ live feed

  let backoff = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? "?token=" + encodeURIComponent(token) : "";
    const ws = new WebSocket(`${scheme}://${location.host}/ui/live${query}`);
    setConn("connecting", "connecting");
    ws.onopen = () => { backoff = 500; setConn("live", "live"); };
    ws.onmessage = (message) => {
      ui.snapshot = JSON.parse(message.data);
      ui.updates += 1;
      render();
    };
    ws.onclose = () => {
      setConn("down", "reconnecting…");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  function setConn(state, text) {
    document.getElementById("conn").dataset.state = state;
    document.getElementById("conn-text").textContent = text;
  }

  function render() {
    const snap = ui.snapshot;
    document.getElementById("katalog-name").textContent = snap.katalog || "—";
    if (ui.selectedBox === null && snap.boxes.length) ui.selectedBox = snap.boxes[0].name;
    renderSummary(snap);
    renderBoxes(snap);
    renderGraph(snap);
    renderCrs(snap);
    if (ui.selectedCr) refreshDetail();
  }

  // -------------------------------------------------------------------- summary

  function renderSummary(snap) {
    const counts = Object.fromEntries(STATES.map((state) => [state, 0]));
    for (const box of snap.boxes) counts[box.state] = (counts[box.state] || 0) + 1;
    replace("summary", ...STATES.map((state) =>
      h("div", { class: "tile", style: `--c: ${STATE_COLORS[state]}`, dataset: { state } },
        h("div", { class: "n" }, counts[state]),
        h("div", { class: "l" }, state))));
  }

  // ---------------------------------------------------------------------- boxes

  function renderBoxes(snap) {
    if (!snap.boxes.length) {
      replace("boxes", h("p", { class: "empty" }, "This runtime has no operator boxes."));
      return;
    }
    replace("boxes", ...snap.boxes.map(boxCard));
  }

  function boxCard(box) {
    const busy = box.workers ? Math.round((100 * box.busyWorkers) / box.workers) : 0;
    const stat = (label, value, extra) =>
      h("div", { class: "stat" }, h("div", { class: "k" }, label), h("div", { class: "v" }, value), extra);
    return h("article", {
      class: "box" + (ui.selectedBox === box.name ? " selected" : ""),
      style: `--c: ${STATE_COLORS[box.state]}`,
      dataset: { box: box.name, state: box.state },
      onclick: () => { ui.selectedBox = box.name; render(); },
    },
      h("div", { class: "box-head" },
        h("div", {},
          h("div", { class: "box-name" }, box.name),
          h("div", { class: "box-kind" }, `${box.kind} · ${box.apiVersion}`),
          box.holder && h("div", { class: "box-kind", dataset: { role: "holder" } },
            `run by ${box.holder}`)),
        badge(box.state)),
      h("div", { class: "stats" },
        stat("Workers", `${box.busyWorkers}/${box.workers}`,
          h("div", { class: "bar" }, h("i", { style: `width: ${busy}%` }))),
        stat("Queue", fmt(box.queueDepth)),
        stat("Error rate", `${fmt(box.errorRatePercent, 1)}%`),
        stat("Resources", fmt(box.resourceCount)),
        stat("Reconciles", fmt(box.totalReconciles)),
        stat("p95", `${fmt(box.reconcileDurationP95Ms, 1)} ms`),
        stat("Loop time", `${fmt(box.cpuSeconds, 2)} s`),
        stat("API requests", fmt(box.apiRequests))),
      h("div", {
        class: "last-error" + (box.lastError ? " has-error" : ""),
        title: box.lastError || "",
        dataset: { role: "last-error" },
      }, box.lastError ? `Last error: ${box.lastError}` : "No errors"),
      (box.paused || box.restarts || box.consecutiveFails)
        ? h("div", { class: "flags" },
          box.paused && h("span", { class: "flag" }, "paused (dependsOn)"),
          box.restarts > 0 && h("span", { class: "flag" }, `${box.restarts} restarts`),
          box.consecutiveFails > 0 && h("span", { class: "flag" }, `${box.consecutiveFails} failing in a row`))
        : null);
  }

  // ---------------------------------------------------------------------- graph

  function renderGraph(snap) {
    const nodes = new Map();
    for (const box of snap.boxes) {
      nodes.set(box.name, { id: box.name, label: box.name, sub: box.kind, state: box.state, remote: false });
    }
    for (const edge of snap.cross) {
      const id = edge.remote ? `${edge.observed}@${edge.where}` : edge.observed;
      if (!nodes.has(id)) {
        nodes.set(id, {
          id, label: edge.observed, sub: edge.remote ? edge.where : "not in this runtime",
          state: null, remote: true,
        });
      }
    }
    if (!snap.cross.length) {
      replace("graph", h("p", { class: "empty" }, "No box declares cross: observations."));
      return;
    }
    const list = [...nodes.values()];
    const width = 960, nodeW = 210, nodeH = 46;
    const height = list.length <= 3 ? 150 : 340;
    const pos = new Map();
    if (list.length <= 3) {
      // One row, spread over the whole width so the edges have room for their labels.
      const margin = nodeW / 2 + 40;
      const step = list.length > 1 ? (width - 2 * margin) / (list.length - 1) : 0;
      list.forEach((node, i) => pos.set(node.id, {
        x: list.length > 1 ? margin + i * step : width / 2, y: height / 2 + 10,
      }));
    } else {
      const rx = width / 2 - nodeW, ry = height / 2 - nodeH;
      list.forEach((node, i) => {
        const angle = -Math.PI / 2 + (2 * Math.PI * i) / list.length;
        pos.set(node.id, { x: width / 2 + rx * Math.cos(angle), y: height / 2 + ry * Math.sin(angle) });
      });
    }
    const defs = s("defs", {}, ...Object.entries(RESULT_COLORS).map(([result, color]) =>
      s("marker", {
        id: `arrow-${result}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
      }, s("path", { d: "M0,0 L10,5 L0,10 z", style: `fill: ${color}` }))));
    const edges = snap.cross.map((edge, i) => {
      const from = pos.get(edge.observer);
      const to = pos.get(edge.remote ? `${edge.observed}@${edge.where}` : edge.observed);
      if (!from || !to) return null;
      const [x1, y1] = borderPoint(from, to, nodeW, nodeH);
      const [x2, y2] = borderPoint(to, from, nodeW, nodeH);
      // Bend each edge a little (more for parallel ones) so opposite edges do not overlap.
      const mx = (x1 + x2) / 2, my = (y1 + y2) / 2;
      const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
      const bend = 18 + 10 * (i % 3);
      const cx = mx - (dy / len) * bend, cy = my + (dx / len) * bend;
      const color = RESULT_COLORS[edge.result] || RESULT_COLORS.none;
      const where = edge.remote ? "remote" : "same process";
      const by = edge.via === "autoscale" ? "autoscale" : RESULT_WORDS[edge.result] || edge.result;
      const label = `.cross.${edge.as} · ${where} · ${by}`;
      return s("g", { "data-edge": `${edge.observer}->${edge.observed}`, "data-result": edge.result,
        "data-via": edge.via },
        s("title", {}, `${edge.observer} observes ${edge.observed} (${edge.where})` +
          (edge.via === "autoscale" ? " for autoscale" : "") + (edge.error ? `: ${edge.error}` : "")),
        s("path", {
          class: "edge" + (edge.remote ? " remote" : ""),
          d: `M${x1},${y1} Q${cx},${cy} ${x2},${y2}`,
          style: `stroke: ${color}`, "marker-end": `url(#arrow-${edge.result in RESULT_COLORS ? edge.result : "none"})`,
        }),
        s("text", { class: "edge-label", x: (mx + cx) / 2, y: (my + cy) / 2 - 4, "text-anchor": "middle" }, label));
    });
    const nodeEls = list.map((node) => {
      const { x, y } = pos.get(node.id);
      const color = node.state ? STATE_COLORS[node.state] : "var(--muted)";
      return s("g", { class: "node" + (node.remote ? " remote" : ""), "data-node": node.id },
        s("rect", { x: x - nodeW / 2, y: y - nodeH / 2, width: nodeW, height: nodeH, rx: 8 }),
        s("rect", { class: "stripe", x: x - nodeW / 2, y: y - nodeH / 2, width: 5, height: nodeH, rx: 2, style: `fill: ${color}` }),
        s("text", { x: x - nodeW / 2 + 14, y: y - 3, "font-weight": 600 }, truncate(node.label, 24)),
        s("text", { class: "sub", x: x - nodeW / 2 + 14, y: y + 13 },
          truncate(node.state ? `${node.sub} · ${node.state}` : node.sub, 30)));
    });
    replace("graph", s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "cross graph" },
      defs, ...edges.filter(Boolean), ...nodeEls));
  }

  function borderPoint(from, to, w, h) {
    // Where the line from the centre of `from` towards `to` leaves its rectangle.
    const dx = to.x - from.x, dy = to.y - from.y;
    if (!dx && !dy) return [from.x, from.y];
    const scale = 1 / Math.max(Math.abs(dx) / (w / 2 + 4), Math.abs(dy) / (h / 2 + 4));
    return [from.x + dx * scale, from.y + dy * scale];
  }

  function truncate(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  // ------------------------------------------------------------------------ CRs

  function renderCrs(snap) {
    const box = snap.boxes.find((b) => b.name === ui.selectedBox);
    document.getElementById("crs-title").textContent = box ? `Custom resources · ${box.name}` : "Custom resources";
    const listed = box && snap.crs[box.name];
    if (!box) { replace("crs", h("p", { class: "empty" }, "Select a box.")); return; }
    if (!listed) {
      replace("crs", h("p", { class: "empty" }, "This box is not served over ONCOP (crossAccess: false)."));
      document.getElementById("crs-hint").textContent = "";
      return;
    }
    document.getElementById("crs-hint").textContent =
      listed.total > listed.items.length ? `first ${listed.items.length} of ${listed.total}` : `${listed.total} total`;
    if (!listed.items.length) { replace("crs", h("p", { class: "empty" }, `No ${box.kind} yet.`)); return; }
    const selected = ui.selectedCr;
    replace("crs", h("table", {},
      h("thead", {}, h("tr", {}, ["Namespace", "Name", "Phase", "Ready", "Gen", "Age"].map((t) => h("th", {}, t)))),
      h("tbody", {}, listed.items.map((cr) => h("tr", {
        class: "clickable" + (selected && selected.box === box.name && selected.namespace === cr.namespace &&
          selected.name === cr.name ? " selected" : ""),
        dataset: { cr: `${cr.namespace}/${cr.name}`, ready: String(cr.ready) },
        onclick: () => {
          ui.selectedCr = { box: box.name, namespace: cr.namespace, name: cr.name };
          renderCrs(ui.snapshot);
          refreshDetail();
        },
      },
        h("td", {}, cr.namespace || "—"),
        h("td", {}, h("strong", {}, cr.name)),
        h("td", {}, cr.phase || "—"),
        h("td", {}, h("span", { class: "badge ready-" + cr.ready }, cr.ready ? "Ready" : "Not ready")),
        h("td", { class: "num" }, cr.generation),
        h("td", { class: "num" }, cr.age))))));
  }

  // --------------------------------------------------------------------- detail

  async function getJson(path) {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const response = await fetch(path, { headers });
    if (!response.ok) throw new Error(`${response.status} ${path}`);
    return response.json();
  }

  async function refreshDetail() {
    if (ui.detailBusy) { ui.detailAgain = true; return; }
    ui.detailBusy = true;
    try {
      do {
        ui.detailAgain = false;
        const target = ui.selectedCr;
        if (!target) break;
        const base = `/katalog/${encodeURIComponent(target.box)}/cr/` +
          `${encodeURIComponent(target.namespace || "_")}/${encodeURIComponent(target.name)}`;
        try {
          const [cr, events] = await Promise.all([getJson(base), getJson(`${base}/events`)]);
          if (ui.selectedCr === target) renderDetail(target, cr, events.events || []);
        } catch (error) {
          if (ui.selectedCr === target) {
            replace("detail", h("p", { class: "empty" }, `Not available: ${error.message}`));
          }
        }
      } while (ui.detailAgain);
    } finally {
      ui.detailBusy = false;
    }
  }

  function renderDetail(target, cr, events) {
    document.getElementById("detail-title").textContent = `Resource detail · ${target.box}`;
    const status = cr.status || {};
    const conditions = Array.isArray(status.conditions) ? status.conditions : [];
    const otherStatus = Object.fromEntries(Object.entries(status).filter(([k]) => k !== "conditions"));
    const labels = Object.entries(cr.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    const children = Object.entries(cr.children || {}).flatMap(([kind, byName]) =>
      Object.values(byName).map((child) => ({ kind, ...child })));
    replace("detail",
      h("div", { class: "detail-head", dataset: { detail: `${cr.namespace}/${cr.name}` } },
        h("span", { class: "title" }, cr.namespace ? `${cr.namespace}/${cr.name}` : cr.name),
        h("span", { class: "badge ready-" + cr.ready }, cr.ready ? "Ready" : "Not ready")),
      h("dl", { class: "kv" },
        h("dt", {}, "Generation"), h("dd", {}, cr.generation),
        h("dt", {}, "Phase"), h("dd", {}, status.phase || "—"),
        h("dt", {}, "Labels"), h("dd", { class: "mono" }, labels || "—")),
      h("h3", {}, "Conditions"),
      conditions.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["Type", "Status", "Reason", "Message"].map((t) => h("th", {}, t)))),
        h("tbody", {}, conditions.map((c) => h("tr", {},
          h("td", {}, c.type), h("td", {}, c.status), h("td", {}, c.reason || ""), h("td", {}, c.message || "")))))
        : h("p", { class: "empty" }, "No conditions."),
      h("h3", {}, "Status"),
      h("pre", { class: "json" }, JSON.stringify(otherStatus, null, 2)),
      h("h3", {}, `Children (${children.length})`),
      children.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["Kind", "Name", "Status"].map((t) => h("th", {}, t)))),
        h("tbody", {}, children.map((child) => h("tr", { dataset: { child: `${child.kind}/${child.name}` } },
          h("td", {}, child.kind), h("td", {}, child.name),
          h("td", { class: "mono" }, childStatus(child.status))))))
        : h("p", { class: "empty" }, "No children."),
      h("h3", {}, `Events (${events.length})`),
      events.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["Type", "Reason", "Message", "Count", "Last seen"].map((t) => h("th", {}, t)))),
        h("tbody", {}, events.map((e) => h("tr", {},
          h("td", {}, h("span", { class: "badge ev-" + e.type }, e.type)),
          h("td", {}, e.reason), h("td", {}, e.message),
          h("td", { class: "num" }, e.count), h("td", { class: "num" }, e.lastSeen || "")))))
        : h("p", { class: "empty" }, "No events."));
  }

  function childStatus(status) {
    const meaningful = Object.entries(status || {}).filter(([, v]) =>
      !(v && typeof v === "object" && !Object.keys(v).length));
    if (!meaningful.length) return "—";
    if ("replicas" in status || "readyReplicas" in status) {
      return `${status.readyReplicas || 0}/${status.replicas || 0} ready`;
    }
    return truncate(JSON.stringify(status), 80);
  }

  connect();
})();
