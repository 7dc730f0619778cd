// Seat presence on the game page: a dot per player (connected or not), the "Opponent left"
// banner with its countdown, "Claim victory" once the grace is over (2 players), and "Abort"
// in place of "Resign…" while some seat has not moved yet. Fed by the game JSON's `presence`,
// `state` frames (their `presence`) and `presence` frames; the server decides everything again
// when a button is pressed.
import { api } from "../api.js";
import { $, clear, h } from "../dom.js";

/** m:ss for a countdown (never negative). */
export function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

/** Whether a game may still be aborted: active, and some seat has not moved yet. */
export function abortable(status, state) {
  if (status !== "active" || !state || !Array.isArray(state.playersMoved)) return false;
  return state.playersMoved.length < state.players.length;
}

export class PresenceView {
  /**
   * @param {string} gameId
   * @param {{onChange: () => void, onEnded: () => void, onError: (err: any) => void}} hooks
   */
  constructor(gameId, hooks) {
    this.gameId = gameId;
    this.hooks = hooks;
    this.seats = new Map(); // seat -> {online, since, claimableAt, stamp (server ms of the news)}
    this.offset = 0; // server clock - our clock, in ms
    this.busy = false;
    this.ctx = null; // what the last render knew: {mySeat, status, players, name}
    this.timer = setInterval(() => this.tick(), 1000);
  }

  close() {
    clearInterval(this.timer);
    const banner = $("presence-banner");
    if (banner) { clear(banner); banner.hidden = true; }
  }

  /**
   * Take a presence list (game JSON or state frame); null means "not tracked here".
   * `asOf` is the server time the list is known to be at least as new as: a state frame's
   * `serverTime`, or for the game JSON the moment its request was sent. A seat told about by a
   * newer frame keeps what that frame said, so a GET that was on its way while an opponent
   * left cannot bring them back online.
   */
  adopt(list, { serverTime, asOf } = {}) {
    if (typeof serverTime === "number") this.offset = serverTime - Date.now();
    if (!Array.isArray(list)) return;
    const stamp = typeof serverTime === "number" ? serverTime : asOf ?? 0;
    for (const p of list) {
      const prev = this.seats.get(p.seat);
      if (prev && prev.stamp > stamp) continue;
      // The game JSON does not carry claimableAt: keep the one a frame gave for the same absence.
      const claimableAt = p.claimableAt !== undefined ? p.claimableAt
        : prev && !prev.online && !p.online && prev.since === (p.since ?? null) ? prev.claimableAt : null;
      this.seats.set(p.seat, { online: p.online, since: p.since ?? null, claimableAt, stamp });
    }
  }

  handleFrame(frame) {
    const d = frame.d || {};
    if (d.gameId !== this.gameId) return;
    if (frame.t === "presence") {
      if (typeof d.serverTime === "number") this.offset = d.serverTime - Date.now();
      const stamp = typeof d.serverTime === "number" ? d.serverTime : this.now();
      this.seats.set(d.seat, { online: d.online, since: d.since ?? null, claimableAt: d.claimableAt ?? null, stamp });
      this.hooks.onChange();
    } else if (frame.t === "state" && Array.isArray(d.presence)) {
      this.adopt(d.presence, { serverTime: d.serverTime });
      this.hooks.onChange();
    }
  }

  /** The dot next to a player's name; null for seats whose presence is not tracked (AI, untimed). */
  dot(seat) {
    const p = this.seats.get(seat);
    if (!p) return null;
    const label = p.online ? "online" : "offline";
    return h("span", { class: `presence-dot ${label}`, role: "img", "aria-label": label, title: label });
  }

  /** A word after an offline player's name (the dot alone is easy to miss). */
  note(seat) {
    const p = this.seats.get(seat);
    return p && !p.online ? h("small", { class: "presence-note", text: "offline" }) : null;
  }

  now() { return Date.now() + this.offset; }

  /** Opponents who are away (a seat of mine and seats that left the game excluded). */
  away(mySeat, withdrawn = []) {
    return [...this.seats.entries()].filter(([seat, p]) => seat !== mySeat && !p.online && !withdrawn.includes(seat));
  }

  /**
   * Draw the banner under the turn line.
   * @param {{mySeat: number|null, status: string, players: number, withdrawn: number[], name: (n: number) => string}} ctx
   */
  render(ctx) {
    this.ctx = ctx;
    const banner = $("presence-banner");
    if (!banner) return;
    const gone = ctx.status === "active" ? this.away(ctx.mySeat, ctx.withdrawn) : [];
    if (!gone.length) { clear(banner); banner.hidden = true; this.said = null; return; }
    const [seat, p] = gone[0];
    const left = p.claimableAt === null ? null : p.claimableAt - this.now();
    const who = ctx.players === 2 && ctx.mySeat ? "Opponent" : ctx.name(seat);
    const text = h("span", { class: "presence-text" });
    const parts = [];
    if (!ctx.mySeat) parts.push(`${who} is offline.`);
    else if (ctx.players === 2) {
      if (left === null) parts.push(`${who} left.`);
      else if (left > 0) parts.push(`${who} left — you can claim the win in ${countdown(left)}`);
      else parts.push(`${who} left — you can claim the win now.`);
    } else if (left !== null && left > 0) {
      parts.push(`${who} left — they leave the game in ${countdown(left)} unless they come back.`);
    } else {
      parts.push(`${who} left — they are being withdrawn from the game.`);
    }
    text.textContent = parts.join(" ");
    const children = [text];
    if (ctx.mySeat && ctx.players === 2 && left !== null && left <= 0) {
      children.push(h("button", { type: "button", id: "claim-victory", disabled: this.busy, onclick: () => this.claim() }, ["Claim victory"]));
    }
    // The countdown is not a live region (it would be read out every second); the moments
    // that matter are said once through the page's announcer.
    const first = parts[0].split(" — ")[0].replace(/\.?$/, ".");
    const said = `${first}${children.length > 1 ? " You can claim the win now." : ""}`;
    if (said !== this.said) {
      this.said = said;
      if ($("announce")) $("announce").textContent = said;
    }
    const hadFocus = banner.contains(document.activeElement);
    banner.replaceChildren(...children);
    banner.hidden = false;
    if (hadFocus && $("claim-victory")) $("claim-victory").focus();
  }

  tick() {
    if (this.ctx && this.away(this.ctx.mySeat, this.ctx.withdrawn).length) this.render(this.ctx);
  }

  async claim() {
    this.busy = true;
    try {
      await api("POST", `/api/games/${this.gameId}/claim-victory`);
      this.hooks.onEnded();
    } catch (err) { this.hooks.onError(err); } finally { this.busy = false; }
  }

  /** The "Abort" button that stands in for "Resign…" while some seat has not moved yet. */
  abortButton() {
    return h("button", {
      type: "button", class: "secondary", id: "abort",
      title: "End the game without a result: allowed until every player has moved",
      onclick: () => this.abort(),
    }, ["Abort"]);
  }

  async abort() {
    try {
      await api("POST", `/api/games/${this.gameId}/abort`, {});
      this.hooks.onEnded();
    } catch (err) { this.hooks.onError(err); }
  }
}
