// The result of a game in words: the title ("You won", "Blue won", "Game aborted"), why it ended,
// the rating changes, and the dialog that opens once when a game ends while it is watched live.
import { $, clear, h } from "../dom.js";
import { sound } from "../sound.js";

const REASONS = {
  ring_elimination: "by eliminating enough rings",
  territory_control: "by controlling enough territory",
  last_player_standing: "as the last player able to move",
  stalemate: "on the tie-break when nobody could move",
  resignation: "by resignation",
  timeout: "on time",
  abandoned: "because the opponent left the game",
};

const ABORTED = "The game was aborted before every player had moved: it does not count and no rating changed.";

/** Ends that the server records itself; any other end is named by the rules' victory reason. */
const SERVER_ENDS = new Set(["resignation", "timeout", "abandoned"]);

function aborted(model) {
  return model.status === "cancelled" && model.endReason === "aborted";
}

/**
 * The headline of an ended game for the one looking at it.
 * @param {{status: string, endReason: string|null, winner: number|null, yourSeat: number|null}} model
 * @param {(seat: number) => string} seatName
 */
export function resultTitle(model, seatName) {
  if (model.status === "cancelled") return aborted(model) ? "Game aborted" : "Game cancelled";
  const w = model.winner;
  if (!w) return "Nobody won";
  if (model.yourSeat) return w === model.yourSeat ? "You won" : "You lost";
  return `${seatName(w)} won`;
}

/** Why the game ended, as a sentence. */
export function resultReason(model, seatName) {
  if (aborted(model)) return ABORTED;
  const key = SERVER_ENDS.has(model.endReason) ? model.endReason : (model.state.victoryReason || model.endReason);
  const w = model.winner;
  if (key === "timeout" && model.yourSeat && w !== model.yourSeat) return "You lost on time.";
  if (!w) return "The game is over.";
  return `${w === model.yourSeat ? "You" : seatName(w)} won ${REASONS[key] || "the game"}.`;
}

export class ResultDialog {
  constructor() {
    this.shownFor = null; // the game whose result already opened the dialog
    $("result").hidden = true;
    $("result-review").onclick = () => { $("result").hidden = true; $("movelist").focus(); };
  }

  /**
   * Fill the dialog; open it the first time a game's end is seen live (not while replaying).
   * @param {{gameId: string, model: any, seats: any[], seatName: (n: number) => string, live: boolean}} ctx
   */
  render({ gameId, model, seats, seatName, live }) {
    const box = $("result");
    if (model.status !== "completed" && !aborted(model)) { box.hidden = true; return; }
    $("result-title").textContent = resultTitle(model, seatName);
    $("result-reason").textContent = resultReason(model, seatName);
    const ratings = clear($("result-ratings"));
    for (const seat of seats) {
      if (seat.ratingBefore == null || seat.ratingAfter == null) continue;
      const before = Math.round(seat.ratingBefore);
      const after = Math.round(seat.ratingAfter);
      const d = Math.round(seat.ratingAfter - seat.ratingBefore);
      ratings.append(h("li", { text: `${seatName(seat.seat)}: rating ${before} → ${after} (${d >= 0 ? "+" : ""}${d})` }));
    }
    if (this.shownFor !== gameId && live) {
      this.shownFor = gameId;
      box.hidden = false;
      $("result-review").focus();
      sound.play("end");
    }
  }
}
