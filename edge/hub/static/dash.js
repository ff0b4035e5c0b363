// The technicians' dashboard: plain JavaScript, no build step.
// Pages fetch /api/v1/… with the session cookie; server-sent events say what
// changed and the open page fetches it again (no reloads).
//
// This file is the frame and the core's pages (overview, alerts, enrollment,
// a node). The roles' pages come from their hub extensions: the hub lists the
// sections in /api/v1/me and adds each section's script after this one; the
// script calls definePage(name, render) and draws with the helpers here
// (el, bi, badge, api, page, say, act, allowed, alertsTable, nodeState, STATE).
// Everything a node sent is put on the page as text (el → textContent), never as HTML.
"use strict";

// [hash, Ukrainian, English, permission needed], in navigation order, from /api/v1/me.
let SECTIONS = [];
const STATE = { online: ["На зв'язку", "online"], offline: ["Не на зв'язку", "offline"], pending: ["Очікує схвалення", "pending"],
  revoked: ["Відкликано", "revoked"], rejected: ["Відхилено", "rejected"] };
const SEVERITY = { critical: ["Критична", "critical"], warning: ["Попередження", "warning"], info: ["Інформація", "info"] };
let me = null;
let events = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
const bi = (uk, en) => [uk, " ", el("span", { class: "en" }, en)];
const badge = (cls, uk, en) => el("span", { class: "badge " + cls, "data-state": cls }, uk, " ", el("span", { class: "en" }, en));

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  if (opts.body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(opts.body); }
  if (opts.method && opts.method !== "GET" && me) opts.headers["X-CSRF-Token"] = me.csrf;
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { const err = new Error((data.error && data.error.message) || r.status); err.status = r.status; err.code = data.error && data.error.code; throw err; }
  return data;
}

function page(...children) { const m = document.getElementById("main"); m.replaceChildren(...children); }
function say(text) { const l = document.getElementById("live"); l.textContent = text; l.className = text ? "show" : ""; }

