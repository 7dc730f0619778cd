// The AI's evaluation of a position in plain words (POST /api/analysis): a bar per seat and a
// sentence such as "Red is better". The bar shows the analysis' winChance, which squashes the
// AI's evaluation into 0-100 %: a rough guide, not a measured chance of winning (docs/server.md).
// With 3-4 seats the bars are shares that add up to 100 % (seatShares).
import { clear, h } from "../dom.js";
import { notation } from "../notation.js";
import { PLAYER, swatch } from "../players.js";

const WON = 1000; // the evaluation of a decided game

/** One sentence for the evaluation: who is ahead and by how much, in words. */
export function verdict(analysis, name) {
  const seats = [...analysis.seats].sort((a, b) => b.evaluation - a.evaluation);
  const lead = seats[0];
  const e = lead.evaluation;
  if (analysis.playerToMove == null) return e >= WON ? `${name(lead.player)} won.` : "The game is over.";
  const who = name(lead.player);
  const is = who.startsWith("You") ? "are" : "is";
  if (e >= WON) return `${who} can force a win.`;
  if (e < 0.3) return "The position is about even.";
  if (e < 1.5) return `${who} ${is} slightly better.`;
  if (e < 4) return `${who} ${is} better.`;
  return `${who} ${is} clearly winning.`;
}

/**
 * Whole percentages of the seats' winChance that add up to 100 (largest remainders get the
 * spare points). With two seats the chances already add up to 1; with three or four they need
 * not (each is the seat against its strongest rival), and a player reading "48 %, 52 %, 48 %"
 * would rightly be puzzled, so they are shown as shares of the whole.
 */
export function seatShares(seats) {
  const raw = seats.map((s) => Math.max(0, s.winChance));
  const total = raw.reduce((a, b) => a + b, 0);
  const exact = raw.map((v) => (total > 0 ? (v / total) * 100 : 100 / seats.length));
  const shares = exact.map(Math.floor);
  let spare = 100 - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((v, i) => [v - Math.floor(v), i]).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
  for (const [, i] of order) {
    if (spare <= 0) break;
    shares[i] += 1;
    spare -= 1;
  }
  return shares;
}

/** Fill ``box`` with the bar(s), the sentence and the details. */
export function evaluationView(box, analysis, name, at) {
  clear(box);
  box.hidden = false;
  box.append(h("h2", { text: "Evaluation" }), h("p", { class: "eval-verdict", text: verdict(analysis, name) }));
  const two = analysis.seats.length === 2;
  if (two) {
    const [a, b] = analysis.seats;
    const share = Math.round(a.winChance * 100);
    box.append(h("div", { class: "eval-bar", "aria-hidden": "true" }, [
      h("span", { class: "eval-fill" }),
    ]));
    const fill = box.querySelector(".eval-fill");
    fill.style.width = `${share}%`;
    fill.style.background = PLAYER[a.player].color;
    box.querySelector(".eval-bar").style.background = PLAYER[b.player].color;
    box.append(h("p", { class: "eval-legend" }, [
      swatch(a.player, 12), ` ${name(a.player)} ${share}% · `, swatch(b.player, 12), ` ${name(b.player)} ${100 - share}%`,
    ]));
  } else {
    const list = h("ul", { class: "eval-seats" });
    const shares = seatShares(analysis.seats);
    for (const [i, seat] of analysis.seats.entries()) {
      const pct = shares[i];
      const bar = h("span", { class: "eval-bar small", "aria-hidden": "true" }, [h("span", { class: "eval-fill" })]);
      bar.firstChild.style.width = `${pct}%`;
      bar.firstChild.style.background = PLAYER[seat.player].color;
      list.append(h("li", {}, [swatch(seat.player, 12), ` ${name(seat.player)}: ${pct}% `, bar]));
    }
    box.append(list);
  }
  const best = analysis.topMoves[0];
  const details = [`AI level ${analysis.level}, ${analysis.depth} ${analysis.depth === 1 ? "move" : "moves"} deep`];
  if (best) details.push(`its choice: ${notation(best.move, at)}`);
  box.append(h("p", { class: "eval-details", text: `${details.join("; ")}.` }));
  box.append(h("p", { class: "eval-note", text: "The percentages are a rough guide drawn from the AI's evaluation, not a measured chance of winning." }));
}
