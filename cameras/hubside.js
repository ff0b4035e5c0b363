// The cameras page of the technicians' dashboard (section "cameras" of cameras.hubside).
// Per camera of every relay: its verdict, a snapshot and the live view through the
// relay with a short-lived viewer token, and "accept the new view"; then the verdict
// history. Draws with dash.js's helpers: text only, never HTML from a node.
"use strict";

definePage("cameras", async function camerasPage() {
  const d = await api("/api/v1/dash/cameras");
  const t = await api("/api/v1/dash/camera-token");
  const cards = [];
  const VERDICTS = { ok: ["Гаразд", "ok"], offline: ["Не на зв'язку", "offline"], stalled: ["Завмирає", "stalled"], low_fps: ["Мало кадрів", "low fps"],
    black: ["Чорний кадр", "black"], overexposed: ["Засвічено", "overexposed"], frozen: ["Застиг", "frozen"], blurred: ["Розмито", "blurred"], moved: ["Зсунуто", "moved"] };
  for (const relay of d.relays) {
    for (const c of ((relay.health && relay.health.list) || [])) {
      const [uk, en] = VERDICTS[c.verdict] || [c.verdict, ""];
      const q = `?token=${encodeURIComponent(t.token)}`;
      cards.push(el("section", { "data-camera": c.id, "data-verdict": c.verdict }, el("h2", {}, c.name || c.id, " ", badge(c.verdict === "ok" ? "online" : "offline", uk, en)),
        el("p", { class: "en" }, `${c.location || ""} · ${relay.name}`),
        relay.url ? el("img", { alt: `Знімок: ${c.name || c.id} / snapshot`, src: `${relay.url}/cameras/${c.id}/snapshot.jpg${q}&t=${Date.now()}` }) : null,
        relay.url ? el("a", { href: `${relay.url}/cameras/${c.id}/preview.mjpeg${q}`, target: "_blank", rel: "noopener" }, ...bi("Перегляд наживо", "Live view")) : null,
        // After re-aiming or refocusing a camera on purpose: learn its new view, so "moved"/"blurred" clear.
        allowed("act") && relay.online ? el("p", {}, el("button", { "data-action": "rebaseline", onclick: () => {
          if (confirm(`Камеру «${c.name || c.id}» навмисно повернули чи перефокусували? Її новий вигляд стане нормою.\nWas this camera re-aimed or refocused on purpose? Its new view becomes the normal one.`))
            act(`/api/v1/dash/cameras/${encodeURIComponent(relay.node_id)}/${encodeURIComponent(c.id)}/rebaseline`).then(r => r && say(`«${c.name || c.id}»: вивчаю новий вигляд / learning the new view`));
        } }, ...bi("Прийняти новий вигляд", "Accept the new view"))) : null));
    }
  }
  page(el("section", {}, el("h2", {}, ...bi("Камери", "Cameras")), cards.length ? el("div", { class: "grid" }, ...cards) : el("p", {}, ...bi("Камер ще немає.", "No cameras yet."))),
    el("section", {}, el("h2", {}, ...bi("Історія вердиктів", "Verdict history")), alertsTable(d.alerts, false)));
});
