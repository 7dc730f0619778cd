// The page: routes (#/, #/game/ID, #/leaderboard), sign-in, the lobby, and one socket shared
// by the game views.
import { api, session } from "./api.js";
import { $, clear, h } from "./dom.js";
import { plain } from "./messages.js";
import { Connection } from "./socket.js";
import { GameView } from "./views/game.js";
import { inviteFromHash } from "./views/invite.js";
import { renderLeaderboard } from "./views/leaderboard.js";
import { BOARD_NAMES, LiveLobby } from "./views/lobby.js";
import { Pairing } from "./views/pairing.js";
import { renderPlayer } from "./views/player.js";
import { renderRules } from "./views/rules.js";
import { SandboxView } from "./views/sandbox.js";
import { TimeControlPicker } from "./views/timecontrol.js";

const SECTIONS = ["auth", "reset", "home", "watch", "leaderboard", "rules", "player", "game", "sandbox"];
const conn = new Connection();
// Open games (Play page) and games in play (Watch page), live from the socket (views/lobby.js).
const lobby = new LiveLobby(conn, { onError: (err) => showError(lobby.page === "watch" ? "watch-error" : "home-error", err) });
let gameView = null;
let sandboxView = null; // the practice game against the AI (#/sandbox, no account)
// A handle for the browser tests and for debugging from the console (no data, just objects).
window.ringrift = { conn, get game() { return gameView; }, get pairing() { return pairing; }, get sandbox() { return sandboxView; } };

conn.onStatus((status) => {
  const banner = $("conn");
  if (status === "reconnecting") {
    banner.textContent = "Connection lost. Reconnecting…";
    banner.hidden = false;
  } else if (status === "too-many") {
    banner.textContent = "Too many RingRift tabs are open for your account: close one and this tab connects again.";
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  if (status === "unauthorized") {
    pairing.run++; // the queue went with the session
    pairing.setWaiting(false);
    session.clear();
    if (gameView) { gameView.close(); gameView = null; }
    showAuth("Your session has ended: please sign in again.");
  }
});

function show(section) {
  for (const id of SECTIONS) $(id).hidden = id !== section;
  const who = clear($("who"));
  const user = session.user;
  if (user && session.token) {
    who.append(h("span", { text: user.username }), h("button", { class: "secondary", type: "button", onclick: logout }, ["Sign out"]));
  }
}

function showError(id, error) {
  const el = $(id);
  el.textContent = error ? plain(error.code, error.message) : "";
  el.hidden = !error;
}

async function logout() {
  await pairing.stop();
  if (session.refreshToken) await api("POST", "/api/auth/logout", { refreshToken: session.refreshToken }).catch(() => {});
  session.clear();
  conn.close();
  location.hash = "#/";
  route();
}

// -- sign in ------------------------------------------------------------------------------

function showAuth(reason) {
  show("auth");
  for (const form of [$("login-form"), $("register-form")]) form.reset();
  showError("auth-error", null);
  $("auth-reason").textContent = reason || "";
  $("auth-reason").hidden = !reason;
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = formData(e.target);
  try {
    const data = await api("POST", "/api/auth/login", { email: f.email, password: f.password });
    session.save(data);
    if (!data.user) session.save({ user: (await api("GET", "/api/users/me")).user });
    route();
  } catch (err) { showError("auth-error", err); }
});

// Registering answers the same for new and known addresses (no tokens); a new account then
// signs in with the password just chosen, and a known one gets the server's "check your mail".
$("register-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = formData(e.target);
  let accepted;
  try {
    accepted = await api("POST", "/api/auth/register", f);
  } catch (err) { showError("auth-error", err); return; }
  try {
    session.save(await api("POST", "/api/auth/login", { email: f.email, password: f.password }));
    route();
  } catch {
    showError("auth-error", new Error(accepted.message));
  }
});

// -- the links in account mails (/verify-email?token=, /reset-password?token=) ---------------

let mailNotice = "";
let resetToken = "";

