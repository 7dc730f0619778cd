// Quick pairing on the Play page: pick a pool (board, players, time-control preset, rated), wait
// in the server's queue with a long-poll that is also the heartbeat, and open the game as soon
// as the server has made it. Leaving the page or signing out cancels the wait.
import { api, session } from "../api.js";
import { $, clear, h } from "../dom.js";
import { plain } from "../messages.js";
import { BOARD_NAMES } from "./lobby.js";

const POLL_SECONDS = 20; // GET /api/matchmaking?wait=20: answers at once when a match is made
const DEFAULT_PRESET = "10+5";

const PLAIN = {
  MATCHMAKING_NOT_QUEUED: "You were no longer in the queue (the wait stopped). Try again.",
  AUTH_EMAIL_NOT_VERIFIED: "Rated pairing needs a verified email address: use the link we mailed you, or untick Rated.",
};

function say(error) {
  return PLAIN[error.code] || plain(error.code, error.message);
}

function minutes(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export class Pairing {
  /** onMatched(gameId) opens the game page. */
  constructor(onMatched) {
    this.onMatched = onMatched;
    this.run = 0; // each wait has a number: answers for an older wait are ignored
    this.waiting = false;
    this.since = 0;
    this.window = null;
    this.ticker = null;
    this.presetsLoaded = false;
    this.joining = null; // the POST of the current wait, which a cancel lets finish first
    this.polling = null; // aborts the long-poll of a wait that ended
    this.cancelling = false;
    this.form = $("pair-form");
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.find(); });
    $("pair-cancel").addEventListener("click", () => this.cancel());
    // Closing the tab or going to another site: leave the queue (keepalive outlives the page).
    window.addEventListener("pagehide", () => this.abandon());
  }

  /** Fill the presets once (GET /api/time-controls) and sync the rated box with the account. */
  async load() {
    this.syncRated();
    if (this.presetsLoaded) return;
    const { presets } = await api("GET", "/api/time-controls");
    const names = presets.map((p) => p.label);
    const chosen = names.includes(DEFAULT_PRESET) ? DEFAULT_PRESET : names[0];
    clear($("pair-presets")).append(...presets.map((p) => h("label", { class: "preset" }, [
      h("input", { type: "radio", name: "timeControl", value: p.label, checked: p.label === chosen }),
      h("span", { text: p.label }),
    ])));
    this.presetsLoaded = true;
  }

  syncRated() {
    const unverified = Boolean(session.user && session.user.emailVerified === false);
    const box = this.form.elements.rated;
    box.disabled = unverified;
    if (unverified) box.checked = false;
    $("pair-rated-note").hidden = !unverified;
  }

  body() {
    const f = this.form.elements;
    return {
      boardType: f.boardType.value,
      maxPlayers: Number(f.maxPlayers.value),
      timeControl: (this.form.querySelector("input[name=timeControl]:checked") || {}).value,
      rated: f.rated.checked,
    };
  }

  showError(error) {
    $("pair-error").textContent = error ? say(error) : "";
    $("pair-error").hidden = !error;
  }

  async find() {
    const body = this.body();
    if (!body.timeControl) { this.showError({ code: "", message: "Pick a time control first." }); return; }
    const run = ++this.run;
    this.showError(null);
    this.setWaiting(true, body);
    try {
      this.joining = api("POST", "/api/matchmaking", body);
      let ticket = (await this.joining).ticket;
      while (run === this.run) {
        this.window = ticket.ratingWindow;
        this.tick();
        if (ticket.status === "matched" && ticket.gameId) { this.matched(ticket.gameId); return; }
        ticket = await this.poll(run);
      }
    } catch (err) {
      if (run !== this.run) return; // cancelled meanwhile: that answer is for nobody
      this.setWaiting(false);
      this.showError(err);
    }
  }

  /** One long-poll; a lost connection is retried (the server keeps us for 30 s without one). */
  async poll(run) {
    for (let tries = 0; ; tries++) {
      try {
        this.polling = new AbortController();
        return (await api("GET", `/api/matchmaking?wait=${POLL_SECONDS}`, undefined, true, this.polling.signal)).ticket;
      } catch (err) {
        if (err.code !== "NETWORK" || tries >= 5 || run !== this.run) throw err;
        await new Promise((resolve) => { setTimeout(resolve, 2000); });
      }
    }
  }

  matched(gameId) {
    this.run++;
    this.setWaiting(false);
    this.onMatched(gameId);
  }

  /** The Cancel button: leave the queue; a game made just before is opened instead. */
  async cancel() {
    if (!this.waiting || this.cancelling) return;
    this.cancelling = true;
    $("pair-cancel").setAttribute("aria-disabled", "true");
    this.run++;
    // End the long-poll first: once the DELETE lands it would answer 404 (not queued).
    if (this.polling) { this.polling.abort(); this.polling = null; }
    try {
      await this.settled();
      await api("DELETE", "/api/matchmaking");
    } catch (err) {
      if (err.code === "MATCHMAKING_ALREADY_MATCHED" && err.details && err.details.gameId) {
        this.matched(err.details.gameId);
        return;
      }
      if (err.code !== "MATCHMAKING_NOT_QUEUED") this.showError(err);
    }
    this.setWaiting(false);
    $("announce").textContent = "You left the queue.";
    $("pair-find").focus();
  }

  /** Leaving the Play page or signing out: stop waiting without opening anything. */
  async stop() {
    if (!this.waiting) return;
    this.run++;
    this.setWaiting(false);
    await this.settled();
    await api("DELETE", "/api/matchmaking").catch(() => {});
  }

  /** Wait for the joining POST (if any) so a DELETE never overtakes it. */
  async settled() {
    if (this.joining) await this.joining.catch(() => {});
  }

  /** The page goes away: a request that survives it (fetch keepalive). */
  abandon() {
    if (!this.waiting || !session.token) return;
    this.run++;
    this.setWaiting(false);
    fetch("/api/matchmaking", { method: "DELETE", keepalive: true, headers: { Authorization: "Bearer " + session.token } }).catch(() => {});
  }

  setWaiting(on, body) {
    this.waiting = on;
    this.cancelling = false;
    $("pair-cancel").removeAttribute("aria-disabled");
    if (!on && this.polling) { this.polling.abort(); this.polling = null; }
    clearInterval(this.ticker);
    this.form.hidden = on;
    $("pair-wait").hidden = !on;
    if (on) {
      this.since = Date.now();
      this.window = null;
      $("pair-pool").textContent = describe(body);
      this.tick();
      this.ticker = setInterval(() => this.tick(), 1000);
      $("pair-cancel").focus();
      $("announce").textContent = `Looking for an opponent: ${describe(body)}. Press Cancel to stop.`;
    }
  }

  tick() {
    const range = this.window === null ? "" : ` (rating window ±${Math.round(this.window)})`;
    $("pair-status").textContent = `Looking for an opponent…${range}`;
    $("pair-elapsed").textContent = `Waiting ${minutes(Date.now() - this.since)}`;
  }
}


function describe(body) {
  return `${BOARD_NAMES[body.boardType] || body.boardType}, ${body.maxPlayers} players, ${body.timeControl}, ${body.rated ? "rated" : "unrated"}`;
}
