// The game chat panel: the `players` and `spectators` channels of one game, fed by `chat` and
// `chatHistory` frames on the shared socket. Text only ever goes in through textContent (the
// dom.js helpers), so a message such as <img src=x onerror=...> shows as those characters.
// The server decides which channels this viewer may read: a channel's toggle appears once its
// first history arrives. Per channel the panel keeps the last seq it has, which the game model
// sends with every join so a reconnect brings exactly what was missed. Muting a channel is a
// preference of this browser (localStorage): its messages are kept but not shown, counted or
// announced. A player alone among AI seats has nobody to talk to: with only the players
// channel to show, the panel stays hidden (`solo`).
import { api } from "../api.js";
import { h } from "../dom.js";

export const MAX_BODY = 300;
const CHANNELS = ["players", "spectators"];
const LABELS = { players: "Players", spectators: "Spectators" };
const MUTE_KEY = "ringrift.chat.muted";
const REMOVED = { moderator: "removed by a moderator", author_deleted: "deleted with its author's account" };

function loadMuted() {
  try {
    const saved = JSON.parse(localStorage.getItem(MUTE_KEY) || "[]");
    return new Set(Array.isArray(saved) ? saved.filter((c) => CHANNELS.includes(c)) : []);
  } catch { return new Set(); }
}

export class ChatPanel {
  constructor(root, gameId, conn, { me, solo = () => false }) {
    this.root = root;
    this.solo = solo;
    this.gameId = gameId;
    this.conn = conn;
    this.me = me;
    this.channels = new Map(); // channel -> {messages: Map(seq -> message), last, unread}
    this.active = null;
    this.muted = loadMuted();
    this.nextAck = 1;
    this.pendingAck = null;
    this.reporting = null; // message id whose report form is open
    this.inView = true;
    this.build();
    this.off = conn.onFrame((frame) => this.onFrame(frame));
    // Unread counts what arrives while the panel is off screen (below the board on a phone)
    // or the tab is hidden, and what arrives on the channel not shown.
    this.onVisible = () => { if (!document.hidden) this.render(); };
    document.addEventListener("visibilitychange", this.onVisible);
    if (typeof IntersectionObserver === "function") {
      this.observer = new IntersectionObserver((entries) => {
        this.inView = entries.some((e) => e.isIntersecting);
        if (this.inView) this.render();
      });
      this.observer.observe(this.root);
    }
  }

  get seen() { return this.inView && !document.hidden; }

  dispose() {
    this.off();
    document.removeEventListener("visibilitychange", this.onVisible);
    if (this.observer) this.observer.disconnect();
    this.root.replaceChildren();
    this.root.hidden = true;
  }

  /** The `chat` field of a join frame: the last seq we have per channel. */
  joinFields() {
    const chat = {};
    for (const [name, ch] of this.channels) if (ch.last > 0) chat[name] = ch.last;
    return { chat };
  }

  // -- building ---------------------------------------------------------------------------------

  build() {
    this.root.hidden = true;
    this.title = h("h2", { id: "chat-title", text: "Chat" });
    this.switcher = h("div", { class: "chat-tabs", role: "group", "aria-label": "Chat channel" });
    this.muteButton = h("button", { type: "button", class: "secondary chat-mute", "aria-pressed": "false", onclick: () => this.toggleMute() });
    this.list = h("ol", { class: "chat-list", tabindex: "0", "aria-label": "Chat messages" });
    this.mutedNote = h("p", { class: "chat-note", hidden: true });
    this.live = h("p", { class: "visually-hidden", "aria-live": "polite" });
    this.status = h("p", { class: "chat-status", role: "status" });
    this.root.replaceChildren(
      h("div", { class: "chat-head" }, [this.title, this.muteButton]),
      this.switcher, this.mutedNote, this.list, this.buildForm(), this.status, this.live,
    );
  }

  buildForm() {
    if (!this.me) {
      this.input = null;
      return h("p", { class: "chat-note", text: "Sign in to chat." });
    }
    this.input = h("input", {
      id: "chat-input", type: "text", maxlength: String(MAX_BODY), autocomplete: "off",
      "aria-describedby": "chat-count",
    });
    this.counter = h("span", { id: "chat-count", class: "chat-count", text: `0/${MAX_BODY}` });
    this.input.addEventListener("input", () => this.count());
    this.sendButton = h("button", { type: "submit", text: "Send" });
    this.inputLabel = h("label", { for: "chat-input", class: "visually-hidden", text: "Message" });
    return h("form", { class: "chat-form", onsubmit: (e) => { e.preventDefault(); this.send(); } }, [
      this.inputLabel, this.input, this.sendButton, this.counter,
    ]);
  }