/** Handle a mail link once: verify at once, or keep the reset token for the form. */
async function handleMailLink() {
  const path = location.pathname;
  if (path !== "/verify-email" && path !== "/reset-password") return;
  const token = new URLSearchParams(location.search).get("token") || "";
  history.replaceState(null, "", path === "/reset-password" ? "/#/reset" : "/#/");
  if (path === "/reset-password") { resetToken = token; return; }
  try {
    const data = await api("POST", "/api/auth/verify-email", { token });
    const me = session.user;
    if (me && data.user && me.id === data.user.id) session.save({ user: { ...me, ...data.user } });
    mailNotice = "Your email address is verified: rated games are open to you.";
  } catch (err) { mailNotice = plain(err.code, err.message); }
}

$("reset-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/auth/password-reset/confirm", { token: resetToken, newPassword: formData(e.target).newPassword });
    resetToken = "";
    session.clear();
    mailNotice = "Your password is changed: sign in with it.";
    location.hash = "#/"; // the route shows the sign-in form with this notice
  } catch (err) { showError("reset-error", err); }
});

$("reset-request").addEventListener("click", async () => {
  const email = $("reset-email").value.trim();
  if (!email) { $("reset-email").focus(); return; }
  try {
    await api("POST", "/api/auth/password-reset", { email });
    showAuth("If an account uses that address, a link to choose a new password is on its way.");
  } catch (err) { showError("auth-error", err); }
});

$("verify-resend").addEventListener("click", async () => {
  try {
    await api("POST", "/api/account/verify-email/resend");
    $("home-notice").textContent = "Sent: check your mail for the link.";
  } catch (err) { $("home-notice").textContent = plain(err.code, err.message); }
  $("home-notice").hidden = false;
});

// -- lobby ----------------------------------------------------------------------------------

function seatText(seat) {
  return seat.isAi ? `AI level ${seat.aiLevel}` : seat.username || "open seat";
}

function gameLine(g, withJoin) {
  const seats = (g.seats || []).map(seatText).join(" vs ");
  const status = { waiting: "waiting for players", active: "in play", completed: "finished", cancelled: "cancelled" }[g.status] || g.status;
  const li = h("li", {}, [
    h("a", { href: `#/game/${g.id}` }, [`${BOARD_NAMES[g.boardType] || g.boardType}, ${g.maxPlayers} players`]),
    h("span", { text: seats }),
    h("small", { text: status }),
  ]);
  if (withJoin) {
    li.append(h("button", {
      type: "button",
      onclick: async () => {
        try { await api("POST", `/api/games/${g.id}/join`); location.hash = `#/game/${g.id}`; } catch (err) { showError("home-error", err); }
      },
    }, ["Join"]));
  }
  return li;
}

async function loadHome() {
  show("home");
  showError("home-error", null);
  $("home-notice").textContent = mailNotice;
  $("home-notice").hidden = !mailNotice;
  mailNotice = "";
  const [mine] = await Promise.all([api("GET", "/api/users/me"), loadMine()]);
  if (mine && mine.user) session.save({ user: mine.user });
  $("verify-notice").hidden = !(mine && mine.user && mine.user.emailVerified === false);
  syncRated();
  await Promise.all([pairing.load(), timeControl.load()]);
  if (!$("home").hidden) await lobby.show("home"); // unless another page was opened meanwhile
}

/** My games, filtered by status; the ones waiting for my move and my results are marked. */
async function loadMine() {
  const status = $("mine-filter").value;
  const mine = await api("GET", `/api/games${status ? `?status=${status}` : ""}`);
  const me = session.user;
  const games = mine.games || [];
  clear($("mine")).append(...(games.length ? games.map((g) => {
    const li = gameLine(g, false);
    const seat = (g.seats || []).find((s) => me && s.userId === me.id);
    if (seat && g.status === "active" && g.currentPlayer === seat.seat) li.append(h("span", { class: "badge", text: "your turn" }));
    if (seat && g.status === "completed" && g.winner) li.append(h("span", { class: "badge", text: g.winner === seat.seat ? "won" : "lost" }));
    return li;
  }) : [h("li", { text: status ? "No games here." : "You have not played yet." })]));
}

