// The Skynet dashboard: plain DOM, no framework. Every figure comes from the JSON API
// documented in docs/DASHBOARD.md; registry changes arrive over /api/events (one
// coordinator watch per skynetd, shared by every open page).
"use strict";

const state = {
  instances: new Map(),   // path -> {path, info}
  revision: 0,
  figures: new Map(),     // uuid -> {stats, at, rate, cpu}
  errors: new Map(),      // uuid -> message
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `${response.status} ${response.statusText}`);
  return body;
}

function toast(text) {
  const node = document.getElementById("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 4000);
}

function age(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor(s % 3600 / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor(s % 86400 / 3600)}h`;
}

const fixed = (value, digits) => (value === undefined || value === null || Number.isNaN(value)) ? "–" : value.toFixed(digits);

// ---- Views ---------------------------------------------------------------------------

const views = ["topology", "tree", "timers", "coordinator"];
let currentView = "topology";

function showView() {
  const name = (location.hash || "#topology").slice(1);
  currentView = views.includes(name) ? name : "topology";
  for (const view of views) document.getElementById(`view-${view}`).hidden = view !== currentView;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.view === currentView);
  if (currentView === "tree") openTree(document.getElementById("tree-path").value);
  refreshPanels();
}

// ---- Topology ------------------------------------------------------------------------

function renderTopology() {
  const root = document.getElementById("topology");
  const instances = [...state.instances.values()];
  const regions = new Map();
  for (const instance of instances) {
    const info = instance.info;
    if (!regions.has(info.region)) regions.set(info.region, new Map());
    const hosts = regions.get(info.region);
    if (!hosts.has(info.host)) hosts.set(info.host, []);
    hosts.get(info.host).push(instance);
  }
  const key = (i) => [i.info.name, i.info.version, i.info.serviceAddress].join("\u0000");
  const sections = [...regions.keys()].sort().map((region) => el("section", { class: "region", "data-region": region },
    el("h2", {}, `region ${region}`),
    [...regions.get(region).keys()].sort().map((host) => el("div", { class: "host", "data-host": host },
      el("h3", {}, `host ${host}`),
      el("table", {},
        el("thead", {}, el("tr", {}, ["service", "version", "address", "registered", "calls/s", "mean ms", "p99 ms", "CPU %", "memory MB", "load", "uptime", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, regions.get(region).get(host).sort((a, b) => key(a) < key(b) ? -1 : 1).map(instanceRow)))))));
  root.replaceChildren(...sections);
  const services = new Set(instances.map((i) => i.info.name));
  document.getElementById("topology-summary").textContent =
    `${instances.length} instance${instances.length === 1 ? "" : "s"} of ${services.size} service${services.size === 1 ? "" : "s"} in ${regions.size} region${regions.size === 1 ? "" : "s"} · revision ${state.revision}`;
}

// The figures' cells, filled by figureCells and refreshed in place by updateFigures (so a
// refresh every two seconds does not replace the rows, nor the buttons under the pointer).
function figureCells(uuid, started) {
  const figures = state.figures.get(uuid);
  const stats = figures && figures.stats;
  return [
    fixed(figures && figures.rate, 1),
    fixed(stats && stats.meanLatencyMs, 2),
    fixed(stats && stats.p99LatencyMs, 2),
    fixed(figures && figures.cpu, 1),
    fixed(stats && stats.memoryBytes / 1048576, 1),
    fixed(stats && stats.load, 2),
    Number.isNaN(started) ? "–" : age((Date.now() - started) / 1000),
  ];
}

function instanceRow(instance) {
  const info = instance.info;
  const started = Date.parse(info.started);
  // Why it is out of rotation: an admin's unregister, a failing health check, or overload.
  const reason = info.outOfRotation ? `${info.outOfRotation.cause}: ${info.outOfRotation.detail}` : "";
  return el("tr", { class: "instance", "data-uuid": info.uuid, "data-service": info.name, "data-registered": String(info.registered) },
    el("td", {}, info.name), el("td", {}, info.version), el("td", {}, info.serviceAddress),
    el("td", {}, el("span", { class: `badge ${info.registered ? "yes" : "no"}` }, info.registered ? "yes" : "no"),
      reason ? el("span", { class: "reason" }, ` ${reason}`) : null),
    figureCells(info.uuid, started).map((text) => el("td", { class: "num figure" }, text)),
    el("td", {},
      info.registered
        ? el("button", { class: "act-unregister", onclick: () => act(info, "unregister") }, "unregister")
        : el("button", { class: "act-register", onclick: () => act(info, "register") }, "register"),
      el("button", { class: "act-stop", onclick: () => act(info, "stop") }, "stop"),
      el("span", { class: "reason figures-error" }, state.errors.has(info.uuid) ? " no figures" : "")));
}

function updateFigures() {
  for (const instance of state.instances.values()) {
    const row = document.querySelector(`tr.instance[data-uuid="${CSS.escape(instance.info.uuid)}"]`);
    if (!row) continue;
    const texts = figureCells(instance.info.uuid, Date.parse(instance.info.started));
    row.querySelectorAll("td.figure").forEach((cell, i) => { if (cell.textContent !== texts[i]) cell.textContent = texts[i]; });
    const error = row.querySelector(".figures-error");
    error.textContent = state.errors.has(instance.info.uuid) ? " no figures" : "";
    error.title = state.errors.get(instance.info.uuid) || "";
  }
}

function act(info, action) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent =
    `${action} ${info.name} v${info.version} at ${info.serviceAddress} (${info.region}/${info.host})?`;
  dialog.hidden = false;
  const yes = document.getElementById("confirm-yes");
  const no = document.getElementById("confirm-no");
  const close = () => { dialog.hidden = true; yes.onclick = null; no.onclick = null; };
  no.onclick = close;
  yes.onclick = async () => {
    close();
    try {
      await api(`/api/instances/${encodeURIComponent(info.uuid)}/${action}`, { method: "POST" });
      toast(`${action}: done for ${info.serviceAddress}`);
    } catch (error) {
      toast(`${action} failed: ${error.message}`);
    }
  };
}

function connectEvents() {
  const live = document.getElementById("live");
  const events = new EventSource("/api/events");
  events.onopen = () => { live.textContent = "live"; live.className = "pill on"; };
  events.onerror = () => { live.textContent = "reconnecting"; live.className = "pill off"; };
  events.addEventListener("snapshot", (event) => {
    const snapshot = JSON.parse(event.data);
    state.instances = new Map(snapshot.instances.map((i) => [i.path, i]));
    state.revision = snapshot.revision;
    live.textContent = "live"; live.className = "pill on";
    renderTopology();
    refreshFigures();
  });
  events.addEventListener("put", (event) => {
    const change = JSON.parse(event.data);
    state.instances.set(change.path, change.instance);
    state.revision = change.revision;
    renderTopology();
  });
  events.addEventListener("remove", (event) => {
    const change = JSON.parse(event.data);
    state.instances.delete(change.path);
    state.revision = change.revision;
    renderTopology();
  });
}

async function refreshFigures() {
  if (currentView !== "topology" || state.instances.size === 0) return;
  const uuids = [...state.instances.values()].map((i) => i.info.uuid).slice(0, 256);
  let answer;
  try { answer = await api(`/api/stats?instances=${uuids.join(",")}`); } catch { return; }
  const now = Date.now();
  for (const [uuid, stats] of Object.entries(answer.stats)) {
    const before = state.figures.get(uuid);
    // The first answer shows the instance's own last-second rate; later ones, the rate between refreshes.
    const figures = { stats, at: now, rate: stats.callsPerSecond, cpu: undefined };
    if (before && now > before.at) {
      const seconds = (now - before.at) / 1000;
      figures.rate = Math.max(0, (stats.requests - before.stats.requests) / seconds);
      figures.cpu = Math.max(0, (stats.cpuSeconds - before.stats.cpuSeconds) / seconds * 100);
    }
    state.figures.set(uuid, figures);
    state.errors.delete(uuid);
  }
  for (const [uuid, message] of Object.entries(answer.errors)) state.errors.set(uuid, message);
  updateFigures();
}

// ---- Config tree ---------------------------------------------------------------------

let treeEvents = null;

async function openTree(path) {
  document.getElementById("tree-path").value = path;
  const crumbs = document.getElementById("tree-crumbs");
  const parts = path.split("/").filter(Boolean);
  crumbs.replaceChildren(el("a", { href: "#tree", onclick: (e) => { e.preventDefault(); openTree("/"); } }, "/"),
    ...parts.map((part, i) => {
      const target = "/" + parts.slice(0, i + 1).join("/");
      return el("a", { href: "#tree", onclick: (e) => { e.preventDefault(); openTree(target); } }, `${part}/`);
    }));
  const body = document.getElementById("tree-body");
  try {
    const view = await api(`/api/tree?path=${encodeURIComponent(path)}`);
    if (view.kind === "directory") {
      body.replaceChildren(el("ul", { class: "children" }, view.children.map((child) => {
        const target = (path === "/" ? "" : path) + "/" + child;
        return el("li", {}, el("a", { href: "#tree", onclick: (e) => { e.preventDefault(); openTree(target); } }, child));
      })));
    } else {
      const stat = view.stat;
      body.replaceChildren(
        el("dl", {}, ["createRev", "modRev", "version", "size", "session"].flatMap((k) => [el("dt", {}, k), el("dd", {}, stat[k] ?? "–")])),
        el("pre", { id: "tree-value" }, view.decoded !== undefined ? JSON.stringify(view.decoded, null, 2) : view.value));
    }
  } catch (error) {
    body.replaceChildren(el("p", { class: "reason" }, error.message));
  }
  followTree(path);
}

function followTree(path) {
  if (treeEvents) { treeEvents.close(); treeEvents = null; }
  if (!document.getElementById("tree-follow").checked || currentView !== "tree") return;
  treeEvents = new EventSource(`/api/tree/events?path=${encodeURIComponent(path)}`);
  treeEvents.addEventListener("change", () => openTree(document.getElementById("tree-path").value));
}

// ---- Timers and coordinator ----------------------------------------------------------

function definitions(entries) {
  return el("dl", {}, entries.flatMap(([key, value]) => [el("dt", {}, key), el("dd", {}, value)]));
}

async function refreshTimers() {
  const root = document.getElementById("timers");
  try {
    const view = await api("/api/timers");
    if (!view.running) { root.replaceChildren(el("p", {}, "The timer service does not run in this skynetd (--no-timer).")); return; }
    const f = view.figures;
    const failed = await api("/timer?state=failed&limit=50").catch(() => ({ timers: [] }));
    root.replaceChildren(
      definitions([["timers held here", f.held], ["shards held", f.shards], ["attempts", f.attempts], ["delivered", f.delivered],
        ["retried", f.retried], ["failed", f.failed], ["lateness p50", `${fixed(f.latenessP50Ms, 0)} ms`], ["lateness p99", `${fixed(f.latenessP99Ms, 0)} ms`]]),
      el("h3", {}, "Failed timers"),
      failed.timers.length === 0 ? el("p", {}, "none") : el("table", {},
        el("thead", {}, el("tr", {}, ["id", "due", "attempts", "last error"].map((h) => el("th", {}, h)))),
        el("tbody", {}, failed.timers.map((t) => el("tr", {}, el("td", {}, t.id), el("td", {}, new Date(t.due).toISOString()),
          el("td", { class: "num" }, t.attempts), el("td", {}, t.lastError ?? ""))))));
  } catch (error) {
    root.replaceChildren(el("p", { class: "reason" }, error.message));
  }
}

async function refreshCoordinator() {
  const root = document.getElementById("coordinator");
  try {
    const s = await api("/api/coordinator");
    root.replaceChildren(
      definitions([["name", s.name], ["store", s.store], ["revision", s.revision], ["oldest revision", s.oldestRevision],
        ["files", s.files], ["sessions", s.sessions], ["watches", s.watches], ["data size", `${fixed(s.dataSize / 1048576, 2)} MiB`],
        ["leader", s.leader], ["open dashboards", s.dashboards]]),
      el("h3", {}, "Members"),
      el("table", {}, el("thead", {}, el("tr", {}, ["name", "client URLs", "leader", "healthy"].map((h) => el("th", {}, h)))),
        el("tbody", {}, (s.members || []).map((m) => el("tr", {}, el("td", {}, m.name), el("td", {}, (m.clientURLs || []).join(", ")),
          el("td", {}, m.leader ? "yes" : ""), el("td", {}, m.healthy ? "yes" : "no"))))));
  } catch (error) {
    root.replaceChildren(el("p", { class: "reason" }, error.message));
  }
}

function refreshPanels() {
  if (currentView === "timers") refreshTimers();
  if (currentView === "coordinator") refreshCoordinator();
}

// ---- Start ---------------------------------------------------------------------------

document.getElementById("tree-form").addEventListener("submit", (e) => { e.preventDefault(); openTree(document.getElementById("tree-path").value); });
document.getElementById("tree-follow").addEventListener("change", () => followTree(document.getElementById("tree-path").value));
window.addEventListener("hashchange", showView);
connectEvents();
showView();
setInterval(refreshFigures, 2000);
setInterval(refreshPanels, 2000);
