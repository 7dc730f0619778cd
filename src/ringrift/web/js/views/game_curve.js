// "Computer analysis" on the game page: the whole game's evaluation curve
// (GET /api/games/{id}/analysis/curve) as a graph of every seat's share of the winning chances
// after each turn, with the turning points marked and listed. A turning point (or any spot on
// the graph) opens the replay at that position. Offered where the server allows it: a finished
// game, or a practice game in play.
import { api } from "../api.js";
import { $, h, s } from "../dom.js";
import { plain } from "../messages.js";
import { PLAYER, swatch } from "../players.js";
import { analysisOffered } from "./game_eval.js";
import { realMoves } from "./movelist.js";

const W = 400; // the graph's viewBox; it scales to the box's width
const H = 150;

/** The button for the actions box, or null where the server would refuse. */
export function curveButton(view, status) {
  if (!analysisOffered(view, status, "game-curve")) return null;
  return h("button", { type: "button", class: "secondary", id: "game-curve-button", onclick: () => show(view) }, ["Computer analysis"]);
}

async function show(view) {
  const box = ensureBox();
  box.dataset.game = view.gameId;
  box.hidden = false;
  box.replaceChildren(h("h2", { text: "Computer analysis" }), h("p", { text: "The AI is going through the game…" }));
  try {
    const data = await api("GET", `/api/games/${view.gameId}/analysis/curve`);
    if (view.closed) return;
    const name = (n) => (n === view.model.yourSeat ? `You (${PLAYER[n].name})` : view.seatName(n));
    curveView(box, data, {
      name,
      moveNumber: (v) => realMoves(view.model.history, v),
      open: (v) => view.goto(v),
    });
  } catch (err) {
    box.replaceChildren(h("h2", { text: "Computer analysis" }), h("p", { class: "error", text: plain(err.code, err.message) }));
  }
}

function ensureBox() {
  let box = $("game-curve");
  if (!box) {
    box = h("section", { id: "game-curve", class: "eval-box curve-box", "aria-labelledby": "game-curve-title", hidden: true });
    ($("game-eval") || $("actions")).after(box);
  }
  return box;
}

const pct = (x) => `${Math.round(x * 100)}%`;

/**
 * The seats' shares stacked from the bottom (seat 1 lowest): one band per seat, so with two
 * seats the boundary is the first seat's chance. x runs over the points, one per turn.
 */
function bands(points, seats) {
  const x = (i) => (points.length > 1 ? (i * W) / (points.length - 1) : W / 2);
  const y = (share) => H - share * H;
  const out = [];
  for (let k = 0; k < seats; k += 1) {
    const lower = points.map((p, i) => [x(i), y(p.shares.slice(0, k).reduce((a, b) => a + b, 0))]);
    const upper = points.map((p, i) => [x(i), y(p.shares.slice(0, k + 1).reduce((a, b) => a + b, 0))]);
    const outline = [...upper, ...lower.reverse()].map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ");
    out.push(s("polygon", { points: outline, fill: PLAYER[k + 1].color, class: "curve-band", "data-seat": k + 1 }));
  }
  return { shapes: out, x };
}

/** Fill ``box`` with the graph, its legend and the turning points (buttons into the replay). */
export function curveView(box, data, { name, moveNumber, open }) {
  const points = data.points;
  const seats = points.length ? points[0].shares.length : 0;
  const title = h("h2", { id: "game-curve-title", text: "Computer analysis" });
  box.replaceChildren(title);
  if (points.length < 2) {
    box.append(h("p", { text: "Nobody has finished a turn yet: there is nothing to graph." }));
    return;
  }
  const { shapes, x } = bands(points, seats);
  const turning = data.turningPoints;
  const index = new Map(points.map((p, i) => [p.v, i]));
  const last = points[points.length - 1];
  const summary = `${points.length - 1} turns. At the end: ${last.shares.map((v, i) => `${PLAYER[i + 1].name} ${pct(v)}`).join(", ")}.`;
  const graph = s("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "curve-graph", role: "img",
    "aria-label": `Graph of every seat's winning chances after each turn. ${summary}`,
  });
  graph.append(...shapes);
  graph.append(s("line", { x1: 0, x2: W, y1: H - H / seats, y2: H - H / seats, class: "curve-even" }));
  turning.forEach((t, n) => {
    const at = x(index.get(t.v) ?? 0);
    const cx = Math.max(14, Math.min(W - 14, at)); // the numbered mark stays inside the graph
    graph.append(
      s("line", { x1: at, x2: at, y1: 0, y2: H, class: "curve-turn" }),
      s("circle", { cx, cy: 15, r: 13, class: "curve-mark" }),
      s("text", { x: cx, y: 20.5, class: "curve-mark-label", text: String(n + 1) }),
    );
  });
  // A click anywhere opens the replay at the nearest turn (the list below does it by keyboard).
  graph.addEventListener("click", (e) => {
    const r = graph.getBoundingClientRect();
    const i = Math.round(((e.clientX - r.left) / r.width) * (points.length - 1));
    open(points[Math.max(0, Math.min(points.length - 1, i))].v);
  });
  const legend = h("p", { class: "eval-legend" });
  for (let k = 1; k <= seats; k += 1) legend.append(swatch(k, 12), ` ${name(k)} `);
  box.append(graph, legend);
  box.append(h("p", { class: "eval-details", text: `Each band is a seat's share of the winning chances after every turn, as the AI judges the position; the line marks an even share. ${summary}` }));
  if (!turning.length) {
    box.append(h("p", { class: "eval-details", text: "No turning points: no single turn moved anybody's chances by 15 points or more." }));
  } else {
    box.append(h("h3", { text: "Turning points" }));
    const list = h("ol", { class: "curve-turns" });
    for (const t of turning) {
      const label = `Move ${moveNumber(t.v)}, ${name(t.mover)}'s turn: ${name(t.seat)} ${pct(t.before)} → ${pct(t.after)}`;
      list.append(h("li", {}, [h("button", { type: "button", class: "secondary", onclick: () => open(t.v) }, [swatch(t.seat, 12), ` ${label}`])]));
    }
    box.append(list);
  }
  box.append(h("p", { class: "eval-note", text: "The percentages are a rough guide drawn from the AI's evaluation, not a measured chance of winning." }));
}
