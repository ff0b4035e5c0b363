// The power page of the technicians' dashboard (section "power" of power.hubside).
// Per power node: mains, UPS, generator from its last heartbeat, and charts of its
// readings over 24 hours and 7 days; then the power events. Draws with dash.js's
// helpers (el, bi, badge, api, page, STATE): text only, never HTML from a node.
"use strict";

definePage("power", async function powerPage() {
  const d = await api("/api/v1/dash/power");
  const fmt = (v, unit, est) => v === null || v === undefined || v === "" ? "—" : `${v}${unit}${est ? " (оцінка / est.)" : ""}`;
  page(...d.nodes.map(n => {
    const p = n.power || {}; const u = p.ups || {}; const g = p.generator || {}; const sv = g.service || {};
    return el("section", { "data-power": n.name }, el("h2", {}, `${n.name} · ${n.site}`, " ", badge(n.online ? "online" : "offline", ...STATE[n.online ? "online" : "offline"])),
      el("table", {}, el("tbody", {}, ...[
        ["Мережа|Mains", p.mains_present === undefined ? "—" : (p.mains_present ? "є · present" : "НЕМАЄ · lost")],
        ["ДБЖ|UPS", `${u.name || "—"} ${u.status || ""} ${u.comms && u.comms !== "ok" ? "(" + u.comms + ")" : ""}`],
        ["Заряд|Charge", fmt(u.charge, " %", u.estimated)],
        ["Час роботи|Runtime", fmt(u.runtime_s ? Math.round(u.runtime_s / 60) : u.runtime_s, " хв", u.estimated)],
        ["Навантаження|Load", fmt(u.load, " %")],
        ["Генератор|Generator", g.phase ? `${g.phase}${g.running ? " · працює / running" : ""}` : "—"],
        ["Мотогодини|Run-hours", fmt(g.run_hours, " год")],
        ["До ТО|Service due", sv.due_on ? `${sv.hours_left} год або до ${sv.due_on}${sv.due ? " — ПОТРІБНЕ ТО / DUE" : ""}` : "—"],
      ].map(([k, v]) => { const [a, b] = k.split("|"); return el("tr", {}, el("th", {}, a, " ", el("span", { class: "en" }, b)), el("td", {}, v)); }))),
      el("h2", {}, ...bi("Заряд і мережа, 24 год", "Charge and mains, 24 h")), chart(n.series["24h"]),
      el("h2", {}, ...bi("7 днів", "7 days")), chart(n.series["7d"]));
  }), el("section", {}, el("h2", {}, ...bi("Події живлення", "Power events")),
    el("table", {}, el("tbody", {}, ...d.events.map(e => el("tr", {}, el("td", {}, e.created_at), el("td", {}, e.node), el("td", {}, e.payload.event), el("td", {}, e.payload.message)))))));
});

// A small SVG chart: battery charge as a line, mains lost shaded red, generator running shaded blue.
function chart(points) {
  const ns = "http://www.w3.org/2000/svg"; const w = 600, h = 90;
  const svg = document.createElementNS(ns, "svg"); svg.setAttribute("viewBox", `0 0 ${w} ${h}`); svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img"); svg.setAttribute("aria-label", "Графік заряду / charge chart");
  if (!points.length) { const t = document.createElementNS(ns, "text"); t.setAttribute("x", 8); t.setAttribute("y", 50); t.textContent = "Немає даних · no data"; svg.append(t); return svg; }
  const t0 = points[0].t, t1 = points[points.length - 1].t || t0 + 1, x = t => (t1 === t0 ? 0 : (t - t0) / (t1 - t0)) * (w - 4) + 2;
  const shade = (p, color) => { const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", x(p.t)); r.setAttribute("y", 0); r.setAttribute("width", Math.max(2, (w - 4) / points.length));
    r.setAttribute("height", h); r.setAttribute("fill", color); svg.append(r); };
  for (const p of points) {
    if (p.mains !== null && p.mains < 0.5) shade(p, "rgba(200,0,0,.18)");
    if (p.gen !== null && p.gen >= 0.5) shade(p, "rgba(0,80,200,.18)");
  }
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.filter(p => p.charge !== null).map(p => `${x(p.t)},${h - 2 - (p.charge / 100) * (h - 4)}`).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#0a5a1c"); line.setAttribute("stroke-width", "2"); svg.append(line);
  return svg;
}
