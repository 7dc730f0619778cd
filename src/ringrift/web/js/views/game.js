// The game page: the board fed by the versioned model, the seats, the move list with replay,
// decisions in plain words, resign with confirmation, and the result screen.
import { api } from "../api.js";
import { BoardView } from "../board.js";
import { $, clear, h } from "../dom.js";
import { posKey } from "../geometry.js";
import { automatic, click, plan } from "../intent.js";
import { plain } from "../messages.js";
import { BOOKKEEPING, GameModel } from "../model.js";
import { ChatPanel } from "./chat.js";
import { makeLabeler, notation, sentence } from "../notation.js";
import { PLAYER, swatch } from "../players.js";
import { moveSound, sound, soundToggle } from "../sound.js";
import { ClockView, seatNote } from "./clock.js";
import { curveButton } from "./game_curve.js";
import { evaluationButton, practiceGame } from "./game_eval.js";
import { PresenceView, abortable } from "./presence.js";
import { InvitePanel, withInvite } from "./invite.js";
import { RematchPanel } from "./rematch.js";
import { ResultDialog, resultTitle } from "./result.js";
import { navTarget, realMoves, renderMoveList } from "./movelist.js";

const PHASES = {
  ring_placement: "place rings",
  movement: "move a stack",
  capture: "capture",
  chain_capture: "continue the capture",
  line_processing: "collapse your line",
  territory_processing: "claim territory",
  forced_elimination: "give up a cap",
  recovery_slide: "recovery",
};

export class GameView {
  constructor(gameId, conn, { me, onLeave, invite = null }) {
    this.gameId = gameId;
    this.invite = invite; // the token of an invite link, sent with every read of this game
    this.conn = conn;
    this.me = me;
    this.onLeave = onLeave;
    this.meta = null;
    this.sel = {};
    this.preview = new Set();
    this.replayAt = null; // null = live; else a version whose position is shown
    this.replayState = null;
    this.replayCache = new Map();
    this.confirming = false;
    this.hint = null; // {v, move} suggested by the AI for this version
    this.shownV = null; // the version the board last showed (to animate one step at a time)
    this.turnAnnouncedAt = null;
    this.autoTimer = null;
    this.closed = false;
    this.model = new GameModel(gameId, (t, d) => conn.send(t, t === "join" && invite ? { ...d, invite } : d));
    this.invitePanel = new InvitePanel(this);
    this.rematch = new RematchPanel(this, conn);
    this.board = new BoardView($("board"), { onCell: (key) => this.onCell(key) });
    this.clock = new ClockView($("clocks"), { seatName: (n) => this.seatName(n), announce: (t) => { $("announce").textContent = t; } });
    this.offModel = this.model.on((reason, detail) => this.onModel(reason, detail));
    this.presence = new PresenceView(gameId, { onChange: () => this.render(), onEnded: () => this.ended(), onError: (err) => this.showError(err) });
    // Every seat taken and only one of them a person: no one to chat with.
    const solo = () => Boolean(this.meta) && this.meta.openSeats === 0 && this.meta.seats.filter((s) => !s.isAi).length <= 1;
    this.chat = new ChatPanel($("chat"), gameId, conn, { me, solo });
    this.model.joinExtras = () => this.chat.joinFields();
    this.offFrame = conn.onFrame((frame) => { this.model.handleFrame(frame); this.presence.handleFrame(frame); });
    this.offStatus = conn.onStatus((status) => { if (status === "open") this.model.join(); });
    this.keyHandler = (e) => this.onKey(e);
    document.addEventListener("keydown", this.keyHandler);
    $("movelist").onclick = (e) => {
      const li = e.target.closest("li[data-v]");
      if (li) this.goto(Number(li.dataset.v));
    };
    for (const b of document.querySelectorAll(".replay-nav [data-nav]")) b.onclick = () => this.nav(b.dataset.nav);
    this.result = new ResultDialog();
    $("game-error").hidden = true;
    // Big boards on small screens: the board can be zoomed and scrolled inside its frame.
    $("zoom").onclick = () => {
      const on = document.querySelector(".board-wrap").classList.toggle("zoomed");
      $("zoom").setAttribute("aria-pressed", String(on));
      $("zoom").textContent = on ? "Zoom out" : "Zoom in";
    };
    document.querySelector(".board-wrap").classList.remove("zoomed");
    if (!$("game-sound")) $("zoom").before(soundToggle("game-sound"));
    $("zoom").setAttribute("aria-pressed", "false");
    $("zoom").textContent = "Zoom in";
    clear($("movelist"));
    delete $("movelist").dataset.count;
    clear($("seats"));
    clear($("actions"));
    clear($("buttons"));
    $("hint").textContent = "";
    $("game-tc").hidden = true;
    $("turn").textContent = "Loading the game…";
    $("board").replaceChildren();
  }

