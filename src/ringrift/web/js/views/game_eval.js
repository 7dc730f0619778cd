// "Evaluation" on the game page: the AI's view of the position shown (live or in replay) of a
// finished game, or of an unrated game, from GET /api/games/{id}/analysis. Rated games in play
// are refused by the server; the button is not offered there.
import { api } from "../api.js";
import { $, h } from "../dom.js";
import { plain } from "../messages.js";
import { PLAYER } from "../players.js";
import { evaluationView } from "./evaluation.js";
import { realMoves } from "./movelist.js";

const LEVEL = 5;

/**
 * A practice game: unrated, and every seat but one is an AI. Only there does the server give
 * engine help (hint, live evaluation) while the game is played: none against people.
 */
export function practiceGame(meta) {
  return Boolean(meta) && !meta.isRated && meta.seats.filter((s) => !s.isAi).length <= 1;
}

/**
 * Whether the server analyses this game now (finished, or a practice game in play); the box
 * `boxId` is hidden where it does not, or where it still shows another game.
 */
export function analysisOffered(view, status, boxId) {
  const open = status === "completed" || (status === "active" && practiceGame(view.meta));
  const box = $(boxId);
  if (box && (!open || box.dataset.game !== view.gameId)) box.hidden = true;
  return open;
}

/** The button for the actions box, or null where the server would refuse. */
export function evaluationButton(view, status) {
  if (!analysisOffered(view, status, "game-eval")) return null;
  return h("button", { type: "button", class: "secondary", id: "game-eval-button", onclick: () => show(view) }, ["Evaluation"]);
}

async function show(view) {
  const box = ensureBox();
  const v = view.replayAt ?? view.model.v;
  box.dataset.game = view.gameId;
  box.hidden = false;
  box.replaceChildren(h("p", { text: "The AI is looking at the position…" }));
  try {
    const data = await api("GET", `/api/games/${view.gameId}/analysis?v=${v}&level=${LEVEL}&top=3`);
    if (view.closed) return;
    const name = (n) => (n === view.model.yourSeat ? `You (${PLAYER[n].name})` : view.seatName(n));
    evaluationView(box, data, name, view.labeler());
    box.querySelector("h2").textContent = `Evaluation after move ${realMoves(view.model.history, data.moveNumber)}`;
  } catch (err) {
    box.replaceChildren(h("p", { class: "error", text: plain(err.code, err.message) }));
  }
}

function ensureBox() {
  let box = $("game-eval");
  if (!box) {
    box = h("div", { id: "game-eval", class: "eval-box", role: "status", hidden: true });
    $("actions").after(box);
  }
  return box;
}