$("mine-filter").addEventListener("change", () => loadMine().catch((err) => showError("home-error", err)));

// Games with AI seats are never rated: say so instead of offering the box.
// Rated play also needs a verified email address (the server refuses it otherwise).
function syncRated() {
  const form = $("new-game");
  const withAi = Number(form.elements.aiCount.value) > 0;
  const unverified = Boolean(session.user && session.user.emailVerified === false);
  form.elements.isRated.disabled = withAi || unverified;
  if (withAi || unverified) form.elements.isRated.checked = false;
  $("rated-note").textContent = withAi ? "(never with AI)" : "(verify your email first)";
  $("rated-note").hidden = !(withAi || unverified);
}
$("new-game").elements.aiCount.addEventListener("change", syncRated);
syncRated();
const timeControl = new TimeControlPicker($("new-game"));

$("new-game").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = formData(e.target);
  const count = Number(f.aiCount);
  const body = { boardType: f.boardType, maxPlayers: Number(f.maxPlayers), isRated: Boolean(f.isRated), isPrivate: Boolean(f.isPrivate), timeControl: timeControl.value() };
  if (count > 0) body.aiOpponents = { count, difficulty: Array(count).fill(Number(f.aiLevel)) };
  try {
    const data = await api("POST", "/api/games", body);
    location.hash = `#/game/${data.game.id}`;
  } catch (err) { showError("home-error", err); }
});

async function loadLeaderboard(hash) {
  show("leaderboard");
  await renderLeaderboard(hash);
}

function showRules(part) {
  show("rules");
  if (!$("rules").childElementCount) renderRules($("rules"));
  const target = part && document.getElementById(`rules-${part}`);
  if (target) target.scrollIntoView();
  else window.scrollTo(0, 0);
}

// -- quick pairing (views/pairing.js) ---------------------------------------------------------

const pairing = new Pairing((gameId) => { location.hash = `#/game/${gameId}`; });

// -- routing ----------------------------------------------------------------------------------

async function route() {
  if (gameView) { gameView.close(); gameView = null; }
  if (sandboxView && location.hash !== "#/sandbox") { sandboxView.close(); sandboxView = null; }
  lobby.hide();
  if (location.hash !== "#/" && location.hash !== "") pairing.stop();
  await handleMailLink();
  const hash = location.hash || "#/";
  if (hash === "#/reset" && resetToken) {
    show("reset");
    showError("reset-error", null);
    $("reset-form").reset();
    return undefined;
  }
  const match = hash.match(/^#\/game\/([A-Za-z0-9_-]+)/);
  try {
    if (hash === "#/leaderboard" || hash.startsWith("#/leaderboard?")) return await loadLeaderboard(hash);
    if (hash === "#/watch") {
      show("watch");
      if (session.token) conn.open();
      return await lobby.show("watch");
    }
    if (hash.startsWith("#/rules")) return showRules(hash.slice("#/rules/".length));
    if (hash === "#/sandbox") { show("sandbox"); sandboxView = sandboxView || new SandboxView($("sandbox")); return undefined; }
    const player = hash.match(/^#\/player\/([A-Za-z0-9_-]+)/);
    if (player) { show("player"); return await renderPlayer($("player"), player[1]); }
    if (!session.token) {
      conn.close();
      const notice = mailNotice;
      mailNotice = "";
      return showAuth(notice || (match ? "Sign in or register to play or watch this game: you come back to it right after." : ""));
    }
    conn.open();
    if (match) {
      show("game");
      gameView = new GameView(match[1], conn, { me: session.user, invite: inviteFromHash(hash), onLeave: () => { location.hash = "#/"; } });
      return await gameView.start();
    }
    return await loadHome();
  } catch (err) {
    if (err.status === 401) { session.clear(); return showAuth("Your session has ended: please sign in again."); }
    const target = match ? "game-error" : "home-error";
    showError(target, err);
  }
}

window.addEventListener("hashchange", route);
route();
