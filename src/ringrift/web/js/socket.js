// One WebSocket to the server: authenticates with a first frame (never a token in the URL),
// reconnects with backoff after a drop or a server restart, and reports its status so the page
// can show a "reconnecting" sign. Frames are JSON {t, d}.
import { refreshSession, session } from "./api.js";

export class Connection {
  constructor() {
    this.ws = null;
    this.status = "idle"; // idle | connecting | open | reconnecting | closed | unauthorized
    this.handlers = new Set();
    this.statusHandlers = new Set();
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
    this.authFailed = false;
  }

  onFrame(fn) { this.handlers.add(fn); return () => this.handlers.delete(fn); }
  onStatus(fn) { this.statusHandlers.add(fn); return () => this.statusHandlers.delete(fn); }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    for (const fn of this.statusHandlers) fn(status);
  }

  open() {
    this.wanted = true;
    if (this.ws && this.ws.readyState <= 1) return;
    clearTimeout(this.timer);
    this.setStatus(this.attempt ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ t: "auth", d: { token: session.token || "" } }));
      this.attempt = 0;
      this.authFailed = false;
      this.setStatus("open");
    };
    ws.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      if (frame.t === "error" && /^AUTH_/.test(frame.d && frame.d.code)) this.authFailed = true;
      for (const fn of this.handlers) fn(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.wanted) { this.setStatus("closed"); return; }
      this.scheduleReconnect();
    };
  }

  async scheduleReconnect() {
    this.attempt += 1;
    this.setStatus("reconnecting");
    // 0.5 s doubling up to 8 s, with jitter so a restarted server is not hit by everyone at once.
    const delay = Math.min(8000, 500 * 2 ** (this.attempt - 1)) * (0.75 + Math.random() * 0.5);
    if (this.authFailed) {
      this.authFailed = false;
      if ((await refreshSession()) === false) {
        // The session is over (refresh refused): stop and let the page ask for a sign-in.
        this.wanted = false;
        this.attempt = 0;
        this.setStatus("unauthorized");
        return;
      }
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { if (this.wanted) this.open(); }, delay);
  }

  /** Send a frame; false when the socket is not open (the caller keeps its state). */
  send(t, d) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify({ t, d }));
    return true;
  }

  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.attempt = 0;
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
    this.setStatus("closed");
  }
}
