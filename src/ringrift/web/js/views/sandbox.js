// The sandbox (#/sandbox): a practice game against the AI for anyone, no account needed.
// Nothing is stored on the server: this page holds the position and sends it with each request
// (POST /api/sandbox/new, /move, /ai); the server checks every move with the rules engine and
// answers with the next position. Moves are made on the board exactly as in real games
// (board.js + intent.js); Hint and Evaluation ask POST /api/analysis; Undo goes back to the
// position before your last move.
import { api } from "../api.js";
import { BoardView } from "../board.js";
import { $, clear, h } from "../dom.js";
import { posKey } from "../geometry.js";
import { click, plan } from "../intent.js";
import { plain } from "../messages.js";
import { BOOKKEEPING } from "../model.js";
import { makeLabeler, notation, sentence } from "../notation.js";
import { PLAYER, swatch } from "../players.js";
import { moveSound, sound, soundToggle } from "../sound.js";
import { evaluationView } from "./evaluation.js";

const HINT_LEVEL = 5;
const EVAL_LEVEL = 5;
const AI_PAUSE_MS = 350;
const BOARDS = [["square8", "Square 8×8"], ["hex8", "Hex, 61 cells"], ["square19", "Square 19×19"], ["hexagonal", "Hex, 469 cells"]];

export class SandboxView {
  constructor(root) {
    this.root = root;
    this.closed = false;
    this.run = 0; // bumped to drop AI replies that belong to an abandoned position
    this.data = null; // the server's last answer: {state, legalMoves, toMove, aiToMove, status, winner, ...}
    this.history = [];
    this.undoStack = [];
    this.sel = {};
    this.preview = new Set();
    this.busy = false;
    this.hint = null;
    this.evaluation = null;
    this.error = null;
    if (!$("sb-setup")) build(root);
    this.board = new BoardView($("sb-board"), { onCell: (key) => this.onCell(key) });
    this.keyHandler = (e) => this.onKey(e);
    document.addEventListener("keydown", this.keyHandler);
    $("sb-setup").onsubmit = (e) => { e.preventDefault(); this.start(); };
    $("sb-setup").elements.players.onchange = () => seatOptions($("sb-setup"));
    $("sb-hint-button").onclick = () => this.askHint();
    $("sb-eval-button").onclick = () => this.askEvaluation();
    $("sb-undo").onclick = () => this.undo();
    $("sb-new").onclick = () => this.showSetup();
    $("sb-continue").onclick = () => this.aiTurns();
    this.showSetup();
  }

  close() {
    this.closed = true;
    this.run++;
    document.removeEventListener("keydown", this.keyHandler);
    $("sb-board").replaceWith(svgBoard()); // drops the board's listeners with the old element
  }

  showSetup() {
    this.run++;
    this.data = null;
    $("sb-setup-box").hidden = false;
    $("sb-play").hidden = true;
    $("sb-setup").elements.boardType.focus();
  }

  async start() {
    const f = $("sb-setup").elements;
    this.cfg = { boardType: f.boardType.value, players: Number(f.players.value), seat: Number(f.seat.value), level: Number(f.level.value) };
    this.run++;
    this.history = [];
    this.undoStack = [];
    this.error = null;
    try {
      const data = await api("POST", "/api/sandbox/new", this.cfg);
      if (this.closed) return;
      $("sb-setup-box").hidden = true;
      $("sb-play").hidden = false;
      $("sb-board").replaceChildren();
      this.adopt(data);
      this.board.focus(this.board.focusKey);
      await this.aiTurns();
    } catch (err) { this.fail(err, "sb-setup-error"); }
  }

  /** Take the server's answer: the position, what was played to reach it. */
  adopt(data, animate = false) {
    this.data = data;
    this.sel = {};
    this.preview = new Set();
    this.hint = null;
    this.evaluation = null;
    const real = data.played.filter((p) => !BOOKKEEPING.has(p.move.type));
    this.history.push(...data.played);
    this.render();
    const last = real[real.length - 1];
    if (last) {
      if (animate) this.board.animate(last.move);
      $("announce").textContent = real.map((p) => sentence(p.move, this.labeler(), this.name(p.player))).join(" ");
      sound.play(moveSound(last.move));
    }
    if (data.status === "completed") {
      $("announce").textContent = `${$("announce").textContent} Game over: ${this.resultText()}`.trim();
      sound.play("end");
    }
  }

