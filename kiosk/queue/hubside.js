// The ЦНАП page of the technicians' dashboard (section "queue" of kiosk.queue.hubside).
// Per queue: who waits per service now, today's visits and times, the loyalty index.
// Draws with dash.js's helpers: text only, never HTML from a node.
"use strict";

definePage("queue", async function queuePage() {
  const d = await api("/api/v1/dash/queue");
  const mins = v => v === null || v === undefined ? "—" : `${Math.round(v / 60)} хв`;
  page(...(d.queues.length ? d.queues.map(q => {
    const now = q.now || {}; const l = q.loyalty || {};
    return el("section", { "data-queue": q.name }, el("h2", {}, `${q.name} · ${q.site}`, " ",
        badge(q.online ? "online" : "offline", ...STATE[q.online ? "online" : "offline"]), now.paused ? badge("warning", "Призупинено", "paused") : null),
      el("p", {}, `Чекають зараз: ${now.waiting ?? "—"} · відкритих вікон: ${now.windows_open ?? "—"} · індекс лояльності (${l.days} днів): ${l.index ?? "—"} (${l.answers} відповідей)`,
        el("br"), el("span", { class: "en" }, `Waiting now · open windows · loyalty index`)),
      el("table", { class: "queue-services" }, el("thead", {}, el("tr", {}, ...["Послуга|Service", "Чекають|Waiting", "Відвідувачів сьогодні|Visits today", "Обслужено|Served", "Не з'явились|No-shows", "Сер. очікування|Mean wait", "Сер. обслуговування|Mean service"].map(h => { const [a, b] = h.split("|"); return el("th", {}, a, " ", el("span", { class: "en" }, b)); }))),
        el("tbody", {}, ...(now.services || []).map(sv => { const t = (q.today.services || []).find(x => x.service === sv.id) || {};
          return el("tr", { "data-service": sv.id }, el("td", {}, sv.title), el("td", {}, sv.waiting), el("td", {}, t.visits ?? 0), el("td", {}, t.served ?? 0), el("td", {}, t.no_shows ?? 0), el("td", {}, mins(t.mean_wait_s)), el("td", {}, mins(t.mean_service_s))); }))));
  }) : [el("section", {}, el("p", {}, ...bi("Ще немає даних від черги.", "No data from the queue yet.")))]));
});
