// Game clocks: one clock per seat, counted down locally from the server's numbers.
//
// The server sends {remainingMs: [per seat], running: seat|null, serverTime} on every state
// and event frame (and in the game JSON). remainingMs holds at serverTime; only the running
// seat's clock moves. The page's clock may be off from the server's, so each frame's
// serverTime gives a sample of the offset (server minus page); the largest recent sample is the
// one with the least network delay. A clock that reaches zero shows 0.0 until the server's
// flag adjudication arrives (an event that ends the game or withdraws the seat).
import { clear, h } from "../dom.js";
import { PLAYER, swatch } from "../players.js";

const LOW_MS = 10_000;
const TICK_MS = 100;
const OFFSET_SAMPLES = 8;

/** Remaining time as a clock shows it: 1d 4h, 1:02:03, 4:05, or 9.4 under ten seconds. */
export function formatClock(ms) {
  const t = Math.max(0, ms);
  if (t >= 86_400_000) {
    const days = Math.floor(t / 86_400_000);
    return `${days}d ${Math.floor((t % 86_400_000) / 3_600_000)}h`;
  }
  if (t < LOW_MS) return (Math.floor(t / 100) / 10).toFixed(1);
  const total = Math.floor(t / 1000);
  const hours = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** The same in words, for screen readers. */
export function spokenClock(ms) {
  const total = Math.ceil(Math.max(0, ms) / 1000);
  if (total >= 86_400) return `${Math.floor(total / 86_400)} days ${Math.floor((total % 86_400) / 3600)} hours`;
  const parts = [];
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  if (hours) parts.push(`${hours} hour${hours > 1 ? "s" : ""}`);
  if (minutes) parts.push(`${minutes} minute${minutes > 1 ? "s" : ""}`);
  if (!hours) parts.push(`${total % 60} second${total % 60 === 1 ? "" : "s"}`);
  return parts.join(" ");
}

/** Why a seat is out of the game, from its withdrawal in the move history (null if it plays). */
export function seatNote(state, history, seat, players) {
  if (!state || !(state.withdrawnSeats || []).includes(seat)) return null;
  const out = [...history].reverse().find((r) => r.move && r.move.type === "withdraw" && r.move.player === seat);
  const reason = out ? out.move.reason : null;
  if (reason === "timeout") return players === 2 ? "lost on time" : "withdrew (time)";
  if (reason === "abandoned") return "left the game";
  return null; // resignation: the seat list already says "resigned"
}

export class ClockView {
  /** box: the element holding the clocks; seatName(n) names a seat; announce(text) speaks. */
  constructor(box, { seatName, announce }) {
    this.box = box;
    this.seatName = seatName;
    this.announce = announce;
    this.clocks = null;
    this.offsets = [];
    this.yourSeat = null;
    this.cells = new Map();
    this.timer = null;
    this.warned = false;
    clear(box);
    box.hidden = true;
  }

  dispose() {
    clearInterval(this.timer);
    this.timer = null;
  }

  /** New clocks from the server; serverTime is the frame's (for the offset). */
  update(clocks, serverTime, yourSeat) {
    this.yourSeat = yourSeat ?? null;
    if (typeof serverTime === "number" && serverTime > 0) {
      this.offsets.push(serverTime - Date.now());
      if (this.offsets.length > OFFSET_SAMPLES) this.offsets.shift();
    }
    if (!clocks || !Array.isArray(clocks.remainingMs)) {
      this.clocks = null;
      this.box.hidden = true;
      this.dispose();
      return;
    }
    if (clocks.running !== (this.clocks && this.clocks.running)) this.warned = false;
    this.clocks = clocks;
    this.build(clocks.remainingMs.length);
    this.box.hidden = false;
    this.tick();
    if (clocks.running != null && !this.timer) this.timer = setInterval(() => this.tick(), TICK_MS);
    if (clocks.running == null) this.dispose();
  }

  /** Re-label the clocks when a seat's name became known (a player joined after the clocks
   * were drawn); nothing changes when the names are the same. */
  refreshNames() {
    if (!this.clocks) return;
    this.build(this.clocks.remainingMs.length);
    this.tick();
  }

  /** The server's time now, as well as this page can tell. */
  serverNow() {
    const offset = this.offsets.length ? Math.max(...this.offsets) : 0;
    return Date.now() + offset;
  }

  remaining(seat) {
    const c = this.clocks;
    const left = c.remainingMs[seat - 1];
    if (c.running !== seat) return left;
    return left - Math.max(0, this.serverNow() - c.serverTime);
  }

  build(count) {
    const names = Array.from({ length: count }, (_, i) => this.seatName(i + 1)).join("\n");
    if (this.cells.size === count && names === this.names) return;
    this.names = names;
    clear(this.box);
    this.cells.clear();
    for (let n = 1; n <= count; n++) {
      const time = h("span", { class: "time" });
      const el = h("div", { class: "clock", role: "timer", "data-seat": n }, [
        swatch(n, 14), h("span", { class: "who", text: this.seatName(n) }), time,
      ]);
      this.cells.set(n, { el, time, text: "", label: "" });
      this.box.append(el);
    }
  }

  tick() {
    if (!this.clocks) return;
    for (const [n, cell] of this.cells) {
      const left = this.remaining(n);
      const text = formatClock(left);
      const running = this.clocks.running === n;
      if (text !== cell.text) { cell.time.textContent = text; cell.text = text; }
      cell.el.classList.toggle("running", running);
      cell.el.classList.toggle("low", left < LOW_MS);
      cell.el.classList.toggle("flag", left <= 0);
      const who = n === this.yourSeat ? "Your clock" : `${this.seatName(n) || (PLAYER[n] || {}).name}'s clock`;
      const label = `${who}: ${spokenClock(left)} left${running ? ", running" : ""}`;
      if (label !== cell.label) { cell.el.setAttribute("aria-label", label); cell.label = label; }
      if (running && n === this.yourSeat && left < LOW_MS && left > 0 && !this.warned) {
        this.warned = true;
        this.announce("Less than ten seconds left on your clock.");
      }
    }
  }
}
