// ANTT Bot emulator: one chat per persona, live updates by server-sent events.
// Message HTML arrives sanitised by the server (b i u s code pre a only).
"use strict";

const UI = {
  vi: {
    subtitle: "Trình giả lập",
    personas: "Nhân vật",
    demoClock: "Đồng hồ demo",
    nextDay: "Sang ngày tiếp theo ▸",
    jumpJuly: "Đến ngày 01/07 (sáp nhập) ▸▸",
    send: "Gửi",
    sendPhoto: "Gửi ảnh hoặc tệp",
    shareLocation: "Chia sẻ vị trí",
    placeholder: "Nhập tin nhắn…",
    pickerTitle: "Chọn xã, phường",
    pickerHint: "Vị trí gửi đi là tọa độ của đơn vị được chọn.",
    filter: "Lọc theo tên…",
    cancel: "Hủy",
    myLocation: "📍 Vị trí của tôi",
    noUnits: "Chưa có đơn vị nào có tọa độ.",
    empty: "Chưa có tin nhắn. Bấm Bắt đầu để trò chuyện với bot.",
    start: "Bắt đầu",
    automatic: "Tin nhắn tự động",
    live: "Đã kết nối",
    reconnecting: "Đang kết nối lại…",
    movedTo: "Đã sang ngày {date}",
    shareContact: "📞 Chia sẻ số điện thoại",
    failed: "Không gửi được: {error}",
  },
  en: {
    subtitle: "Emulator",
    personas: "Personas",
    demoClock: "Demo clock",
    nextDay: "Next day ▸",
    jumpJuly: "Jump to 01/07 (the merger) ▸▸",
    send: "Send",
    sendPhoto: "Send a photo or file",
    shareLocation: "Share a location",
    placeholder: "Type a message…",
    pickerTitle: "Choose a commune or ward",
    pickerHint: "The location sent is the chosen unit's coordinates.",
    filter: "Filter by name…",
    cancel: "Cancel",
    myLocation: "📍 My location",
    noUnits: "No unit has coordinates yet.",
    empty: "No messages yet. Press Start to talk to the bot.",
    start: "Start",
    automatic: "Automatic message",
    live: "Connected",
    reconnecting: "Reconnecting…",
    movedTo: "Moved to {date}",
    shareContact: "📞 Share my phone number",
    failed: "Not sent: {error}",
  },
};
const COLOURS = ["#2f6f9f", "#8a4fa3", "#c8702e", "#2e8a5f", "#a33d4f", "#5b6bbf"];

const state = {
  personas: [],
  current: null,
  lang: "vi",
  entries: {}, // persona id -> entries sorted by id
  seen: new Set(),
  unread: {},
  pending: {},
  units: null,
};

const $ = (sel) => document.querySelector(sel);
const t = (key, vars) => {
  let text = (UI[state.lang] || UI.vi)[key] || key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replace(`{${k}}`, v);
  return text;
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "className") node.className = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// The run's token, which only this page knows: the server refuses API calls without it.
const TOKEN = document.querySelector('meta[name="emulator-token"]').content;

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), "X-Emulator-Token": TOKEN };
  if (options.method === "POST") headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 3500);
}

// --- labels ----------------------------------------------------------------------

function applyLabels() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  $("#composer-text").placeholder = t("placeholder");
  for (const button of document.querySelectorAll(".lang-switch button")) {
    button.classList.toggle("active", button.dataset.lang === state.lang);
  }
  showConnection();
}

// The connection label follows the language at once (not at the next reconnect).
function showConnection() {
  const status = $("#connection");
  if (state.live === undefined) return;
  status.textContent = t(state.live ? "live" : "reconnecting");
  status.classList.toggle("live", state.live);
}

function roleLabel(persona) {
  return (persona.role_labels && persona.role_labels[state.lang]) || persona.role;
}

function initials(name) {
  const words = name.trim().split(/\s+/);
  return ((words.length > 1 ? words[words.length - 2][0] : "") + words[words.length - 1][0]).toUpperCase();
}