  /** Let the AI seats move, one request per decision, until it is the visitor's turn. */
  async aiTurns() {
    const run = ++this.run;
    const calm = matchMedia("(prefers-reduced-motion: reduce)").matches;
    let moved = false;
    while (this.data && this.data.aiToMove && run === this.run && !this.closed) {
      this.busy = true;
      this.error = null;
      this.render();
      await new Promise((ok) => setTimeout(ok, calm ? 0 : AI_PAUSE_MS));
      if (run !== this.run) return;
      try {
        const body = { state: this.data.state, seat: this.cfg.seat, level: this.cfg.level };
        const data = await api("POST", "/api/sandbox/ai", body);
        if (run !== this.run || this.closed) return;
        this.busy = false;
        this.adopt(data, true);
        moved = true;
      } catch (err) {
        if (run !== this.run) return;
        this.busy = false;
        this.fail(err);
        return;
      }
    }
    this.busy = false;
    if (run !== this.run) return;
    this.render();
    if (moved && this.myTurn()) {
      sound.play("turn");
      $("announce").textContent = `${$("announce").textContent} Your turn.`.trim();
    }
  }

  myTurn() {
    return Boolean(this.data && this.data.status === "active" && this.data.toMove === this.cfg.seat);
  }

  playable() {
    return this.myTurn() && !this.busy ? this.data.legalMoves : [];
  }

  // -- input ----------------------------------------------------------------------------------

  onCell(key) {
    if (this.closed) return;
    const moves = this.playable();
    if (!moves.length) return;
    this.error = null;
    const r = click(moves, this.sel, key, this.data.state);
    if (r.submit) this.play(r.submit);
    else { this.sel = r.sel; this.preview = new Set(); this.render(); }
  }

  onKey(e) {
    if (this.closed || e.key !== "Escape" || !(this.sel.from || this.sel.choiceAt || this.sel.line)) return;
    const inside = e.target.closest && (e.target.closest("#sb-choice") || e.target.closest("#sb-board"));
    this.sel = {};
    this.render();
    if (inside) this.board.focus(this.board.focusKey);
  }

  async play(move) {
    const run = ++this.run;
    this.undoStack.push({ data: this.data, moves: this.history.length });
    this.busy = true;
    this.sel = {};
    this.render();
    try {
      const data = await api("POST", "/api/sandbox/move", { state: this.data.state, move, seat: this.cfg.seat });
      if (run !== this.run || this.closed) return;
      this.busy = false;
      this.adopt(data, true);
      await this.aiTurns();
    } catch (err) {
      if (run !== this.run) return;
      this.undoStack.pop();
      this.busy = false;
      this.fail(err);
    }
  }

  undo() {
    const back = this.undoStack.pop();
    if (!back) return;
    this.run++; // an AI reply on its way belongs to the position we leave
    this.busy = false;
    this.error = null;
    this.history.length = back.moves;
    this.data = back.data;
    this.sel = {};
    this.hint = null;
    this.evaluation = null;
    this.render();
    $("announce").textContent = "Your last move was taken back.";
  }

  async askHint() {
    const state = this.data.state;
    try {
      const data = await api("POST", "/api/analysis", { state, level: HINT_LEVEL, top: 1 });
      if (this.data.state !== state || !data.bestMove) return;
      this.hint = { move: data.bestMove };
      this.render();
      $("announce").textContent = `Hint: ${notation(data.bestMove, this.labeler())}.`;
    } catch (err) { this.fail(err); }
  }

  async askEvaluation() {
    const state = this.data.state;
    $("sb-eval").hidden = false;
    $("sb-eval").replaceChildren(h("p", { text: "The AI is looking at the position…" }));
    try {
      const data = await api("POST", "/api/analysis", { state, level: EVAL_LEVEL, top: 3 });
      if (this.data.state !== state) return;
      this.evaluation = data;
      this.render();
    } catch (err) { $("sb-eval").hidden = true; this.fail(err); }
  }

  fail(err, target = "sb-error") {
    this.error = { code: err.code, message: err.message };
    if (target !== "sb-error") {
      $(target).textContent = plain(err.code, err.message);
      $(target).hidden = false;
      return;
    }
    this.render();
  }

  // -- rendering ------------------------------------------------------------------------------

  labeler() {
    return this.board.layout ? makeLabeler(this.board.layout) : (p) => posKey(p);
  }

  name(n) {
    return n === this.cfg.seat ? `You (${PLAYER[n].name})` : `${PLAYER[n].name} (AI level ${this.cfg.level})`;
  }

  resultText() {
    const w = this.data.winner;
    if (!w) return "nobody won.";
    return w === this.cfg.seat ? "You won!" : `${this.name(w)} won.`;
  }