  async start() {
    const asOf = this.presence.now();
    const [game, moves] = await Promise.all([
      api("GET", withInvite(`/api/games/${this.gameId}`, this.invite)),
      api("GET", withInvite(`/api/games/${this.gameId}/moves`, this.invite)).catch(() => ({ moves: [] })),
    ]);
    if (this.closed) return;
    this.meta = game.game;
    if (!this.model.ready && this.meta.clocks) this.clock.update(this.meta.clocks, this.meta.clocks.serverTime, null);
    this.presence.adopt(this.meta.presence, { asOf });
    this.chat.refreshVisibility();
    this.invitePanel.render();
    this.adoptHistory(moves.moves || []);
    if (this.conn.status === "open") this.model.join();
    this.render();
  }

  close() {
    this.closed = true;
    clearTimeout(this.autoTimer);
    this.offModel();
    this.offFrame();
    this.offStatus();
    this.clock.dispose();
    this.presence.close();
    this.rematch.close();
    document.removeEventListener("keydown", this.keyHandler);
    this.conn.send("leave", { gameId: this.gameId });
    this.chat.dispose();
    this.model.dispose();
  }

  // -- model updates --------------------------------------------------------------------------

  onModel(reason, detail) {
    if (this.closed) return;
    if (reason === "need-history") { this.reloadHistory(); return; }
    if (reason === "state" || reason === "event") {
      this.clock.update(this.model.clocks, this.model.serverTime, this.model.yourSeat);
      if (this.hint && this.hint.v !== this.model.v) this.hint = null;
      this.sel = {};
      this.preview = new Set();
      if (reason === "event" && detail.move) this.announce(detail.move);
      if (this.meta && (this.model.status !== this.meta.status || this.seatsUnknown())) this.reloadMeta();
    }
    const before = this.shownV;
    this.render();
    if (reason === "event" || reason === "state") this.shownV = this.model.v;
    // Animate the move that made the position now shown, whether it came as a patch (event) or
    // in a full state (today's server): only when exactly one real move (passes aside) was added.
    if ((reason === "event" || reason === "state") && this.replayAt === null && before !== null && before < this.model.v) {
      const added = this.model.history.slice(before, this.model.v).filter((r) => r && r.move && !BOOKKEEPING.has(r.move.type));
      if (added.length === 1) this.board.animate(added[0].move);
      if (added.length) sound.play(moveSound(added[added.length - 1].move));
    }
    // Screen readers hear when the turn comes back (the turn line itself is not live): it is
    // our turn with a real choice, and the last real move was somebody else's.
    const model = this.model;
    if (model.playable.length && !automatic(model.playable) && this.turnAnnouncedAt !== model.v) {
      const last = [...model.history].reverse().find((r) => r && r.move && !BOOKKEEPING.has(r.move.type));
      if (last && (last.player ?? last.move.player) !== model.yourSeat) {
        this.turnAnnouncedAt = model.v;
        const said = $("announce").textContent;
        $("announce").textContent = `${said} Your turn.`.trim();
        sound.play("turn");
      }
    }
    this.maybeAuto();
  }

  seatsUnknown() {
    return this.model.state && this.meta.seats.length < this.model.state.players.length;
  }

  async reloadMeta() {
    try {
      const asOf = this.presence.now();
      const data = await api("GET", withInvite(`/api/games/${this.gameId}`, this.invite));
      if (this.closed) return;
      this.meta = data.game;
      this.presence.adopt(this.meta.presence, { asOf });
    this.chat.refreshVisibility();
      this.render();
    } catch { /* the next frame tries again */ }
  }

  async reloadHistory() {
    try {
      const data = await api("GET", withInvite(`/api/games/${this.gameId}/moves`, this.invite));
      if (this.closed) return;
      this.adoptHistory(data.moves || []);
      this.renderMoveList();
    } catch { /* kept as is */ }
  }

