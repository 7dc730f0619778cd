// A player's page: rating, results per board, the latest finished games, and the rating
// history as a small line chart.
import { api } from "../api.js";
import { h, s } from "../dom.js";
import { BOARD_NAMES } from "./lobby.js";

const RESULT_WORDS = { win: "Won", draw: "Drew", loss: "Lost" };
const ORDINALS = ["", "1st", "2nd", "3rd", "4th"];

export async function renderPlayer(root, userId) {
  root.replaceChildren(h("p", { text: "Loading…" }));
  const data = await api("GET", `/api/users/${encodeURIComponent(userId)}`);
  const user = data.user;
  const stats = data.stats || {};
  const history = (data.ratingHistory || []).slice().reverse(); // oldest first
  root.replaceChildren(
    h("h1", { id: "player-title", text: user.username }),
    h("dl", { class: "stats-grid" }, [
      h("dt", { text: "Rating" }), h("dd", { text: Math.round(user.rating) }),
      h("dt", { text: "Games" }), h("dd", { text: stats.gamesPlayed ?? user.gamesPlayed }),
      h("dt", { text: "Rated games" }), h("dd", { text: stats.ratedGames ?? user.ratedGames }),
      h("dt", { text: "Won / lost / drawn" }), h("dd", { text: `${user.wins} / ${user.losses} / ${user.draws}` }),
      h("dt", { text: "Win rate" }), h("dd", { text: `${Math.round((stats.winRate || 0) * 100)} %` }),
    ]),
    h("h2", { text: "Results by board" }),
    boardTable(data.byBoard || []),
    h("h2", { text: "Recent games" }),
    recentList(data.recentGames || []),
    h("h2", { text: "Rating history" }),
    history.length ? chart(history) : h("p", { text: "No rated games yet." }),
    history.length ? h("ol", { class: "list history", reversed: true }, history.slice().reverse().map((r) => h("li", {}, [
      h("a", { href: `#/game/${r.gameId}` }, [new Date(r.createdAt).toLocaleDateString()]),
      ` ${Math.round(r.ratingBefore)} → ${Math.round(r.ratingAfter)} (${r.delta >= 0 ? "+" : ""}${Math.round(r.delta)})`,
    ]))) : null,
  );
}

function boardName(boardType, players) {
  return `${BOARD_NAMES[boardType] || boardType}, ${players} players`;
}

function percent(rate) {
  return `${Math.round(rate * 100)} %`;
}

/** Won / drawn / lost per board and player count, most played first. */
function boardTable(rows) {
  if (!rows.length) return h("p", { text: "No finished games yet." });
  const head = ["Board", "Games", "Won", "Drawn", "Lost", "Win %"];
  return h("div", { class: "table-scroll" }, [h("table", { class: "board-results" }, [
    h("thead", {}, [h("tr", {}, head.map((text) => h("th", { scope: "col", text })))]),
    h("tbody", {}, rows.map((r) => h("tr", {}, [
      h("th", { scope: "row", text: boardName(r.boardType, r.maxPlayers) }),
      h("td", { text: r.games }), h("td", { text: r.wins }), h("td", { text: r.draws }),
      h("td", { text: r.losses }), h("td", { text: percent(r.winRate) }),
    ]))),
  ])]);
}

function opponentName(o) {
  if (o.aiLevel !== null && o.aiLevel !== undefined) return `AI level ${o.aiLevel}`;
  return o.username || "a deleted account";
}

/** The latest finished public games: board, result in words, opponents, rating change. */
function recentList(games) {
  if (!games.length) return h("p", { text: "No finished public games yet." });
  return h("ol", { class: "list recent-games" }, games.map((g) => {
    const place = g.maxPlayers > 2 ? ` (${ORDINALS[g.rank] || g.rank} of ${g.maxPlayers})` : "";
    const change = g.ratingDelta === null ? (g.isRated ? "rated" : "casual")
      : `rated ${g.ratingDelta >= 0 ? "+" : ""}${Math.round(g.ratingDelta)}`;
    return h("li", {}, [
      h("a", { href: `#/game/${g.gameId}` }, [boardName(g.boardType, g.maxPlayers)]),
      h("strong", { class: `result-${g.result}`, text: `${RESULT_WORDS[g.result] || g.result}${place}` }),
      h("span", { text: `vs ${g.opponents.map(opponentName).join(", ")}` }),
      h("small", { text: `${change}${g.endedAt ? ` · ${new Date(g.endedAt).toLocaleDateString()}` : ""}` }),
    ]);
  }));
}

function chart(history) {
  const points = [history[0].ratingBefore, ...history.map((r) => r.ratingAfter)];
  const lo = Math.min(...points) - 10, hi = Math.max(...points) + 10;
  const w = 400, hgt = 120;
  const xy = points.map((v, i) => [points.length === 1 ? w / 2 : (i / (points.length - 1)) * w, hgt - ((v - lo) / (hi - lo)) * hgt]);
  const svg = s("svg", {
    class: "rating-chart", viewBox: `-30 -10 ${w + 40} ${hgt + 20}`, role: "img",
    "aria-label": `Rating from ${Math.round(points[0])} to ${Math.round(points[points.length - 1])} over ${history.length} rated games`,
  });
  svg.append(
    s("text", { x: -4, y: 4, "text-anchor": "end", class: "coord", "font-size": 10 }, [String(Math.round(hi))]),
    s("text", { x: -4, y: hgt, "text-anchor": "end", class: "coord", "font-size": 10 }, [String(Math.round(lo))]),
    s("polyline", { points: xy.map((p) => p.map((v) => v.toFixed(1)).join(",")).join(" "), fill: "none", stroke: "var(--accent)", "stroke-width": 2 }),
  );
  for (const [x, y] of xy) svg.append(s("circle", { cx: x, cy: y, r: 3, fill: "var(--accent)" }));
  return svg;
}
