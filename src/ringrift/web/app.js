// RingRift web client: plain JavaScript over the public REST API and the WebSocket.
// The server is the truth; the page re-reads the game whenever the socket (or, when the
// socket is down, a slow poll) says something changed.
"use strict";

const COLORS = { 1: "#d1495b", 2: "#2d6a8f", 3: "#66a182", 4: "#edae49" };
const store = window.localStorage;
let current = { game: null, legal: [], selected: null, socket: null, poll: null, replayAt: null, replay: null };

function $(id) { return document.getElementById(id); }
function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]); }
function showError(message) { $("error").textContent = message || ""; }

async function api(method, path, body, retry = true) {
  const headers = { "Content-Type": "application/json" };
  const token = store.getItem("accessToken");
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && retry && store.getItem("refreshToken")) {
    const refreshed = await fetch("/api/auth/refresh", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: store.getItem("refreshToken") }),
    });
    if (refreshed.ok) {
      const tokens = (await refreshed.json()).data;
      store.setItem("accessToken", tokens.accessToken);
      store.setItem("refreshToken", tokens.refreshToken);
      return api(method, path, body, false);
    }
    logout(false);
  }
  if (!response.ok || data.success === false) {
    const error = data.error || {};
    throw new Error((error.code || response.status) + ": " + (error.message || "request failed"));
  }
  return data.data;
}

function saveSession(data) {
  store.setItem("accessToken", data.accessToken);
  store.setItem("refreshToken", data.refreshToken);
  if (data.user) store.setItem("user", JSON.stringify(data.user));
}

function me() { try { return JSON.parse(store.getItem("user") || "null"); } catch { return null; } }

async function logout(callServer = true) {
  if (callServer && store.getItem("refreshToken")) {
    await api("POST", "/api/auth/logout", { refreshToken: store.getItem("refreshToken") }).catch(() => {});
  }
  ["accessToken", "refreshToken", "user"].forEach((k) => store.removeItem(k));
  route();
}

function show(section) {
  ["auth", "home", "leaderboard", "game"].forEach((id) => { $(id).hidden = id !== section; });
  const user = me();
  $("who").innerHTML = user ? `${esc(user.username)} <button class="secondary" id="logout">log out</button>` : "";
  if (user) $("logout").onclick = () => logout();
}

// -- home ---------------------------------------------------------------------------------

function gameLine(g) {
  const seats = (g.seats || []).map((s) => s.isAi ? `AI ${s.aiLevel}` : esc(s.username || "open")).join(" vs ");
  return `<a href="#/game/${g.id}">${esc(g.boardType)} ${g.maxPlayers}p</a> ${seats} <small>${esc(g.status)} v${g.version}</small>`;
}

async function loadHome() {
  show("home");
  const [lobby, mine] = await Promise.all([api("GET", "/api/lobby"), api("GET", "/api/games")]);
  $("lobby").innerHTML = (lobby.games || []).map((g) =>
    `<li>${gameLine(g)} <button data-join="${g.id}">join</button></li>`).join("") || "<li>none</li>";
  $("mine").innerHTML = (mine.games || []).map((g) => `<li>${gameLine(g)}</li>`).join("") || "<li>none yet</li>";
  document.querySelectorAll("[data-join]").forEach((b) => {
    b.onclick = async () => {
      try { await api("POST", `/api/games/${b.dataset.join}/join`); location.hash = `#/game/${b.dataset.join}`; }
      catch (e) { showError(e.message); }
    };
  });
}

async function loadLeaderboard() {
  show("leaderboard");
  const data = await api("GET", "/api/leaderboard");
  $("ladder").innerHTML = (data.entries || []).map((p, i) =>
    `<tr><td>${p.rank || i + 1}</td><td>${esc(p.username)}</td><td>${Math.round(p.rating)}</td><td>${p.gamesPlayed ?? ""}</td></tr>`).join("");
}

// -- board ----------------------------------------------------------------------------------

function key(pos) { return pos.z === undefined ? `${pos.x},${pos.y}` : `${pos.x},${pos.y},${pos.z}`; }