  /** Take the stored move list when it knows more than the frames told us so far. */
  adoptHistory(records) {
    if (records.length > this.model.history.length) {
      this.model.history = records.map((r) => ({ move: r.move, player: r.player }));
    }
    // Moves committed while the list was on its way: fetch it once more.
    if (this.model.ready && this.model.history.length < this.model.v && !this.historyRetry) {
      this.historyRetry = true;
      this.reloadHistory().finally(() => { this.historyRetry = false; });
    }
  }

  /** A lone move that asks nothing (bookkeeping, a forced capture step) is played once per version. */
  maybeAuto() {
    clearTimeout(this.autoTimer);
    if (this.replayAt !== null) return;
    const m = automatic(this.model.playable);
    if (!m) return;
    const v = this.model.v;
    this.autoTimer = setTimeout(() => {
      if (this.model.v === v && automatic(this.model.playable) === m) this.model.submitOnce(m);
    }, 60 + Math.random() * 90);
  }

  announce(move) {
    const who = move.player === this.model.yourSeat ? "You" : this.seatName(move.player);
    const text = sentence(move, this.labeler(), who);
    if (text) $("announce").textContent = text;
  }

  // -- input ------------------------------------------------------------------------------------

  onCell(key) {
    if (this.replayAt !== null) { this.goto(this.model.v); return; }
    if (!this.model.playable.length) return;
    this.model.dismissError();
    const r = click(this.model.playable, this.sel, key, this.model.state);
    if (r.submit) {
      this.sel = {};
      this.preview = new Set();
      this.model.submit(r.submit);
    } else {
      this.sel = r.sel;
      this.preview = new Set();
    }
    this.render();
  }

  onKey(e) {
    if (this.closed || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "Escape") {
      if (this.confirming) { this.confirming = false; this.renderActions(); return; }
      if (this.sel.from || this.sel.choiceAt || this.sel.line) {
        const inside = e.target.closest && (e.target.closest("#choice") || e.target.closest("#board"));
        this.sel = {};
        this.render();
        if (inside) this.board.focus(this.board.focusKey); // the keyboard stays on the board
        return;
      }
    }
    const t = e.target;
    if (t.closest && (t.closest("#board") || t.closest("input, select, textarea"))) return;
    const nav = { ArrowLeft: "prev", ArrowRight: "next", Home: "first", End: "last" }[e.key];
    if (!nav || !this.model.ready) return;
    e.preventDefault();
    this.nav(nav);
  }

  nav(where) {
    const cur = this.replayAt === null ? this.model.v : this.replayAt;
    this.goto(navTarget(where, cur, this.model.history, this.model.v));
  }

  async goto(n) {
    if (n >= this.model.v) {
      this.replayAt = null;
      this.replayState = null;
      this.render();
      return;
    }
    this.replayAt = n;
    this.sel = {};
    let state = this.replayCache.get(n);
    if (!state) {
      try {
        state = (await api("GET", withInvite(`/api/games/${this.gameId}/states/${n}`, this.invite))).state;
      } catch (err) {
        this.model.error = { code: err.code, message: err.message };
        this.render();
        return;
      }
      this.replayCache.set(n, state);
    }
    if (this.replayAt !== n) return;
    this.replayState = state;
    this.render();
  }

  // -- rendering ------------------------------------------------------------------------------

  labeler() {
    return this.board.layout ? makeLabeler(this.board.layout) : (p) => posKey(p);
  }

  seat(n) {
    return this.meta && this.meta.seats.find((s) => s.seat === n);
  }

  seatName(n) {
    const seat = this.seat(n);
    if (!seat) return `${PLAYER[n].name}`;
    if (seat.isAi) return `${PLAYER[n].name} (AI level ${seat.aiLevel})`;
    return seat.username || PLAYER[n].name;
  }