function colour(persona) {
  const i = state.personas.indexOf(persona);
  return COLOURS[(i < 0 ? 0 : i) % COLOURS.length];
}

// --- persona list ----------------------------------------------------------------

function plainText(html) {
  const box = document.createElement("div");
  box.innerHTML = html;
  return box.textContent.replace(/\s+/g, " ").trim();
}

function renderPersonas() {
  const list = $("#persona-list");
  list.replaceChildren();
  for (const p of state.personas) {
    const entries = state.entries[p.id] || [];
    const last = entries[entries.length - 1];
    const unread = state.unread[p.id] || 0;
    list.append(
      el("button", {
        type: "button",
        className: "persona" + (p.id === state.current ? " active" : ""),
        "data-persona": p.id,
        onclick: () => selectPersona(p.id),
      },
      el("div", { className: "avatar", style: `background:${colour(p)}` }, initials(p.name)),
      el("div", { className: "who" },
        el("div", { className: "name" }, p.name),
        el("div", { className: "role" }, roleLabel(p)),
        last ? el("div", { className: "preview" }, plainText(last.html) || "🖼") : null),
      unread ? el("span", { className: "badge", "data-unread": p.id }, String(unread)) : null)
    );
  }
}

function selectPersona(id) {
  state.current = id;
  state.unread[id] = 0;
  localStorage.setItem("antt-persona", id);
  history.replaceState(null, "", "#" + encodeURIComponent(id));
  const p = currentPersona();
  $("#chat-avatar").textContent = initials(p.name);
  $("#chat-avatar").style.background = colour(p);
  $("#chat-name").textContent = p.name;
  $("#chat-role").textContent = roleLabel(p) + (p.description ? " · " + p.description : "");
  renderPersonas();
  renderMessages();
  $("#composer-text").focus();
}

function currentPersona() {
  return state.personas.find((p) => p.id === state.current);
}

// --- messages --------------------------------------------------------------------

function renderEntry(e) {
  const node = el("div", {
    className: `msg ${e.sender} kind-${e.kind}` + (e.proactive ? " proactive" : ""),
    "data-entry": e.id,
  });
  if (e.proactive) node.append(el("div", { className: "tag" }, t("automatic")));
  if (e.image) {
    node.append(el("img", { src: e.image, alt: "", onclick: () => window.open(e.image, "_blank") }));
  }
  if (e.html) node.append(el("div", { className: "text", html: e.html }));
  if (e.document) {
    node.append(el("a", { className: "document", href: e.document, download: e.document_name || "" },
      "📎 " + (e.document_name || "")));
  }
  if (e.link) {
    node.append(el("a", { className: "document", href: e.link.url, target: "_blank", rel: "noopener" },
      "🔗 " + e.link.label));
  }
  if (e.choices && e.choices.length) {
    const grid = el("div", { className: "choices", style: `grid-template-columns: repeat(${Math.max(1, e.columns || 1)}, 1fr)` });
    for (const c of e.choices) {
      grid.append(el("button", { type: "button", "data-choice": c.id, onclick: () => send({ choice: c.id }) }, c.label));
    }
    node.append(grid);
  }
  const time = (e.at_local || "").split(" ")[0];
  node.append(el("div", { className: "meta", title: e.at_local }, time));
  return node;
}

function renderMessages() {
  const box = $("#messages");
  box.replaceChildren();
  const entries = state.entries[state.current] || [];
  if (!entries.length) {
    box.append(el("div", { className: "empty" },
      el("div", {}, t("empty")),
      el("button", { type: "button", id: "start-button", onclick: () => send({ text: "/start" }) }, t("start"))));
  }
  for (const e of entries) box.append(renderEntry(e));
  renderKeyboard();
  renderTyping();
  box.scrollTop = box.scrollHeight;
}