function cellsOf(board) {
  const cells = [];
  if (board.type.startsWith("hex")) {
    const r = (board.size - 1) / 2;
    for (let x = -r; x <= r; x++) for (let y = -r; y <= r; y++) {
      const z = -x - y;
      if (Math.abs(z) <= r) cells.push({ x, y, z });
    }
  } else {
    for (let y = 0; y < board.size; y++) for (let x = 0; x < board.size; x++) cells.push({ x, y });
  }
  return cells;
}

function layout(board) {
  const hex = board.type.startsWith("hex");
  const s = hex ? 20 : 40;
  const pos = (c) => hex
    ? { cx: s * Math.sqrt(3) * (c.x + c.y / 2), cy: s * 1.5 * c.y }
    : { cx: c.x * s + s / 2, cy: c.y * s + s / 2 };
  return { hex, s, pos };
}

function shape(hex, s, cx, cy) {
  if (!hex) return `<rect x="${cx - s / 2}" y="${cy - s / 2}" width="${s}" height="${s}"`;
  const pts = [];
  for (let i = 0; i < 6; i++) {
    const a = Math.PI / 180 * (60 * i - 30);
    pts.push(`${(cx + s * Math.cos(a)).toFixed(1)},${(cy + s * Math.sin(a)).toFixed(1)}`);
  }
  return `<polygon points="${pts.join(" ")}"`;
}

function moveCells(m) {
  const out = [];
  ["from", "to", "captureTarget"].forEach((k) => { if (m[k]) out.push(key(m[k])); });
  (m.collapsedMarkers || []).forEach((p) => out.push(key(p)));
  (m.disconnectedRegions || []).forEach((r) => r.spaces.forEach((p) => out.push(key(p))));
  return out;
}

function drawBoard(state) {
  const board = state.board;
  const { hex, s, pos } = layout(board);
  const cells = cellsOf(board);
  const pts = cells.map(pos);
  const minX = Math.min(...pts.map((p) => p.cx)) - s, maxX = Math.max(...pts.map((p) => p.cx)) + s;
  const minY = Math.min(...pts.map((p) => p.cy)) - s, maxY = Math.max(...pts.map((p) => p.cy)) + s;
  const svg = $("board");
  svg.setAttribute("viewBox", `${minX} ${minY} ${maxX - minX} ${maxY - minY}`);
  const targets = new Set(current.legal.flatMap(moveCells));
  const parts = [];
  cells.forEach((c, i) => {
    const k = key(c), p = pts[i];
    const owner = board.collapsedSpaces[k];
    const cls = k === current.selected ? "cell sel" : targets.has(k) ? "cell target" : "cell";
    const fill = owner ? ` style="fill:${COLORS[owner]};fill-opacity:.45"` : "";
    parts.push(`${shape(hex, hex ? s : s, p.cx, p.cy)} class="${cls}" data-key="${k}"${fill}/>`);
    const marker = board.markers[k];
    if (marker) parts.push(`<circle cx="${p.cx}" cy="${p.cy}" r="${s * 0.3}" fill="none" stroke="${COLORS[marker.player]}" stroke-width="${s * 0.1}" pointer-events="none"/>`);
    const stack = board.stacks[k];
    if (stack) {
      const rings = stack.rings.slice(0, 5).reverse();
      rings.forEach((ring, j) => {
        const r = s * (0.42 - 0.06 * (rings.length - 1 - j));
        parts.push(`<circle cx="${p.cx}" cy="${p.cy}" r="${r}" fill="${COLORS[ring]}" stroke="#fff" stroke-width="1" pointer-events="none"/>`);
      });
      parts.push(`<text x="${p.cx}" y="${p.cy + s * 0.14}" text-anchor="middle" font-size="${s * 0.38}" fill="#fff" pointer-events="none">${stack.stackHeight}</text>`);
    }
  });
  svg.innerHTML = parts.join("");
  svg.querySelectorAll("[data-key]").forEach((el) => {
    el.onclick = () => { current.selected = current.selected === el.dataset.key ? null : el.dataset.key; render(); };
  });
}

