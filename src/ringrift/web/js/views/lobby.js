// The live lobby: the Play page's "Open games" and the Watch page's games in play, kept up to
// date by the socket. `lobby {}` asks for a snapshot (frame `lobby`), after which `lobbyDelta`
// frames carry only the games that changed. REST (`GET /api/lobby`, `GET /api/games/live`) fills
// the lists only when a page opens or the socket (re)connects, until the snapshot arrives; a
// signed-out visitor of the Watch page gets that REST list alone.
import { api, session } from "../api.js";
import { $, h, keyed } from "../dom.js";
import { plain } from "../messages.js";

export const BOARD_NAMES = { square8: "Square 8×8", square19: "Square 19×19", hex8: "Hex 61", hexagonal: "Hex 469" };
const SHOWN = 50;

function boardText(g) {
  return `${BOARD_NAMES[g.boardType] || g.boardType}, ${g.maxPlayers} players`;
}

function tcText(tc) {
  if (!tc) return "untimed";
  if (tc.label) return tc.label;
  if (tc.kind === "fischer") return `${Math.round(tc.initialSeconds / 60)}+${tc.incrementSeconds}`;
  if (tc.kind === "correspondence") return `${tc.daysPerMove} d/move`;
  return "untimed";
}

function playerText(p) {
  if (p.isAi) return `AI level ${p.aiLevel}`;
  const name = p.username || "player";
  return p.rating !== null && p.rating !== undefined ? `${name} (${Math.round(p.rating)})` : name;
}

function sinceText(iso) {
  if (!iso) return "";
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
  return minutes < 1 ? "just started" : `${minutes} min`;
}

export class LiveLobby {
  /** conn: the page's socket (socket.js). onError(err) shows an error on the current page. */
  constructor(conn, { onError } = {}) {
    this.conn = conn;
    this.onError = onError || (() => {});
    this.open = new Map();
    this.live = new Map();
    this.seq = -1;
    this.page = null; // "home" | "watch" | null
    this.subscribed = false;
    this.synced = false; // the socket's snapshot arrived since the last (re)subscription
    conn.onFrame((frame) => this.onFrame(frame));
    conn.onStatus((status) => {
      if (status !== "open") { this.subscribed = false; return; }
      if (this.page) { this.subscribe(); this.fetch(); }
    });
  }

  /** Show the lists of a page ("home" or "watch"): REST at once, then the socket. */
  async show(page) {
    this.page = page;
    this.render();
    if (session.token && this.conn.status === "open") this.subscribe();
    await this.fetch();
  }

  /** Leaving the page: stop the socket's lobby frames. */
  hide() {
    if (this.subscribed && this.conn.status === "open") this.conn.send("lobby", { watch: false });
    this.subscribed = false;
    this.synced = false;
    this.page = null;
  }

  subscribe() {
    this.synced = false;
    this.subscribed = this.conn.send("lobby", {});
  }

  async fetch() {
    const page = this.page;
    try {
      const [open, live] = await Promise.all([
        api("GET", `/api/lobby?limit=${SHOWN}`),
        api("GET", `/api/games/live?limit=${SHOWN}`),
      ]);
      if (this.synced || this.page !== page) return; // the socket's snapshot is newer
      this.open = new Map((open.games || []).map((g) => [g.id, g]));
      this.live = new Map((live.games || []).map((g) => [g.id, g]));
      this.render();
    } catch (err) { this.onError(err); }
  }

  onFrame(frame) {
    const d = frame.d || {};
    if (frame.t === "lobby") {
      this.seq = d.seq;
      this.synced = true;
      this.open = new Map((d.open || []).map((g) => [g.id, g]));
      this.live = new Map((d.live || []).map((g) => [g.id, g]));
      this.render();
    } else if (frame.t === "lobbyDelta") {
      if (d.seq !== this.seq + 1) { this.subscribe(); return; } // missed one: a new snapshot
      this.seq = d.seq;
      for (const c of d.changes || []) this.apply(c);
      this.render();
    }
  }