// The last request for a location or contact stays on screen, like Telegram's
// one-time reply keyboard, until it is used or a message removes it.
function keyboardOf(id) {
  let kb = null;
  for (const e of state.entries[id] || []) {
    if (e.sender === "bot" && e.request) kb = { request: e.request, label: e.request_label };
    else if (e.sender === "bot" && e.remove_keyboard) kb = null;
    else if (e.sender === "user" && (e.kind === "location" || e.kind === "contact")) kb = null;
  }
  return kb;
}

function renderKeyboard() {
  const box = $("#keyboard");
  const kb = keyboardOf(state.current);
  box.replaceChildren();
  box.hidden = !kb;
  if (!kb) return;
  if (kb.request === "location") {
    box.append(el("button", { type: "button", id: "request-location", onclick: openPicker }, kb.label || t("shareLocation")));
  } else {
    const phone = currentPersona().phone;
    box.append(el("button", { type: "button", id: "request-contact", onclick: () => send({ contact: phone }) },
      (kb.label || t("shareContact")) + ` (${phone})`));
  }
}

function renderTyping() {
  $("#typing").hidden = !state.pending[state.current];
}

function addEntry(e) {
  if (e.edited && state.seen.has(e.id)) {
    // A status message edited in place: swap the entry and its node.
    const list = state.entries[e.persona] || [];
    const at = list.findIndex((x) => x.id === e.id);
    if (at >= 0) list[at] = e;
    const node = document.querySelector(`[data-entry="${e.id}"]`);
    if (node && e.persona === state.current) node.replaceWith(renderEntry(e));
    return;
  }
  if (state.seen.has(e.id)) return;
  state.seen.add(e.id);
  const list = (state.entries[e.persona] = state.entries[e.persona] || []);
  if (e.replaces) {
    // An edit: the message whose button was pressed gives way to this one.
    const at = list.findIndex((old) => old.id === e.replaces);
    if (at >= 0) list.splice(at, 1);
    const node = document.querySelector(`#messages [data-entry="${e.replaces}"]`);
    if (node) node.remove();
  }
  list.push(e);
  if (list.length > 1 && list[list.length - 2].id > e.id) list.sort((a, b) => a.id - b.id);
  if (e.persona === state.current) {
    const box = $("#messages");
    const empty = box.querySelector(".empty");
    if (empty) empty.remove();
    const atEnd = list[list.length - 1] === e;
    if (atEnd) box.append(renderEntry(e));
    else return renderMessages();
    renderKeyboard();
    box.scrollTop = box.scrollHeight;
  } else if (e.sender === "bot") {
    state.unread[e.persona] = (state.unread[e.persona] || 0) + 1;
  }
  renderPersonas();
}

async function send(body) {
  const id = state.current;
  state.pending[id] = (state.pending[id] || 0) + 1;
  renderTyping();
  try {
    const options = { method: "POST", body: JSON.stringify(body) };
    const result = await api(`/api/personas/${encodeURIComponent(id)}/send`, options);
    addEntry(result.sent);
    for (const e of result.replies) addEntry(e);
  } catch (err) {
    toast(t("failed", { error: err.message }));
  } finally {
    state.pending[id] -= 1;
    renderTyping();
  }
}

// --- commune picker --------------------------------------------------------------

async function openPicker() {
  const dialog = $("#picker");
  const p = currentPersona();
  const home = $("#picker-home");
  home.hidden = p.lat == null || p.lon == null;
  home.textContent = t("myLocation") + (p.description ? ` (${p.description})` : "");
  home.onclick = () => {
    dialog.close();
    send({ location: { lat: p.lat, lon: p.lon, label: p.description || null } });
  };
  $("#picker-filter").value = "";
  if (state.units === null) {
    try {
      state.units = (await api("/api/units")).units;
    } catch (err) {
      toast(t("failed", { error: err.message }));
      return;
    }
  }
  renderUnits("");
  dialog.showModal();
  $("#picker-filter").focus();
}

function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
}