  render() {
    const model = this.model;
    if (!model.ready) return;
    this.clock.refreshNames();
    const live = this.replayAt === null;
    const state = live ? model.state : this.replayState;
    const moves = live ? model.playable : [];
    const at = this.labeler();
    const p = plan(moves, this.sel, model.state, at);
    const describe = (key, label, role) => this.describeCell(state, key, label, role);
    const lastMoves = this.lastMoves(live ? model.history.length : this.replayAt);
    const hinted = live && this.hint ? moveCells(this.hint.move) : [];
    this.board.render(state, { roles: p.cells, preview: this.preview, lastMoves, hinted, describe, interactive: live && moves.length > 0 });
    $("zoom").hidden = state.board.size <= 9;
    $("board").setAttribute("aria-label", `Board, ${state.board.type}${live ? "" : `, position after move ${realMoves(this.model.history, this.replayAt)}`}`);
    document.querySelector("#game .game").classList.toggle("busy", Boolean(model.pending) || model.staleTo !== null);
    document.querySelector("#game .game").classList.toggle("replaying", !live);
    this.renderTimeControl();
    this.renderTurn(state, live);
    this.presence.render({ mySeat: this.model.yourSeat, status: this.model.status, players: model.state.players.length, withdrawn: model.state.withdrawnSeats || [], name: (n) => this.seatName(n) });
    this.renderError();
    this.renderDecision(p, live, at);
    this.renderSeats(state);
    this.renderMoveList();
    this.renderActions();
    this.renderResult();
    this.invitePanel.render();
    this.rematch.render();
  }

  /** The game's time control as a label (the running clocks are views/clock.js). */
  renderTimeControl() {
    const tc = this.meta && this.meta.timeControl;
    const label = tc && typeof tc.label === "string" ? tc.label : "";
    $("game-tc").textContent = label ? `Time control: ${label}` : "";
    $("game-tc").hidden = !label;
  }

  /** The last real move before version n, with the whole chain when it was a capture chain. */
  lastMoves(n) {
    const out = [];
    for (let i = n - 1; i >= 0; i--) {
      const m = this.model.history[i] && this.model.history[i].move;
      if (!m || BOOKKEEPING.has(m.type)) { if (out.length) break; continue; }
      if (out.length && (m.player !== out[0].player || !/capture/.test(out[0].type) || !/capture/.test(m.type))) break;
      out.push(m);
      if (m.type !== "continue_capture_segment") break;
    }
    return out;
  }

  describeCell(state, key, label, role) {
    const b = state.board;
    const parts = [label];
    const st = b.stacks[key];
    if (st) {
      const owner = st.controllingPlayer === this.model.yourSeat ? "your" : `${PLAYER[st.controllingPlayer].name}'s`;
      parts.push(`${owner} stack of ${st.stackHeight}, cap ${st.capHeight}`);
    }
    const mk = b.markers[key];
    if (mk) parts.push(`${PLAYER[mk.player].name} marker`);
    const terr = b.collapsedSpaces[key];
    if (terr) parts.push(`${PLAYER[terr].name} territory`);
    if (!st && !mk && !terr) parts.push("empty");
    const roleText = {
      source: "can move", selected: "selected", target: "legal destination", place: "place rings here",
      decision: "part of your decision", "decision-on": "chosen line", candidate: "can be chosen",
      over: "would be captured",
    }[role];
    if (roleText) parts.push(roleText);
    return parts.join(", ");
  }

  renderTurn(state, live) {
    const el = clear($("turn"));
    el.className = "turn";
    const model = this.model;
    if (!live) {
      el.textContent = `Replay: position after move ${realMoves(this.model.history, this.replayAt)} of ${realMoves(model.history, model.v)}. Press End to return.`;
      return;
    }
    const status = model.status;
    if (status === "waiting") { el.textContent = "Waiting for an opponent to join…"; return; }
    if (status === "cancelled") { el.textContent = model.endReason === "aborted" ? "This game was aborted." : "This game was cancelled."; return; }
    if (status === "completed") { el.textContent = `Game over: ${this.resultTitle()}.`; return; }
    const cur = state.currentPlayer;
    const seat = this.seat(cur);
    const phase = PHASES[state.currentPhase] || state.currentPhase.replaceAll("_", " ");
    if (model.myTurn) {
      el.classList.add("mine");
      // A lone bookkeeping move is played for the player: say so rather than name the phase.
      const passing = automatic(model.playable) || (model.legalMoves && automatic(model.legalMoves));
      el.append(swatch(cur), passing && passing.type !== "continue_capture_segment" ? "Your turn: nothing to decide here, passing on." : `Your turn: ${phase}.`);
      if (model.pending) el.append(" Sending…");
    } else if (seat && seat.isAi) {
      el.append(h("span", { class: "spinner", "aria-hidden": "true" }), `AI is thinking… (${this.seatName(cur)})`);
    } else {
      el.append(swatch(cur), `Waiting for ${this.seatName(cur)} to ${phase}.`);
    }
  }