  apply(change) {
    if (change.change === "moved") {
      const g = this.live.get(change.gameId);
      if (g) g.moveCount = change.moveCount;
      return;
    }
    this.open.delete(change.gameId);
    this.live.delete(change.gameId);
    if (change.section === "open" && change.game) this.open.set(change.gameId, change.game);
    if (change.section === "live" && change.game) this.live.set(change.gameId, change.game);
  }

  render() {
    if (this.page === "home") this.renderOpen();
    if (this.page === "watch") this.renderLive();
  }

  renderOpen() {
    const list = $("lobby");
    if (!list) return;
    const me = session.user;
    const games = [...this.open.values()]
      .filter((g) => !(g.players || []).some((p) => me && p.userId === me.id))
      .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)))
      .slice(0, SHOWN);
    if (games.length) keyed(list, games, (g) => g.id, (g) => JSON.stringify(g), (g) => this.openLine(g));
    else keyed(list, [null], () => "empty", () => "", () => h("li", { text: "No open games right now: start one." }));
    $("lobby-count").textContent = games.length === 1 ? "1 open game" : `${games.length} open games`;
  }

  openLine(g) {
    const players = (g.players || []).map(playerText).join(", ");
    const label = `Join ${boardText(g)} with ${players || "nobody yet"}`;
    return h("li", { dataset: { gameId: g.id } }, [
      h("a", { href: `#/game/${g.id}` }, [boardText(g)]),
      h("span", { text: players }),
      h("small", { text: `${tcText(g.timeControl)}${g.isRated ? ", rated" : ""}, ${g.openSeats} open` }),
      h("button", {
        type: "button",
        "aria-label": label,
        onclick: async () => {
          try { await api("POST", `/api/games/${g.id}/join`); location.hash = `#/game/${g.id}`; } catch (err) { this.onError(err); }
        },
      }, ["Join"]),
    ]);
  }

  renderLive() {
    const list = $("live-games");
    if (!list) return;
    const games = [...this.live.values()]
      .sort((a, b) => (b.averageRating ?? -1) - (a.averageRating ?? -1) || String(b.startedAt).localeCompare(String(a.startedAt)))
      .slice(0, SHOWN);
    // The "since" text ages with the clock, so it is part of the row's signature.
    if (games.length) keyed(list, games, (g) => g.id, (g) => JSON.stringify(g) + sinceText(g.startedAt), (g) => this.liveLine(g));
    else keyed(list, [null], () => "empty", () => "", () => h("li", { class: "empty", text: "No games in play right now." }));
    $("live-count").textContent = games.length === 1 ? "1 game in play" : `${games.length} games in play`;
    $("live-note").hidden = Boolean(session.token);
  }

  liveLine(g) {
    const players = (g.players || []).map(playerText).join(" vs ");
    const avg = g.averageRating !== null && g.averageRating !== undefined ? `average ${Math.round(g.averageRating)}` : "AI only";
    const moves = g.moveCount === 1 ? "1 move" : `${g.moveCount} moves`;
    return h("li", { class: "live-game", dataset: { gameId: g.id } }, [
      h("a", { href: `#/game/${g.id}`, class: "live-link", "aria-label": `Watch ${players}, ${boardText(g)}` }, [
        h("strong", { text: players }),
        h("span", { text: boardText(g) }),
      ]),
      h("span", { class: "live-meta", text: `${avg} · ${moves} · ${tcText(g.timeControl)}${g.isRated ? " · rated" : ""} · ${sinceText(g.startedAt)}` }),
    ]);
  }
}

/** The Watch page (#/watch). */
export async function showWatch(lobby) {
  $("watch-error").hidden = true;
  await lobby.show("watch");
}

export function showLobbyError(id, err) {
  const el = $(id);
  el.textContent = err ? plain(err.code, err.message) : "";
  el.hidden = !err;
}