  count() {
    const n = this.input.value.trim().length;
    this.counter.textContent = `${this.input.value.length}/${MAX_BODY}`;
    this.counter.classList.toggle("over", n > MAX_BODY);
  }

  // -- frames -----------------------------------------------------------------------------------

  onFrame(frame) {
    const d = frame.d || {};
    if (frame.t === "ack" && d.ack === this.pendingAck) {
      this.pendingAck = null;
      this.status.textContent = "";
      if (this.input) { this.input.value = ""; this.count(); }
      return;
    }
    if (frame.t === "error" && this.pendingAck !== null && d.ack === this.pendingAck) {
      this.pendingAck = null;
      this.status.textContent = errorText(d);
      return;
    }
    if (d.gameId !== this.gameId) return;
    if (frame.t === "chatHistory") this.onHistory(d);
    else if (frame.t === "chat") this.onMessage(d.channel, d.message, true);
  }

  channel(name) {
    let ch = this.channels.get(name);
    if (!ch) {
      ch = { messages: new Map(), last: 0, unread: 0 };
      this.channels.set(name, ch);
      if (this.active === null) this.active = name;
      this.root.hidden = this.pointless();
    }
    return ch;
  }

  onHistory(d) {
    if (!CHANNELS.includes(d.channel)) return;
    if (Array.isArray(d.readable)) {
      // Taking a seat closes the spectator channel (until the game is over): drop what the
      // server no longer lets us read, and show the players' channel once it opens.
      for (const name of [...this.channels.keys()]) if (!d.readable.includes(name)) this.channels.delete(name);
      if (!this.channels.has(this.active)) this.active = null;
      if (d.channel === "players" && !this.channels.has("players")) this.active = null;
    }
    const ch = this.channel(d.channel);
    // A catch-up after a reconnect counts as unread; the first load of a channel does not.
    const catchUp = ch.last > 0;
    for (const seq of d.removed || []) {
      const m = ch.messages.get(seq);
      if (m && !m.removed) ch.messages.set(seq, { ...m, body: null, removed: "moderator" });
    }
    for (const m of d.messages || []) this.onMessage(d.channel, m, false, catchUp);
    this.render();
  }

  onMessage(name, m, live, count = live) {
    if (!CHANNELS.includes(name) || !m || typeof m.seq !== "number") return;
    const ch = this.channel(name);
    const known = ch.messages.get(m.seq);
    ch.messages.set(m.seq, m);
    if (m.seq > ch.last) ch.last = m.seq;
    const fresh = !known && !m.removed;
    if (fresh && !this.muted.has(name) && !(this.me && m.userId === this.me.id)) {
      if (count && (name !== this.active || !this.seen)) ch.unread += 1;
      if (live) this.live.textContent = `${LABELS[name]} chat, ${m.username || "someone"}: ${m.body}`;
    }
    if (live) this.render();
  }

  // -- actions ----------------------------------------------------------------------------------

  send() {
    if (!this.input || this.pendingAck !== null) return;
    const body = this.input.value.trim();
    if (!body) { this.status.textContent = "Type a message first."; return; }
    if (body.length > MAX_BODY) { this.status.textContent = `At most ${MAX_BODY} characters.`; return; }
    const ack = `chat:${this.nextAck++}`;
    if (!this.conn.send("chat", { gameId: this.gameId, channel: this.active, body, ack })) {
      this.status.textContent = "Not connected; try again in a moment.";
      return;
    }
    this.pendingAck = ack;
    this.status.textContent = "Sending…";
    // No answer (the socket dropped meanwhile): let the player try again; the text stays.
    setTimeout(() => {
      if (this.pendingAck === ack) { this.pendingAck = null; this.status.textContent = "Not sent; try again."; }
    }, 10000);
  }

  select(name) {
    this.active = name;
    this.channels.get(name).unread = 0;
    this.reporting = null;
    this.render();
  }

  toggleMute() {
    if (!this.active) return;
    if (this.muted.has(this.active)) this.muted.delete(this.active);
    else { this.muted.add(this.active); this.channels.get(this.active).unread = 0; }
    try { localStorage.setItem(MUTE_KEY, JSON.stringify([...this.muted])); } catch { /* private mode */ }
    this.render();
  }

