// The move list beside the board and the replay steps it offers: one line per real move (passes,
// the bookkeeping moves, are positions too but get no line), the line of the position shown
// marked, and where "back", "forward", "start" and "now" lead.
import { clear, h } from "../dom.js";
import { BOOKKEEPING } from "../model.js";
import { notation, sentence } from "../notation.js";
import { swatch } from "../players.js";

function real(rec) {
  return !BOOKKEEPING.has(rec && rec.move && rec.move.type);
}

/** The versions worth stopping at: the start, after each real move, and now (`v`). */
export function stops(history, v) {
  const out = [0];
  history.forEach((rec, i) => { if (real(rec)) out.push(i + 1); });
  if (out[out.length - 1] !== v) out.push(v);
  return out;
}

/** How many real moves lead to version n: the number the move list shows. */
export function realMoves(history, n) {
  return history.slice(0, n).filter(real).length;
}

/** The version `where` ("first", "prev", "next", "last") leads to from version `cur`. */
export function navTarget(where, cur, history, v) {
  const at = stops(history, v);
  let target = cur;
  if (where === "first") target = 0;
  else if (where === "last") target = v;
  else if (where === "prev") target = [...at].reverse().find((n) => n < cur) ?? 0;
  else target = at.find((n) => n > cur) ?? v;
  return Math.max(0, Math.min(v, target));
}

/**
 * Draw the list (rebuilt only when the history grew) and mark the position shown.
 * @param {HTMLElement} list the <ol>
 * @param {{history: any[], v: number, current: number, live: boolean, labeler: any,
 *          yourSeat: number|null, seatName: (n: number) => string}} ctx
 * @returns {string} what the replay line says: "live" or "move 3 of 12"
 */
export function renderMoveList(list, { history, v, current, live, labeler, yourSeat, seatName }) {
  if (Number(list.dataset.count) !== history.length) {
    clear(list);
    history.forEach((rec, i) => {
      if (!real(rec)) return;
      const who = rec.player || (rec.move && rec.move.player);
      // A seat leaving the game (F-30) is said in words: "Blue ran out of time."
      const text = rec.move && rec.move.type === "withdraw"
        ? sentence(rec.move, labeler, who === yourSeat ? "You" : seatName(who))
        : notation(rec.move, labeler);
      list.append(h("li", { "data-v": i + 1 }, [swatch(who, 12), " ", text]));
    });
    list.dataset.count = String(history.length);
  }
  let shown = null;
  for (const li of list.children) if (Number(li.dataset.v) <= current) shown = li;
  for (const li of list.children) {
    li.classList.toggle("at", li === shown);
    if (li === shown) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
  }
  // Scroll the list only (scrollIntoView would scroll the page too, e.g. on a phone).
  if (shown) list.scrollTop = Math.max(0, shown.offsetTop - list.clientHeight + shown.offsetHeight * 2);
  return live ? "live" : `move ${realMoves(history, current)} of ${realMoves(history, v)}`;
}