function renderUnits(filter) {
  const list = $("#picker-list");
  list.replaceChildren();
  const wanted = fold(filter.trim());
  const units = state.units.filter((u) => !wanted || fold(`${u.name} ${u.parent || ""}`).includes(wanted));
  if (!units.length) list.append(el("li", { className: "none" }, t("noUnits")));
  for (const u of units) {
    list.append(el("li", {},
      el("button", {
        type: "button",
        "data-unit": u.code,
        onclick: () => {
          $("#picker").close();
          send({ location: { lat: u.lat, lon: u.lon, label: u.name } });
        },
      }, u.name, " ", el("span", { className: "parent" }, u.parent ? `· ${u.parent}` : ""))));
  }
}

// --- clock, language, live events ------------------------------------------------

function showClock(clock) {
  $("#clock-value").textContent = clock.local;
}

async function nextDay() {
  const button = $("#next-day");
  button.disabled = true;
  try {
    const clock = await api("/api/clock/next-day", { method: "POST", body: "{}" });
    showClock(clock);
    toast(t("movedTo", { date: clock.date }));
  } catch (err) {
    toast(t("failed", { error: err.message }));
  } finally {
    button.disabled = false;
  }
}

// The demo's reorganisation takes effect on 01/07/2025 (bot/demo_reorg.py).
async function jumpToJuly() {
  const button = $("#jump-july");
  button.disabled = true;
  try {
    const clock = await api("/api/clock/jump", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ date: "2025-07-01" }),
    });
    showClock(clock);
    toast(t("movedTo", { date: clock.date }));
  } catch (err) {
    toast(t("failed", { error: err.message }));
  } finally {
    button.disabled = false;
  }
}

async function setLanguage(lang) {
  try {
    await api("/api/language", { method: "POST", body: JSON.stringify({ lang }) });
    state.lang = lang;
    applyLabels();
    selectPersona(state.current);
  } catch (err) {
    toast(t("failed", { error: err.message }));
  }
}

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => {
    state.live = true;
    showConnection();
  });
  source.addEventListener("error", () => {
    state.live = false;
    showConnection();
  });
  source.addEventListener("entry", (event) => addEntry(JSON.parse(event.data)));
}

async function main() {
  const info = await api("/api/personas");
  state.personas = info.personas;
  state.lang = info.language;
  showClock(info.clock);
  applyLabels();
  const histories = await Promise.all(
    state.personas.map((p) => api(`/api/personas/${encodeURIComponent(p.id)}/history`))
  );
  for (const h of histories) for (const e of h.entries) addEntry(e);
  state.unread = {};
  const wanted = decodeURIComponent(location.hash.slice(1)) || localStorage.getItem("antt-persona");
  const first = state.personas.find((p) => p.id === wanted) || state.personas[0];
  if (first) selectPersona(first.id);
  listen();

  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#composer-text");
    const text = input.value.trim();
    if (!text || !state.current) return;
    input.value = "";
    send({ text });
  });
  $("#file-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const caption = $("#composer-text").value.trim();
    $("#composer-text").value = "";
    event.target.value = "";
    const reader = new FileReader();
    reader.onload = () => {
      const data = String(reader.result).split(",", 2)[1] || "";  // after "data:...;base64,"
      const body = { file: { name: file.name, mime: file.type || "application/octet-stream", data } };
      if (caption) body.caption = caption;
      send(body);
    };
    reader.onerror = () => toast(t("failed", { error: String(reader.error) }));
    reader.readAsDataURL(file);
  });
  $("#location-button").addEventListener("click", openPicker);
  $("#picker-filter").addEventListener("input", (event) => renderUnits(event.target.value));
  $("#next-day").addEventListener("click", nextDay);
  $("#jump-july").addEventListener("click", jumpToJuly);
  $("#menu-button").addEventListener("click", () => send({ text: "/menu" }));
  $("#help-button").addEventListener("click", () => send({ text: "/help" }));
  for (const button of document.querySelectorAll(".lang-switch button")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  setInterval(async () => showClock(await api("/api/clock")), 30000);
}

main().catch((err) => toast(String(err)));