// -- login ---------------------------------------------------------------------------------
function loginPage(message) {
  document.getElementById("nav").replaceChildren(); document.getElementById("who").replaceChildren();
  const msg = el("p", { class: "error", id: "login-error", role: "alert" }, message || "");
  const form = el("form", { class: "card", id: "login" },
    el("h2", {}, ...bi("Вхід", "Log in")),
    el("p", {}, el("label", {}, ...bi("Ім'я користувача", "Username"), el("br"), el("input", { name: "username", autocomplete: "username", required: "" }))),
    el("p", {}, el("label", {}, ...bi("Пароль", "Password"), el("br"), el("input", { name: "password", type: "password", autocomplete: "current-password", required: "" }))),
    el("p", {}, el("label", {}, ...bi("Код з застосунку (TOTP)", "Authenticator code"), el("br"), el("input", { name: "totp", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9 ]{6,7}", required: "" }))),
    el("button", { type: "submit" }, ...bi("Увійти", "Log in")), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try { me = await api("/api/v1/login", { method: "POST", body: { username: f.get("username"), password: f.get("password"), totp: f.get("totp") } }); start(); }
    catch (e) { msg.textContent = e.message; }
  });
  page(form);
  form.querySelector("input").focus();
}

function passwordPage() {
  const msg = el("p", { role: "alert" });
  const form = el("form", { class: "card", id: "password" },
    el("h2", {}, ...bi("Змініть одноразовий пароль", "Change the one-time password")),
    el("p", {}, el("label", {}, ...bi("Поточний пароль", "Current password"), el("br"), el("input", { name: "old", type: "password", autocomplete: "current-password" }))),
    el("p", {}, el("label", {}, ...bi("Новий пароль (щонайменше 12 знаків)", "New password (12+ characters)"), el("br"), el("input", { name: "new", type: "password", autocomplete: "new-password" }))),
    el("button", { type: "submit" }, ...bi("Змінити", "Change")), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault(); const f = new FormData(form);
    try { await api("/api/v1/password", { method: "POST", body: { old: f.get("old"), new: f.get("new") } }); me.must_change_password = false; start(); }
    catch (e) { msg.className = "error"; msg.textContent = e.message; }
  });
  page(form);
}

// -- frame -----------------------------------------------------------------------------------
function allowed(permission) { return me && me.permissions.includes(permission); }

function frame() {
  SECTIONS = me.sections || [];
  const nav = document.getElementById("nav");
  nav.replaceChildren(...SECTIONS.filter(s => allowed(s[3])).map(([hash, uk, en]) =>
    el("a", { href: "#/" + hash, id: "nav-" + hash }, uk, " ", el("span", { class: "en" }, en))));
  document.getElementById("who").replaceChildren(`${me.username} (${me.role})`,
    el("button", { onclick: async () => { await api("/api/v1/logout", { method: "POST" }).catch(() => {}); me = null; if (events) events.close(); loginPage(); } }, ...bi("Вийти", "Log out")));
}

async function route() {
  if (!me) return;
  const [name, arg] = location.hash.replace(/^#\//, "").split("/");
  const section = SECTIONS.find(s => s[0] === name) || SECTIONS.find(s => allowed(s[3]));
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.id === "nav-" + (name || section[0]));
  try {
    if (name === "node" && arg) return await nodePage(arg);
    if (!allowed(section[3])) return page(el("p", { class: "error" }, ...bi("Недостатньо прав", "Not allowed")));
    const render = PAGES[section[0]];
    if (!render) return page(el("p", { class: "error" }, ...bi("Сторінка не завантажилась", "The page did not load")));
    await render();
  } catch (e) {
    if (e.status === 401) return loginPage();
    page(el("p", { class: "error" }, e.message));
  }
}

// -- pages -------------------------------------------------------------------------------------
function nodeState(n) { return n.status === "approved" ? (n.online ? "online" : "offline") : n.status; }

function alertsTable(list, actions) {
  return el("table", { id: "alerts-table" },
    el("thead", {}, el("tr", {}, ...["Важливість|Severity", "Тривога|Alert", "Вузол|Node", "Виникла|Raised", "Стан|State", ""].map(h => { const [u, e] = h.split("|"); return el("th", {}, u, " ", el("span", { class: "en" }, e)); }))),
    el("tbody", {}, ...list.map(a => el("tr", { "data-alert": a.id },
      el("td", {}, badge(a.severity, ...SEVERITY[a.severity])),
      el("td", {}, a.message, el("br"), el("span", { class: "en" }, a.message_en || ""), a.notify_failures ? el("div", { class: "error" }, "Сповіщення не доставлено / not delivered: " + a.notify_failures) : null),
      el("td", {}, a.node || a.node_id || "—", el("br"), el("span", { class: "en" }, a.site || "")),
      el("td", {}, a.raised_at),
      el("td", {}, a.cleared_at ? `закрито ${a.cleared_at}${a.resolved_by ? " (" + a.resolved_by + ")" : ""}` : (a.acked_at ? `підтвердив ${a.acked_by} ${a.acked_at}` : "відкрита")),
      el("td", {}, actions && allowed("act") && !a.cleared_at ? [
        a.acked_at ? null : el("button", { onclick: () => act(`/api/v1/dash/alerts/${a.id}/ack`), "data-action": "ack" }, ...bi("Підтвердити", "Acknowledge")),
        " ", el("button", { onclick: () => act(`/api/v1/dash/alerts/${a.id}/resolve`), "data-action": "resolve" }, ...bi("Закрити", "Resolve"))] : null)))));
}

async function act(path, body) {
  try { const r = await api(path, { method: "POST", body: body || {} }); say(""); await route(); return r; } catch (e) { say(e.message); }
}

// A section's page: its script calls this with the section's name.
function definePage(name, render) { PAGES[name] = render; }

const PAGES = {
  async overview() {
    const d = await api("/api/v1/dash/overview");
    const a = d.alerts_open;
    page(
      el("section", {}, el("h2", {}, ...bi("Відкриті тривоги", "Open alerts")),
        el("div", { class: "counts" }, ...["critical", "warning", "info"].map(k =>
          el("div", { class: k, id: "count-" + k }, a[k], " ", el("small", {}, SEVERITY[k][0], " · ", SEVERITY[k][1]))))),
      ...d.sites.map(s => el("section", {}, el("h2", {}, `Майданчик ${s.site}`, " ", el("span", { class: "en" }, "site")),
        el("table", { class: "nodes" }, el("tbody", {}, ...s.nodes.map(n => el("tr", { "data-node": n.name },
          el("td", {}, el("a", { href: `#/node/${n.node_id}` }, n.name)), el("td", {}, n.roles.join(", ")),
          el("td", {}, badge(n.state, ...STATE[n.state])), el("td", {}, n.last_seen || "—"))))))),
      el("section", {}, el("h2", {}, ...bi("Останні події", "Last events")),
        el("table", {}, el("tbody", {}, ...d.events.map(e => el("tr", {}, el("td", {}, e.created_at), el("td", {}, e.node || e.node_id), el("td", {}, e.kind)))))));
  },
  async alerts() {
    const params = new URLSearchParams(location.hash.split("?")[1] || "");
    const state = params.get("state") || "open", severity = params.get("severity") || "", site = params.get("site") || "";
    const d = await api(`/api/v1/alerts?state=${state}&severity=${severity}&site=${encodeURIComponent(site)}`);
    const go = (k, v) => { params.set(k, v); location.hash = "#/alerts?" + params.toString(); };
    const select = (name, value, options) => { const s = el("select", { "aria-label": name, name }, ...options.map(([v, t]) => el("option", { value: v }, t)));
      s.value = value; s.addEventListener("change", () => go(name, s.value)); return s; };
    page(el("section", {}, el("h2", {}, ...bi("Тривоги", "Alerts")),
      el("p", { class: "filters" },
        select("state", state, [["open", "відкриті · open"], ["closed", "закриті · closed"], ["all", "усі · all"]]), " ",
        select("severity", severity, [["", "будь-яка важливість · any severity"], ["critical", "критичні"], ["warning", "попередження"], ["info", "інформація"]]), " ",
        el("input", { name: "site", placeholder: "майданчик · site", value: site, onchange: (e) => go("site", e.target.value) })),
      alertsTable(d.alerts, true)));
  },
  async enrollment() {
    const d = await api("/api/v1/dash/enrollment");
    const out = el("div", { id: "token-out" });
    const form = el("form", { class: "card", id: "token-form" }, el("h2", {}, ...bi("Новий код реєстрації", "New enrollment code")),
      el("label", {}, "Майданчик / site ", el("input", { name: "site", required: "" })), " ",
      el("label", {}, "Роль / role ", el("select", { name: "role" }, ...["*", "hall", "console", "hall-display", "queue", "kiosk", "queue-display", "camera", "power"].map(r => el("option", { value: r }, r)))), " ",
      el("label", {}, el("input", { type: "checkbox", name: "pre_approved" }), " схвалити наперед / pre-approve"), " ",
      el("button", { type: "submit" }, ...bi("Створити", "Make")), out);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault(); const f = new FormData(form);
      try {
        const r = await api("/api/v1/dash/tokens", { method: "POST", body: { site: f.get("site"), role: f.get("role"), pre_approved: !!f.get("pre_approved") } });
        const qr = el("div", { class: "qr" }); qr.append(new DOMParser().parseFromString(r.qr_svg, "image/svg+xml").documentElement);
        out.replaceChildren(el("p", {}, el("code", { class: "code" }, r.code), ` — дійсний до / valid until ${r.expires}`), qr);
      } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); }
    });
    page(el("section", {}, el("h2", {}, ...bi("Очікують схвалення", "Pending approval")),
      d.pending.length ? el("table", { id: "pending" }, el("tbody", {}, ...d.pending.map(n => el("tr", { "data-node": n.name },
        el("td", {}, n.name), el("td", {}, n.site), el("td", {}, n.roles.join(", ")), el("td", {}, el("code", {}, n.node_id)),
        el("td", {}, el("button", { onclick: () => act(`/api/v1/dash/nodes/${n.node_id}/approve`), "data-action": "approve" }, ...bi("Схвалити", "Approve")), " ",
          el("button", { onclick: () => act(`/api/v1/dash/nodes/${n.node_id}/reject`), "data-action": "reject" }, ...bi("Відхилити", "Reject")))))))
        : el("p", {}, ...bi("Немає.", "None."))),
      el("section", {}, el("h2", {}, ...bi("Знайдені через mDNS, не зареєстровані", "Seen by mDNS, not enrolled")),
        el("ul", {}, ...d.discovered.map(x => el("li", {}, `${x.instance} (${x.roles}) ${x.addresses}:${x.port} — ${x.node_id}`)))),
      form);
  },
};