  async report(m, reason) {
    try {
      await api("POST", `/api/chat/${encodeURIComponent(m.id)}/report`, { reason });
      this.status.textContent = "Thank you: the moderators will look at it.";
    } catch (err) {
      this.status.textContent = errorText(err);
    }
    this.reporting = null;
    this.render();
  }

  // -- rendering --------------------------------------------------------------------------------

  /** After the game's seats changed (someone joined, an AI seat filled). */
  refreshVisibility() {
    if (this.channels.size) this.root.hidden = this.pointless();
  }

  /** Only the players channel, and no other person in the game to read it. */
  pointless() {
    return this.solo() && [...this.channels.keys()].every((name) => name === "players");
  }

  render() {
    if (!this.active) return;
    this.root.hidden = this.pointless();
    const ch = this.channels.get(this.active);
    if (this.seen) ch.unread = 0;
    const total = [...this.channels.values()].reduce((n, c) => n + c.unread, 0);
    this.title.textContent = total ? `Chat (${total} unread)` : "Chat";
    this.switcher.replaceChildren(...[...this.channels.keys()].map((name) => {
      const c = this.channels.get(name);
      const unread = c.unread ? ` (${c.unread} unread)` : "";
      return h("button", {
        type: "button", class: "secondary", "aria-pressed": String(name === this.active),
        onclick: () => this.select(name), text: `${LABELS[name]}${unread}`,
      });
    }));
    this.switcher.hidden = this.channels.size < 2;
    const muted = this.muted.has(this.active);
    this.muteButton.textContent = muted ? `Unmute ${LABELS[this.active].toLowerCase()}` : `Mute ${LABELS[this.active].toLowerCase()}`;
    this.muteButton.setAttribute("aria-pressed", String(muted));
    this.mutedNote.hidden = !muted;
    this.mutedNote.textContent = `You muted the ${LABELS[this.active].toLowerCase()} channel on this device.`;
    this.list.hidden = muted;
    this.list.setAttribute("aria-label", `${LABELS[this.active]} chat messages`);
    if (this.input) {
      this.input.placeholder = `Message to ${LABELS[this.active].toLowerCase()}`;
      this.inputLabel.textContent = `Message to the ${LABELS[this.active].toLowerCase()} channel`;
    }
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const items = [...ch.messages.values()].sort((a, b) => a.seq - b.seq).map((m) => this.item(m));
    this.list.replaceChildren(...(items.length ? items : [h("li", { class: "chat-empty", text: "No messages yet." })]));
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  item(m) {
    const mine = this.me && m.userId === this.me.id;
    const parts = [h("span", { class: "chat-author", text: m.username || "someone" }), " "];
    if (m.removed) parts.push(h("em", { class: "chat-removed", text: REMOVED[m.removed] || "removed" }));
    else parts.push(h("span", { class: "chat-body", text: m.body }));
    if (this.me && !mine && !m.removed) {
      if (this.reporting === m.id) parts.push(this.reportForm(m));
      else parts.push(h("button", {
        type: "button", class: "link chat-report", "aria-label": `Report this message by ${m.username || "someone"}`,
        onclick: () => { this.reporting = m.id; this.render(); this.list.querySelector(".chat-reason")?.focus(); },
        text: "Report",
      }));
    }
    return h("li", { class: mine ? "mine" : null, dataset: { seq: String(m.seq) } }, parts);
  }

  reportForm(m) {
    const reason = h("input", { type: "text", class: "chat-reason", maxlength: "1000", "aria-label": "Why are you reporting this message?", placeholder: "Reason" });
    return h("form", {
      class: "chat-report-form",
      onsubmit: (e) => { e.preventDefault(); if (reason.value.trim().length >= 3) this.report(m, reason.value.trim()); },
    }, [reason, h("button", { type: "submit", text: "Send report" }),
      h("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => { this.reporting = null; this.render(); } })]);
  }
}

function errorText(err) {
  const code = err && err.code;
  if (code === "RATE_LIMIT_EXCEEDED") {
    const wait = err.details && err.details.retryAfter;
    return `You are sending messages too fast${wait ? `; wait ${wait} s` : ""}.`;
  }
  if (code === "CHAT_MUTED") return "A moderator has muted you in chat for now.";
  if (code === "CHAT_CHANNEL_FORBIDDEN") return "You cannot write in this channel.";
  if (code === "VALIDATION_FAILED") return `Messages are 1 to ${MAX_BODY} characters of plain text.`;
  return (err && err.message) || "Could not send the message.";
}