function describe(m) {
  const at = (p) => p ? `(${key(p)})` : "";
  switch (m.type) {
    case "place_ring": return `place ${m.placementCount || 1} ring(s) at ${at(m.to)}`;
    case "move_stack": return `move ${at(m.from)} → ${at(m.to)}`;
    case "overtaking_capture": case "continue_capture_segment":
      return `capture ${at(m.captureTarget)} from ${at(m.from)}, land ${at(m.to)}`;
    case "process_line": return `collapse line from ${at(m.to)}`;
    case "choose_line_option": return `collapse ${m.collapsedMarkers.length} markers from ${at(m.collapsedMarkers[0])}`;
    case "choose_territory_option": return `claim region of ${m.disconnectedRegions[0].spaces.length} cell(s) at ${at(m.to)}`;
    case "eliminate_rings_from_stack": case "forced_elimination": return `${m.type.replaceAll("_", " ")} at ${at(m.to)}`;
    case "recovery_slide": return `recovery ${m.recoveryMode} ${at(m.from)} → ${at(m.to)}`;
    default: return m.type.replaceAll("_", " ");
  }
}

// -- game -----------------------------------------------------------------------------------

function render() {
  const g = current.game;
  if (!g) return;
  const state = current.replay ? current.replay : g.state;
  drawBoard(state);
  $("game-title").textContent = `${g.boardType} · ${g.maxPlayers} players · v${g.version}`;
  const turn = state.gameStatus === "completed"
    ? `finished: player ${state.winner} wins (${(state.victoryReason || "").replaceAll("_", " ")})`
    : g.status === "waiting" ? "waiting for players" : `player ${state.currentPlayer} to move · ${state.currentPhase.replaceAll("_", " ")}`;
  $("game-status").textContent = turn;
  $("seats").innerHTML = g.seats.map((s) => {
    const p = state.players.find((x) => x.playerNumber === s.seat) || {};
    const who = s.isAi ? `AI level ${s.aiLevel}` : esc(s.username || "(open seat)");
    return `<li><span style="color:${COLORS[s.seat]}">●</span> ${who} · hand ${p.ringsInHand ?? "-"} · eliminated ${p.eliminatedRings ?? "-"} · territory ${p.territorySpaces ?? "-"}</li>`;
  }).join("");
  const user = me();
  const mySeat = g.seats.find((s) => user && s.userId === user.id);
  const actions = [];
  if (!mySeat && g.status === "waiting") actions.push(`<button id="join">Join</button>`);
  if (mySeat && g.status !== "completed") actions.push(`<button class="secondary" id="leave">${g.status === "active" ? "Resign" : "Leave"}</button>`);
  $("actions").innerHTML = actions.join(" ");
  if ($("join")) $("join").onclick = () => act(() => api("POST", `/api/games/${g.id}/join`));
  if ($("leave")) $("leave").onclick = () => act(() => api("POST", `/api/games/${g.id}/leave`));
  const moves = current.replay ? [] : current.legal.filter((m) => !current.selected || moveCells(m).includes(current.selected));
  $("legal").innerHTML = moves.map((m, i) => `<li data-i="${current.legal.indexOf(m)}">${esc(describe(m))}</li>`).join("")
    || `<li class="hint">${current.replay ? "replaying" : "not your turn"}</li>`;
  $("legal").querySelectorAll("[data-i]").forEach((li) => {
    li.onclick = () => submit(current.legal[Number(li.dataset.i)]);
  });
}

async function act(fn) {
  try { await fn(); await refresh(); } catch (e) { showError(e.message); }
}

async function submit(move) {
  const g = current.game;
  try {
    const data = await api("POST", `/api/games/${g.id}/moves`, { move, version: g.version });
    current.game = data.game;
    current.selected = null;
    await refresh();
  } catch (e) { showError(e.message); await refresh(); }
}

