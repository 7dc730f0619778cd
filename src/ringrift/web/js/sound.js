// Optional sounds, made on the spot with the Web Audio API (no audio files): a move, a capture,
// "your turn" and the end of the game. Off until the player turns them on with the toggle; the
// choice is kept in localStorage and shared by every toggle on the page. With
// prefers-reduced-motion the sounds stay short and quiet (single notes, no flourish).
import { h } from "./dom.js";

const KEY = "ringrift.sound";
const toggles = new Set();
let audio = null;

function read() {
  try { return window.localStorage.getItem(KEY) === "on"; } catch { return false; }
}

export const sound = {
  get enabled() { return read(); },
  set enabled(on) {
    try { window.localStorage.setItem(KEY, on ? "on" : "off"); } catch { /* private mode */ }
    for (const el of toggles) sync(el);
  },
  /** kind: "move" | "capture" | "turn" | "end" (nothing happens while sounds are off). */
  play(kind) {
    if (!read()) return;
    const ctx = context();
    if (!ctx) return;
    const calm = matchMedia("(prefers-reduced-motion: reduce)").matches;
    const notes = NOTES[kind] || NOTES.move;
    const t0 = ctx.currentTime + 0.01;
    (calm ? notes.slice(0, 1) : notes).forEach(([freq, at, length, type]) => {
      tone(ctx, freq, t0 + at, length, type || "sine", calm ? 0.05 : 0.09);
    });
  },
};

// [frequency Hz, start s, length s, wave]
const NOTES = {
  move: [[520, 0, 0.07, "triangle"]],
  capture: [[330, 0, 0.08, "square"], [220, 0.07, 0.12, "triangle"]],
  turn: [[660, 0, 0.09], [880, 0.1, 0.14]],
  end: [[523, 0, 0.14], [659, 0.14, 0.14], [784, 0.28, 0.3]],
};

function context() {
  const Ctor = window.AudioContext || window.webkitAudioContext;
  if (!Ctor) return null;
  if (!audio) audio = new Ctor();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

function tone(ctx, freq, start, length, type, volume) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = type;
  osc.frequency.value = freq;
  // A quick attack and an exponential fade: no clicks.
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(volume, start + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  osc.connect(gain).connect(ctx.destination);
  osc.start(start);
  osc.stop(start + length + 0.02);
}

function sync(el) {
  const on = read();
  el.setAttribute("aria-pressed", String(on));
  el.textContent = on ? "Sound: on" : "Sound: off";
}

/** A toggle button ("Sound: off" / "Sound: on", aria-pressed) wired to the shared setting. */
export function soundToggle(id) {
  const el = h("button", { type: "button", class: "secondary sound-toggle", id, title: "Sounds for moves, captures, your turn and the end of the game" });
  el.addEventListener("click", () => {
    sound.enabled = !read();
    if (read()) { context(); sound.play("move"); } // the click is the gesture that unlocks audio
  });
  toggles.add(el);
  sync(el);
  return el;
}

/** The sound a move makes. */
export function moveSound(move) {
  return move && /capture/.test(move.type) ? "capture" : "move";
}