  render() {
    if (!this.data || this.closed) return;
    const state = this.data.state;
    const moves = this.playable();
    const at = this.labeler();
    const p = plan(moves, this.sel, state, at);
    this.renderBoard(p, moves);
    $("sb-board").setAttribute("aria-label", `Practice board, ${state.board.type}`);
    this.renderTurn();
    let text = this.myTurn() && !this.busy ? p.hint : "";
    if (this.hint) text = `Hint from the AI: ${notation(this.hint.move, at)} (outlined in dots). ${text}`;
    $("sb-hint").textContent = text;
    const buttons = clear($("sb-buttons"));
    for (const b of p.buttons) buttons.append(h("button", { type: "button", class: "secondary", title: b.title, onclick: () => this.play(b.move) }, [b.label]));
    this.renderChoice(p.choice, at);
    const err = $("sb-error");
    err.hidden = !this.error;
    err.textContent = this.error ? plain(this.error.code, this.error.message) : "";
    this.renderSeats(state);
    this.renderMoves(at);
    const active = this.data.status === "active";
    $("sb-hint-button").disabled = !this.myTurn() || this.busy;
    $("sb-eval-button").disabled = this.busy;
    $("sb-undo").disabled = this.busy || !this.undoStack.length;
    $("sb-continue").hidden = !(active && this.data.aiToMove && !this.busy);
    if (this.evaluation) evaluationView($("sb-eval"), this.evaluation, (n) => this.name(n), at);
    else $("sb-eval").hidden = true;
  }

  /** The board alone (a preview of a choice must not rebuild the choice under the pointer). */
  renderBoard(p = plan(this.playable(), this.sel, this.data.state, this.labeler()), moves = this.playable()) {
    const state = this.data.state;
    const last = this.history.filter((r) => !BOOKKEEPING.has(r.move.type)).slice(-1).map((r) => r.move);
    this.board.render(state, {
      roles: p.cells, preview: this.preview, lastMoves: last, interactive: moves.length > 0,
      hinted: this.hint ? moveCells(this.hint.move) : [],
      describe: (key, label, role) => describeCell(state, key, label, role, this.cfg.seat),
    });
  }

  renderTurn() {
    const el = clear($("sb-turn"));
    el.className = "turn";
    if (this.data.status !== "active") { el.textContent = `Game over: ${this.resultText()}`; return; }
    const cur = this.data.toMove;
    if (this.myTurn()) {
      el.classList.add("mine");
      el.append(swatch(cur), this.busy ? "Your move is being checked…" : "Your turn.");
    } else if (this.busy) {
      el.append(h("span", { class: "spinner", "aria-hidden": "true" }), `AI is thinking… (${this.name(cur)})`);
    } else {
      el.append(swatch(cur), `${this.name(cur)} is to move.`);
    }
  }

  renderChoice(choice, at) {
    const box = $("sb-choice");
    if (!choice) { box.hidden = true; clear(box); return; }
    const wasInside = box.contains(document.activeElement);
    clear(box);
    const [x, y, z] = choice.at.split(",").map(Number);
    box.setAttribute("aria-label", `${choice.title} (${at(z === undefined ? { x, y } : { x, y, z })})`);
    box.append(h("p", { text: choice.title }));
    for (const o of choice.options) {
      box.append(h("button", {
        type: "button", title: o.title,
        onclick: () => { this.play(o.move); this.board.focus(choice.at); },
        onmouseenter: () => { this.preview = new Set(o.preview || []); this.renderBoard(); },
        onfocus: () => { this.preview = new Set(o.preview || []); this.renderBoard(); },
      }, [o.label]));
    }
    box.append(h("button", { type: "button", class: "secondary", onclick: () => { this.sel = {}; this.render(); this.board.focus(choice.at); } }, ["Cancel"]));
    box.hidden = false;
    this.board.placeBeside(box, choice.at);
    if (!wasInside) box.querySelector("button").focus();
  }

  renderSeats(state) {
    const list = clear($("sb-seats"));
    for (const pl of state.players) {
      const n = pl.playerNumber;
      const toMove = this.data.status === "active" && this.data.toMove === n;
      const name = h("div", { class: "name" }, [swatch(n), this.name(n)]);
      if (toMove) name.append(h("small", { text: "to move" }));
      list.append(h("li", { class: `seat${toMove ? " to-move" : ""}`, "aria-current": toMove ? "true" : null }, [
        name,
        h("div", { class: "stats", text: `In hand ${pl.ringsInHand} · Took ${pl.eliminatedRings} of ${state.victoryThreshold} to win` }),
      ]));
    }
  }

  renderMoves(at) {
    const list = clear($("sb-moves"));
    for (const r of this.history) {
      if (BOOKKEEPING.has(r.move.type)) continue;
      list.append(h("li", {}, [swatch(r.player, 12), " ", notation(r.move, at)]));
    }
    list.scrollTop = list.scrollHeight;
  }
}

/** The cells a move touches (for the hint outline). */
function moveCells(m) {
  const cells = [];
  for (const f of ["from", "to", "captureTarget"]) if (m[f]) cells.push(posKey(m[f]));
  for (const p of m.collapsedMarkers || (m.formedLines && m.formedLines[0] && m.formedLines[0].positions) || []) cells.push(posKey(p));
  for (const p of (m.disconnectedRegions && m.disconnectedRegions[0] && m.disconnectedRegions[0].spaces) || []) cells.push(posKey(p));
  return cells;
}