  renderError() {
    const err = this.model.error;
    const el = $("game-error");
    const show = Boolean(err) && this.model.status !== "completed";
    el.hidden = !show;
    el.textContent = show ? plain(err.code, err.message) : "";
  }

  renderDecision(p, live, at) {
    let text = live && this.model.myTurn && !this.model.pending ? p.hint : "";
    if (live && this.hint && this.hint.v === this.model.v) {
      text = `Hint from the AI (level ${this.hint.level}): ${notation(this.hint.move, at)} (outlined in dots). ${text}`;
    }
    $("hint").textContent = text;
    const buttons = clear($("buttons"));
    for (const b of live ? p.buttons : []) {
      buttons.append(h("button", { type: "button", class: "secondary", title: b.title, onclick: () => { this.model.dismissError(); this.model.submit(b.move); } }, [b.label]));
    }
    this.renderChoice(p.choice, at);
  }

  renderChoice(choice, at) {
    const box = $("choice");
    if (!choice) { box.hidden = true; clear(box); return; }
    const wasInside = box.contains(document.activeElement);
    clear(box);
    box.setAttribute("aria-label", `${choice.title} (${at(keyToPos(choice.at))})`);
    box.append(h("p", { text: choice.title }));
    choice.options.forEach((o, i) => {
      const btn = h("button", {
        type: "button", title: o.title, "data-i": i,
        onclick: () => {
          this.sel = {};
          this.preview = new Set();
          this.model.submit(o.move);
          this.render();
          this.board.focus(choice.at); // the keyboard stays on the board
        },
        onmouseenter: () => this.setPreview(o.preview),
        onfocus: () => this.setPreview(o.preview),
      }, [o.label]);
      box.append(btn);
    });
    box.append(h("button", { type: "button", class: "secondary", onclick: () => { this.sel = {}; this.render(); this.board.focus(choice.at); } }, ["Cancel"]));
    if (choice.explain) box.append(h("p", { class: "hint", text: choice.options.map((o) => o.title).join(" / ") }));
    box.hidden = false;
    this.board.placeBeside(box, choice.at);
    if (!wasInside) box.querySelector("button").focus();
  }

  setPreview(keys) {
    this.preview = new Set(keys || []);
    const live = this.replayAt === null;
    const moves = live ? this.model.playable : [];
    const p = plan(moves, this.sel, this.model.state, this.labeler());
    this.board.render(this.model.state, {
      roles: p.cells, preview: this.preview, lastMoves: this.lastMoves(this.model.history.length),
      describe: (key, label, role) => this.describeCell(this.model.state, key, label, role), interactive: true,
    });
  }

  renderSeats(state) {
    const list = clear($("seats"));
    const total = state.totalRingsInPlay / state.players.length;
    const rpp = (state.rulesOptions && state.rulesOptions.ringsPerPlayer) || total;
    const onBoard = {};
    for (const st of Object.values(state.board.stacks)) for (const r of st.rings) onBoard[r] = (onBoard[r] || 0) + 1;
    for (const pl of state.players) {
      const n = pl.playerNumber;
      const seat = this.seat(n);
      const lost = Math.max(0, rpp - pl.ringsInHand - (onBoard[n] || 0));
      const territory = Object.values(state.board.collapsedSpaces).filter((o) => o === n).length;
      const toMove = this.model.status === "active" && state.currentPlayer === n;
      const label = seat && !seat.isAi && seat.userId ? h("a", { href: `#/player/${seat.userId}` }, [this.seatName(n)]) : this.seatName(n);
      const name = h("div", { class: "name" }, [swatch(n), label]);
      const dot = this.presence.dot(n);
      if (dot) name.prepend(dot);
      const away = this.presence.note(n);
      if (away) name.append(away);
      if (n === this.model.yourSeat) name.append(h("span", { class: "you", text: "you" }));
      if (seat && seat.resigned) name.append(h("small", { text: "resigned" }));
      const out = seatNote(state, this.model.history, n, state.players.length);
      if (out) name.append(h("small", { class: "out", text: out }));
      if (toMove) name.append(h("small", { text: "to move" }));
      list.append(h("li", { class: `seat${toMove ? " to-move" : ""}`, "aria-current": toMove ? "true" : null }, [
        name,
        h("div", { class: "stats" }, [
          `In hand ${pl.ringsInHand} · Took ${pl.eliminatedRings} of ${state.victoryThreshold} to win · Lost ${lost}`,
          h("br"),
          `Territory ${territory} of ${state.territoryVictoryThreshold} to win`,
        ]),
      ]));
    }
  }

