// The one versioned game model. Socket frames go in (handleFrame), a consistent position comes
// out: apply an event only when event.v == v + 1, drop old ones, re-join by version on a gap.
// Events of the older server carry no patch: the model then asks for a full state (join without
// v), unless the state frame that server sends the player to move arrives first.
import { mergePatch } from "./patch.js";

export const BOOKKEEPING = new Set([
  "no_placement_action", "no_movement_action", "no_line_action", "no_territory_action",
  "skip_placement", "skip_capture", "skip_territory_processing", "skip_recovery",
]);

// The older server follows an event with a state for the player to move at once; wait that long.
const FULL_STATE_DELAY_MS = 40;
const PENDING_TIMEOUT_MS = 15000;

export class GameModel {
  constructor(gameId, send) {
    this.gameId = gameId;
    this.send = send; // (t, d) => boolean
    this.v = -1;
    this.state = null;
    this.status = null;
    this.yourSeat = null;
    this.legalMoves = null;
    this.winner = null;
    this.endReason = null;
    this.clocks = null; // {remainingMs, running, serverTime} of timed games (views/clock.js)
    this.serverTime = null; // serverTime of the newest frame
    this.history = []; // history[i] = {move, player} that made version i + 1
    this.lastMove = null;
    this.pending = null; // {v, ack, move} while a move is in flight
    this.submitted = new Set(); // versions this page (or another tab) already played against
    this.staleTo = null; // an old-style event announced this version; a full state is on its way
    this.error = null; // {code, message} for the player, cleared by the next action or state
    this.listeners = new Set();
    this.nextAck = 1;
    this.fullTimer = null;
    this.pendingTimer = null;
    this.channel = "BroadcastChannel" in window ? new BroadcastChannel("ringrift-moves") : null;
    if (this.channel) {
      this.channel.onmessage = (e) => {
        if (e.data && e.data.gameId === this.gameId) this.submitted.add(e.data.v);
      };
    }
  }

  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  emit(reason, detail) { for (const fn of this.listeners) fn(reason, detail); }

  dispose() {
    clearTimeout(this.fullTimer);
    clearTimeout(this.pendingTimer);
    if (this.channel) this.channel.close();
    this.listeners.clear();
  }

  get ready() { return this.state !== null; }
  get active() { return this.status === "active"; }
  get myTurn() {
    return this.active && this.yourSeat != null && this.state && this.state.currentPlayer === this.yourSeat;
  }
  /** Moves the player may make now: none while stale, in flight or already played for this v. */
  get playable() {
    if (!this.myTurn || this.pending || this.staleTo !== null || this.submitted.has(this.v)) return [];
    return this.legalMoves || [];
  }

  /** Join the game: with our version when we have one (the server sends what we missed). */
  join() {
    const d = { gameId: this.gameId, ...(this.joinExtras ? this.joinExtras() : {}) };
    if (this.v >= 0 && this.staleTo === null) d.v = this.v;
    this.send("join", d);
  }

  requestFull() {
    clearTimeout(this.fullTimer);
    this.fullTimer = null;
    this.send("join", { gameId: this.gameId, ...(this.joinExtras ? this.joinExtras() : {}) });
  }

  handleFrame(frame) {
    const d = frame.d || {};
    if (d.gameId && d.gameId !== this.gameId) return;
    switch (frame.t) {
      case "state": return this.onState(d);
      case "event": return this.onEvent(d);
      case "ack": return this.onAck(d);
      case "error": return this.onError(d);
      case "resync": return this.join();
      default: return undefined;
    }
  }

  onState(d) {
    if (d.v < this.v) return;
    const moved = d.v > this.v;
    const state = { ...d.state };
    delete state.moveHistory;
    this.state = state;
    this.v = d.v;
    this.status = d.status || (state.gameStatus === "completed" ? "completed" : this.status);
    if (d.yourSeat !== undefined) this.yourSeat = d.yourSeat;
    this.legalMoves = d.legalMoves || null;
    this.winner = d.winner ?? state.winner ?? null;
    this.endReason = d.endReason ?? state.victoryReason ?? null;
    this.clocks = d.clocks || null;
    this.serverTime = d.serverTime ?? null;
    if (this.staleTo !== null && d.v >= this.staleTo) {
      this.staleTo = null;
      clearTimeout(this.fullTimer);
      this.fullTimer = null;
    }
    this.settlePending();
    if (moved || this.status !== "active") this.error = null;
    this.emit("state", { moved });
    if (this.history.length < this.v) this.emit("need-history");
  }

