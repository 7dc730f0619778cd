// The leaderboard (#/leaderboard, #/leaderboard?board=hex8&players=2): the global rating of
// every ranked player, or only the players of one kind of game with their games and wins of
// that kind (ratings are global: one Elo per player, see docs/server.md).
import { api } from "../api.js";
import { $, clear, h } from "../dom.js";
import { BOARD_NAMES } from "./lobby.js";

const BOARDS = Object.keys(BOARD_NAMES);
const PLAYERS = ["2", "3", "4"];

/** The filter in the address (#/leaderboard?board=..&players=..), unknown values dropped. */
function filterOf(hash) {
  const query = new URLSearchParams(hash.split("?")[1] || "");
  const board = query.get("board");
  const players = query.get("players");
  return { board: BOARDS.includes(board) ? board : "", players: PLAYERS.includes(players) ? players : "" };
}

function hashOf(filter) {
  const query = new URLSearchParams();
  if (filter.board) query.set("board", filter.board);
  if (filter.players) query.set("players", filter.players);
  const text = query.toString();
  return text ? `#/leaderboard?${text}` : "#/leaderboard";
}

let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  const form = $("ladder-filter");
  form.addEventListener("change", () => {
    const filter = { board: form.elements.board.value, players: form.elements.players.value };
    location.hash = hashOf(filter); // the route draws it; back and forward keep the filter
  });
  form.addEventListener("submit", (e) => e.preventDefault());
}

export async function renderLeaderboard(hash) {
  wire();
  const filter = filterOf(hash);
  const form = $("ladder-filter");
  form.elements.board.value = filter.board;
  form.elements.players.value = filter.players;
  const query = new URLSearchParams({ limit: "50" });
  if (filter.board) query.set("board", filter.board);
  if (filter.players) query.set("players", filter.players);
  const data = await api("GET", `/api/leaderboard?${query}`);
  const filtered = Boolean(filter.board || filter.players);
  const kind = [filter.board ? BOARD_NAMES[filter.board] : "", filter.players ? `${filter.players} players` : ""].filter(Boolean).join(", ");
  $("ladder-kind").textContent = filtered ? `Players of ${kind}, by their overall rating` : "All rated players";
  $("ladder-games-head").textContent = filtered ? "Games here" : "Games";
  $("ladder-wins-head").hidden = !filtered;
  const entries = data.entries || [];
  clear($("ladder")).append(...(entries.length ? entries.map((p, i) => h("tr", {}, [
    h("td", { text: p.rank || i + 1 }),
    h("td", {}, [h("a", { href: `#/player/${p.id}` }, [p.username])]),
    h("td", { text: Math.round(p.rating) }),
    h("td", { text: filtered ? p.kindGames : p.gamesPlayed ?? "" }),
    filtered ? h("td", { text: p.kindWins }) : null,
  ])) : [h("tr", {}, [h("td", { colspan: filtered ? 5 : 4, text: filtered ? "No rated games of this kind yet." : "No rated games yet." })])]));
}