function describeCell(state, key, label, role, seat) {
  const b = state.board;
  const parts = [label];
  const st = b.stacks[key];
  if (st) parts.push(`${st.controllingPlayer === seat ? "your" : `${PLAYER[st.controllingPlayer].name}'s`} stack of ${st.stackHeight}, cap ${st.capHeight}`);
  const mk = b.markers[key];
  if (mk) parts.push(`${PLAYER[mk.player].name} marker`);
  const terr = b.collapsedSpaces[key];
  if (terr) parts.push(`${PLAYER[terr].name} territory`);
  if (!st && !mk && !terr) parts.push("empty");
  const roleText = {
    source: "can move", selected: "selected", target: "legal destination", place: "place rings here",
    decision: "part of your decision", "decision-on": "chosen line", candidate: "can be chosen", over: "would be captured",
  }[role];
  if (roleText) parts.push(roleText);
  return parts.join(", ");
}

function seatOptions(form) {
  const n = Number(form.elements.players.value);
  const current = Number(form.elements.seat.value) || 1;
  const select = clear(form.elements.seat);
  for (let i = 1; i <= n; i++) {
    select.append(h("option", { value: i, selected: i === Math.min(current, n) ? true : null }, [`${PLAYER[i].name}${i === 1 ? " (moves first)" : ""}`]));
  }
}

function select(name, options, chosen) {
  return h("select", { name }, options.map(([value, text]) => h("option", { value, selected: String(value) === String(chosen) ? true : null }, [text])));
}

/** The page's DOM, built once (the section in index.html is an empty frame). */
function build(root) {
  const levels = Array.from({ length: 10 }, (_, i) => [i + 1, `${i + 1}${i === 0 ? " (easiest)" : i === 9 ? " (strongest)" : ""}`]);
  const form = h("form", { id: "sb-setup", "aria-label": "New practice game" }, [
    h("label", {}, ["Board", select("boardType", BOARDS, "square8")]),
    h("label", {}, ["Players", select("players", [[2, "2"], [3, "3"], [4, "4"]], 2)]),
    h("label", {}, ["You play", h("select", { name: "seat" })]),
    h("label", {}, ["AI level", select("level", levels, 1)]),
    h("button", {}, ["Start"]),
  ]);
  seatOptions(form);
  root.append(
    h("h1", { id: "sandbox-title", text: "Practice against the AI" }),
    h("div", { id: "sb-setup-box" }, [
      h("p", { class: "notice", text: "No account needed, and nothing is saved: the game lives in this tab. Every other seat is played by the AI." }),
      h("p", { id: "sb-setup-error", class: "error", role: "alert", hidden: true }),
      form,
    ]),
    h("div", { id: "sb-play", class: "game sandbox", hidden: true }, [
      h("div", { class: "play" }, [
        h("p", { id: "sb-turn", class: "turn" }),
        h("div", { class: "decision" }, [h("p", { id: "sb-hint" }), h("div", { id: "sb-buttons", class: "sb-buttons" })]),
        h("p", { id: "sb-error", class: "error", role: "alert", hidden: true }),
        h("div", { class: "board-wrap" }, [
          svgBoard(),
          h("div", { id: "sb-choice", class: "choice", role: "group", hidden: true }),
        ]),
      ]),
      h("aside", { class: "side", "aria-label": "Practice game" }, [
        h("div", { class: "actions" }, [
          h("button", { type: "button", id: "sb-hint-button", class: "secondary" }, ["Hint"]),
          h("button", { type: "button", id: "sb-eval-button", class: "secondary" }, ["Evaluation"]),
          h("button", { type: "button", id: "sb-undo", class: "secondary" }, ["Undo"]),
          h("button", { type: "button", id: "sb-continue", class: "secondary", hidden: true }, ["Let the AI move"]),
          h("button", { type: "button", id: "sb-new", class: "secondary" }, ["New game"]),
          soundToggle("sb-sound"),
        ]),
        h("div", { id: "sb-eval", class: "eval-box", role: "status", hidden: true }),
        h("ul", { id: "sb-seats", class: "seats", "aria-label": "Players" }),
        h("div", { class: "moves-box" }, [
          h("h2", { text: "Moves" }),
          h("ol", { id: "sb-moves", class: "movelist", tabindex: "0", "aria-label": "Moves played" }),
        ]),
      ]),
    ]),
  );
}

function svgBoard() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("id", "sb-board");
  svg.setAttribute("class", "sb-board");
  svg.setAttribute("role", "group");
  svg.setAttribute("aria-label", "Practice board");
  return svg;
}