  renderMoveList() {
    const model = this.model;
    $("replay-at").textContent = renderMoveList($("movelist"), {
      history: model.history,
      v: model.v,
      current: this.replayAt === null ? model.v : this.replayAt,
      live: this.replayAt === null,
      labeler: this.labeler(),
      yourSeat: model.yourSeat,
      seatName: (n) => this.seatName(n),
    });
  }

  renderActions() {
    const box = clear($("actions"));
    if (!this.meta) return;
    const mySeat = this.model.yourSeat ?? (this.meta.seats.find((s) => this.me && s.userId === this.me.id) || {}).seat;
    const status = this.model.status || this.meta.status;
    const evaluate = evaluationButton(this, status);
    if (evaluate) box.append(evaluate);
    const analysis = curveButton(this, status);
    if (analysis) box.append(analysis);
    if (status === "waiting") {
      if (mySeat) box.append(h("button", { type: "button", class: "secondary", onclick: () => this.leave() }, ["Leave"]));
      else if (this.meta.openSeats > 0) box.append(h("button", { type: "button", onclick: () => this.join() }, ["Join this game"]));
      return;
    }
    if (status !== "active" || !mySeat) {
      box.append(h("a", { href: "#/", class: "button secondary" }, ["Back to the lobby"]));
      return;
    }
    if (this.confirming) {
      box.append(
        h("span", { text: "Resign this game? It counts as a loss." }),
        h("button", { type: "button", class: "danger", id: "resign-yes", onclick: () => this.resign() }, ["Yes, resign"]),
        h("button", { type: "button", class: "secondary", id: "resign-no", onclick: () => { this.confirming = false; this.renderActions(); $("resign").focus(); } }, ["Keep playing"]),
      );
      return;
    }
    if (practiceGame(this.meta) && this.model.myTurn) {
      box.append(h("button", { type: "button", class: "secondary", id: "hint-button", onclick: () => this.askHint() }, ["Hint"]));
    }
    if (abortable(status, this.model.state)) { box.append(this.presence.abortButton()); return; }
    box.append(h("button", { type: "button", class: "secondary", id: "resign", onclick: () => { this.confirming = true; this.renderActions(); $("resign-no").focus(); } }, ["Resign…"]));
  }

  async askHint() {
    const v = this.model.v;
    try {
      const data = await api("GET", `/api/games/${this.gameId}/hint`);
      if (this.closed || data.version !== v || this.model.v !== v) return;
      this.hint = { v, move: data.move, level: data.level };
      this.render();
    } catch (err) { this.showError(err); }
  }

  async leave() {
    try { await api("POST", `/api/games/${this.gameId}/leave`); this.onLeave(); } catch (err) { this.showError(err); }
  }

  async join() {
    try { await api("POST", withInvite(`/api/games/${this.gameId}/join`, this.invite)); await this.reloadMeta(); this.model.requestFull(); } catch (err) { this.showError(err); }
  }

  async resign() {
    this.confirming = false;
    try {
      await api("POST", `/api/games/${this.gameId}/leave`);
      await this.reloadMeta();
      this.model.requestFull();
    } catch (err) { this.showError(err); }
  }

  async ended() {
    await this.reloadMeta();
    this.model.requestFull();
  }

  showError(err) {
    this.model.error = { code: err.code, message: err.message };
    this.render();
  }

  resultTitle() {
    return resultTitle(this.model, (n) => this.seatName(n));
  }

  renderResult() {
    this.result.render({
      gameId: this.gameId,
      model: this.model,
      seats: (this.meta && this.meta.seats) || [],
      seatName: (n) => this.seatName(n),
      live: this.replayAt === null,
    });
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

function keyToPos(key) {
  const [x, y, z] = key.split(",").map(Number);
  return z === undefined ? { x, y } : { x, y, z };
}