async function refresh() {
  const id = current.game && current.game.id;
  if (!id) return;
  const [game, legal, history] = await Promise.all([
    api("GET", `/api/games/${id}`).then((d) => d.game),
    api("GET", `/api/games/${id}/legal-moves`).then((d) => d.moves).catch(() => []),
    api("GET", `/api/games/${id}/moves`),
  ]);
  current.game = game;
  current.legal = legal;
  $("log").innerHTML = history.moves.map((m) => `<li>P${m.player}${m.isAi ? " (AI)" : ""}: ${esc(describe(m.move))}</li>`).join("");
  $("log").scrollTop = 1e9;
  // A lone bookkeeping move (no_*_action) is no choice at all: record it for the player.
  if (legal.length === 1 && legal[0].type.startsWith("no_") && game.status === "active") {
    setTimeout(() => { if (current.game && current.game.version === game.version) submit(legal[0]); }, 400);
  }
  const slider = $("replay-slider");
  $("replay").hidden = game.status !== "completed";
  slider.max = String(history.moves.length);
  if (current.replayAt === null) slider.value = slider.max;
  render();
}

function connect(gameId) {
  if (current.socket) current.socket.close();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(store.getItem("accessToken") || "")}`);
  socket.onopen = () => socket.send(JSON.stringify({ t: "join", d: { gameId, v: current.game ? current.game.version : 0 } }));
  socket.onmessage = (e) => {
    const frame = JSON.parse(e.data);
    if (frame.t === "event" || frame.t === "state" || frame.t === "resync") refresh().catch(() => {});
  };
  socket.onclose = () => { if (current.socket === socket) current.socket = null; };
  current.socket = socket;
}

async function loadGame(id) {
  show("game");
  current = { game: { id }, legal: [], selected: null, socket: null, poll: current.poll, replayAt: null, replay: null };
  await refresh();
  connect(id);
  clearInterval(current.poll);
  // The socket pushes changes; the slow poll covers a socket that could not connect.
  current.poll = setInterval(() => { if (!current.socket && !document.hidden) refresh().catch(() => {}); }, 3000);
}

$("replay-slider").oninput = async (e) => {
  const n = Number(e.target.value);
  const g = current.game;
  current.replayAt = n;
  $("replay-at").textContent = `after move ${n}`;
  current.replay = n >= g.version ? null : (await api("GET", `/api/games/${g.id}/states/${n}`)).state;
  render();
};

// -- forms and routing ----------------------------------------------------------------------

function formData(form) { return Object.fromEntries(new FormData(form).entries()); }

$("login-form").onsubmit = (e) => {
  e.preventDefault();
  const f = formData(e.target);
  api("POST", "/api/auth/login", { email: f.email, password: f.password })
    .then(async (d) => { saveSession(d); if (!d.user) store.setItem("user", JSON.stringify((await api("GET", "/api/users/me")).user)); route(); })
    .catch((err) => showError(err.message));
};
$("register-form").onsubmit = (e) => {
  e.preventDefault();
  api("POST", "/api/auth/register", formData(e.target)).then((d) => { saveSession(d); route(); }).catch((err) => showError(err.message));
};
$("new-game").onsubmit = (e) => {
  e.preventDefault();
  const f = formData(e.target);
  const count = Number(f.aiCount);
  const body = {
    boardType: f.boardType, maxPlayers: Number(f.maxPlayers),
    isRated: Boolean(f.isRated), isPrivate: Boolean(f.isPrivate),
  };
  if (count > 0) body.aiOpponents = { count, difficulty: Array(count).fill(Number(f.aiLevel)) };
  api("POST", "/api/games", body).then((d) => { location.hash = `#/game/${d.game.id}`; }).catch((err) => showError(err.message));
};

async function route() {
  showError("");
  clearInterval(current.poll);
  if (current.socket) { current.socket.close(); current.socket = null; }
  const hash = location.hash || "#/";
  try {
    if (hash === "#/leaderboard") return await loadLeaderboard();
    if (!store.getItem("accessToken")) return show("auth");
    const match = hash.match(/^#\/game\/(.+)$/);
    if (match) return await loadGame(match[1]);
    return await loadHome();
  } catch (e) { showError(e.message); }
}

window.addEventListener("hashchange", route);
route();