  onEvent(d) {
    if (d.v <= this.v) return;
    if (this.staleTo !== null || !d.patch) {
      // Older server: no patch to apply. Remember the move, then ask for the full position.
      if (this.staleTo === null && d.v !== this.v + 1) { this.join(); return; }
      this.staleTo = Math.max(this.staleTo ?? 0, d.v);
      this.recordMove(d);
      if (d.status && d.status !== "active") this.setResult(d);
      clearTimeout(this.fullTimer);
      this.fullTimer = setTimeout(() => this.requestFull(), FULL_STATE_DELAY_MS);
      this.emit("event", { move: d.move, applied: false });
      return;
    }
    if (d.v !== this.v + 1) { this.join(); return; }
    this.state = mergePatch(this.state, d.patch);
    this.v = d.v;
    if (d.clocks) this.clocks = d.clocks;
    this.serverTime = d.serverTime ?? null;
    if (d.status) this.status = d.status;
    this.setResult(d);
    this.legalMoves = d.legalMoves || null;
    this.recordMove(d);
    this.error = null;
    this.settlePending();
    this.emit("event", { move: d.move, applied: true, auto: d.auto });
  }

  setResult(d) {
    if (d.status) this.status = d.status;
    if (d.winner !== undefined) this.winner = d.winner;
    if (d.endReason !== undefined) this.endReason = d.endReason;
  }

  recordMove(d) {
    if (this.history.length === d.v - 1) {
      this.history.push({ move: d.move, player: d.by ?? d.player ?? (d.move && d.move.player) });
    }
    this.lastMove = d.move || null;
  }

  onAck(d) {
    if (this.pending && d.ack === this.pending.ack) {
      // Committed: the events that follow carry the position; the move stays "in flight" until then.
      this.pending.committedV = d.v;
      if (this.v >= d.v || (this.staleTo ?? -1) >= d.v) this.settlePending(true);
    }
  }

  onError(d) {
    if (typeof d.ack === "string" && d.ack.startsWith("chat:")) return; // the chat panel's
    const mine = this.pending && d.ack === this.pending.ack;
    if (mine) {
      // A refused move may be tried again (a version conflict means the position moved on).
      if (d.code !== "GAME_VERSION_CONFLICT") this.submitted.delete(this.pending.v);
      this.clearPending();
    }
    if (d.code === "GAME_VERSION_CONFLICT" || d.code === "GAME_NOT_YOUR_TURN") {
      // Someone (another tab, or the server itself) already played for this version: catch up.
      this.requestFull();
      this.emit("pending");
      return;
    }
    if (this.status && this.status !== "active" && d.code === "GAME_ALREADY_ENDED") return;
    this.error = { code: d.code, message: d.message };
    this.emit("error");
  }

  settlePending(force = false) {
    if (!this.pending) return;
    if (force || this.v > this.pending.v || this.status !== "active") {
      this.clearPending();
      this.emit("pending");
    }
  }

  clearPending() {
    this.pending = null;
    clearTimeout(this.pendingTimer);
  }

  /** Play a move against the current version: at most once per version, one frame. */
  submit(move) {
    if (!this.active || this.pending || this.staleTo !== null || this.submitted.has(this.v)) return false;
    const ack = this.nextAck++;
    const v = this.v;
    if (!this.send("move", { gameId: this.gameId, move, v, ack })) {
      this.error = { code: "NETWORK", message: "" };
      this.emit("error");
      return false;
    }
    this.submitted.add(v);
    if (this.channel) this.channel.postMessage({ gameId: this.gameId, v });
    this.pending = { v, ack, move };
    this.error = null;
    this.pendingTimer = setTimeout(() => {
      if (this.pending && this.pending.ack === ack) { this.clearPending(); this.requestFull(); this.emit("pending"); }
    }, PENDING_TIMEOUT_MS);
    this.emit("pending");
    return true;
  }

  /**
   * Play a move nobody chose (a lone pass) from exactly one of the tabs showing this game: a
   * Web Lock per version is taken by the first tab, which announces the version over the
   * BroadcastChannel before letting go, so the other tabs see it as played.
   */
  submitOnce(move) {
    const v = this.v;
    if (!(navigator.locks && navigator.locks.request)) return Promise.resolve(this.submit(move));
    return navigator.locks.request(`ringrift:${this.gameId}:${v}`, { ifAvailable: true }, async (lock) => {
      if (!lock || this.v !== v || this.submitted.has(v)) return false;
      const sent = this.submit(move);
      if (sent) await new Promise((ok) => setTimeout(ok, 1000));
      return sent;
    });
  }

  dismissError() {
    if (this.error) { this.error = null; this.emit("error"); }
  }
}
