// The rematch box of a finished game (container #rematch, in the result dialog). Seated players
// offer a rematch, accept or decline somebody's offer, or withdraw their own; offers, declines
// and the new game arrive as socket frames ({t: "rematch"}) and, after a reload, in the game's
// JSON (meta.rematch). When the new game exists every seated player is taken to it.
import { api } from "../api.js";
import { $, clear, h } from "../dom.js";
import { plain } from "../messages.js";

const PLAIN = {
  REMATCH_DECLINED: "The rematch was declined.",
  REMATCH_ALREADY_ACCEPTED: "You already accepted: waiting for the others.",
  REMATCH_UNAVAILABLE: "A rematch is possible once the game has finished.",
};

export class RematchPanel {
  constructor(view, conn) {
    this.view = view;
    this.offer = null; // {status, offeredBy, accepted, declinedBy, newGameId} or null
    this.error = "";
    this.busy = false;
    this.gone = false;
    $("rematch").hidden = true;
    this.offFrame = conn.onFrame((frame) => {
      if (frame.t === "rematch" && frame.d && frame.d.gameId === view.gameId) this.adopt(frame.d, true);
    });
  }

  close() {
    this.gone = true;
    this.offFrame();
  }

  mySeat() {
    const meta = this.view.meta;
    const me = this.view.me;
    return meta && me ? meta.seats.find((s) => s.userId === me.id && !s.isAi) : null;
  }

  name(userId) {
    const meta = this.view.meta;
    if (this.view.me && userId === this.view.me.id) return "You";
    const seat = meta && meta.seats.find((s) => s.userId === userId);
    return (seat && seat.username) || "A player";
  }

  /** A newer view of the offer (a socket frame, a REST answer or the game JSON). */
  adopt(offer, live) {
    if (this.gone || !offer) return;
    this.offer = offer;
    this.error = "";
    if (offer.status === "created" && offer.newGameId && this.mySeat()) {
      location.hash = `#/game/${offer.newGameId}`;
      return;
    }
    // Somebody else's offer or decline: bring the result box back if it was put away.
    if (live && this.mySeat() && offer.status !== "created") $("result").hidden = false;
    this.render();
  }

  async send(method) {
    if (this.busy) return;
    this.busy = true;
    this.error = "";
    this.render();
    try {
      const data = await api(method, `/api/games/${this.view.gameId}/rematch`);
      this.busy = false;
      this.adopt(data.rematch, false);
    } catch (err) {
      this.busy = false;
      if (err.code === "REMATCH_ALREADY_CREATED" && err.details && err.details.newGameId) {
        location.hash = `#/game/${err.details.newGameId}`;
        return;
      }
      this.error = PLAIN[err.code] || plain(err.code, err.message);
      this.view.reloadMeta();
    }
    this.render();
  }

  render() {
    const box = $("rematch");
    const meta = this.view.meta;
    const status = this.view.model.status || (meta && meta.status);
    if (!this.offer && meta && meta.rematch) this.offer = meta.rematch;
    if (status !== "completed" || !this.mySeat()) { box.hidden = true; return; }
    box.hidden = false;
    const me = this.view.me.id;
    const offer = this.offer;
    const parts = [];
    const button = (label, id, method, secondary) => h("button", {
      type: "button", id, class: secondary ? "secondary" : undefined, disabled: this.busy, onclick: () => this.send(method),
    }, [label]);
    if (!offer) {
      parts.push(button("Rematch", "rematch-offer", "POST", false));
    } else if (offer.status === "open" && offer.accepted.includes(me)) {
      const waiting = (meta.seats || []).filter((s) => !s.isAi && s.userId && !offer.accepted.includes(s.userId)).map((s) => s.username || "a player");
      parts.push(
        h("p", { id: "rematch-text", text: `Rematch offered: waiting for ${waiting.join(", ") || "the others"}.` }),
        button("Withdraw", "rematch-withdraw", "DELETE", true),
      );
    } else if (offer.status === "open") {
      parts.push(
        h("p", { id: "rematch-text", text: `${this.name(offer.offeredBy)} offers a rematch.` }),
        h("div", { class: "actions" }, [
          button("Accept", "rematch-accept", "POST", false),
          button("Decline", "rematch-decline", "DELETE", true),
        ]),
      );
    } else if (offer.status === "declined") {
      const who = this.name(offer.declinedBy);
      const text = offer.declinedBy === offer.offeredBy ? `${who} withdrew the rematch offer.` : `${who} declined the rematch.`;
      parts.push(h("p", { id: "rematch-text", text }));
    } else {
      parts.push(h("p", { id: "rematch-text" }, [
        "The rematch has started: ",
        h("a", { href: `#/game/${offer.newGameId}` }, ["open it"]),
      ]));
    }
    if (this.error) parts.push(h("p", { class: "error", role: "alert", text: this.error }));
    clear(box).append(...parts);
  }
}
