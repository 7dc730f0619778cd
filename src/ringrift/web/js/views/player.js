// A player's page: rating, results, and the rating history as a small line chart.
import { api } from "../api.js";
import { h, s } from "../dom.js";

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
    h("h2", { text: "Rating history" }),
    history.length ? chart(history) : h("p", { text: "No rated games yet." }),
    history.length ? h("ol", { class: "list history", reversed: true }, history.slice().reverse().map((r) => h("li", {}, [
      h("a", { href: `#/game/${r.gameId}` }, [new Date(r.createdAt).toLocaleDateString()]),
      ` ${Math.round(r.ratingBefore)} → ${Math.round(r.ratingAfter)} (${r.delta >= 0 ? "+" : ""}${Math.round(r.delta)})`,
    ]))) : null,
  );
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
