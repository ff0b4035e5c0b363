// The session-hall page of the technicians' dashboard (section "hall" of voting.hall.hubside).
// Per hall: the current sitting from its last heartbeat; then the published roll-call
// results (open data). Draws with dash.js's helpers: text only, never HTML from a node.
"use strict";

definePage("hall", async function hallPage() {
  const r = await fetch("/opendata/voting/index.json", { headers: { Accept: "application/json" } });
  const d = r.ok ? await r.json() : { sittings: [] };
  const n = await api("/api/v1/nodes");
  const halls = n.nodes.filter(x => x.roles.includes("hall"));
  page(...halls.map(h => { const s = ((h.health || {}).roles || {}).hall || {};
    return el("section", { "data-hall": h.name }, el("h2", {}, `${h.name} · ${h.site}`, " ", badge(nodeState(h), ...STATE[nodeState(h)])),
      el("p", {}, s.sitting ? `Засідання ${s.sitting}: зареєстровано ${s.registered}; ${s.vote_open ? "йде голосування" : "голосування не відкрито"}; пультів на зв'язку: ${s.consoles}, екранів: ${s.screens}` : "Засідання не розпочато",
        el("br"), el("span", { class: "en" }, "Current sitting: registered, vote open, consoles and screens connected"))); }),
    el("section", {}, el("h2", {}, ...bi("Результати поіменного голосування", "Roll-call results")),
    el("p", {}, el("a", { href: "/opendata/voting/" }, ...bi("Відкриті дані (публічно)", "Open data (public)"))),
    el("table", {}, el("tbody", {}, ...d.sittings.map(s => el("tr", {}, el("td", {}, s.date), el("td", {}, `скликання ${s.convocation}, сесія ${s.session}`), el("td", {}, `${s.motions} питань`),
      el("td", {}, el("a", { href: s.sitting["motions.csv"] }, "motions.csv"), " · ", el("a", { href: s.sitting["votings.csv"] }, "votings.csv"), " · ", el("a", { href: s.sitting.json }, "JSON"))))))));
});