async function nodePage(nodeId) {
  const d = await api(`/api/v1/dash/nodes/${nodeId}`);
  const n = d.node; const h = n.health || {};
  const st = nodeState(n);
  page(el("section", {}, el("h2", {}, n.name, " ", badge(st, ...STATE[st])),
    el("table", {}, el("tbody", {}, ...[["Вузол|Node id", n.node_id], ["Майданчик|Site", n.site], ["Ролі|Roles", n.roles.join(", ")], ["Версія|Version", n.version],
      ["Востаннє|Last seen", n.last_seen], ["Зсув годинника, с|Clock offset, s", n.clock_offset_s == null ? "—" : n.clock_offset_s.toFixed(3)],
      ["Працює, с|Uptime, s", h.uptime_s], ["Навантаження|Load", h.load1], ["Вільна пам'ять, МБ|Free memory, MB", h.mem_available_mb],
      ["Вільний диск, МБ|Free disk, MB", h.disk_free_mb], ["Температура, °C|Temperature", h.temperature_c], ["Черга до хаба|Outbox", h.outbox_pending]]
      .map(([k, v]) => { const [u, e] = k.split("|"); return el("tr", {}, el("th", {}, u, " ", el("span", { class: "en" }, e)), el("td", {}, v === undefined || v === null ? "—" : v)); }))),
    allowed("enroll") && n.status === "approved" ? el("button", { onclick: () => confirm("Відкликати вузол? / Revoke?") && act(`/api/v1/dash/nodes/${n.node_id}/revoke`) }, ...bi("Відкликати", "Revoke")) : null),
    el("section", {}, el("h2", {}, ...bi("Тривоги", "Alerts")), alertsTable(d.alerts, true)),
    el("section", {}, el("h2", {}, ...bi("Події", "Events")), el("table", {}, el("tbody", {}, ...d.events.map(e => el("tr", {}, el("td", {}, e.created_at), el("td", {}, e.kind), el("td", {}, JSON.stringify(e.payload).slice(0, 200))))))));
}

// -- live updates ----------------------------------------------------------------------------
function listen() {
  if (events) events.close();
  events = new EventSource("/api/v1/dash/stream");
  let pending = null;
  events.addEventListener("changed", () => { clearTimeout(pending); pending = setTimeout(route, 150); });
  events.onerror = () => say("Зв'язок з хабом перервано, відновлюю… · Reconnecting to the hub…");
  events.onopen = () => say("");
}

async function start() {
  try { me = await api("/api/v1/me"); } catch (e) { return loginPage(); }
  if (me.must_change_password) return passwordPage();
  frame(); listen(); await route();
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", start);
