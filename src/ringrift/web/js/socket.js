// One WebSocket to the server: authenticates with a first frame (never a token in the URL),
// reconnects with backoff after a drop or a server restart, and reports its status so the page
// can show a "reconnecting" sign. Frames are JSON {t, d}. The socket stays bound to its token:
// after every refresh it sends `auth {token}` with the new one; a close with 4401 (token revoked
// or expired) refreshes and reconnects, or ends the session when the refresh is refused; 4429
// (too many sockets for this user) waits longer before trying again.
import { onRefresh, refreshSession, session } from "./api.js";

export const CLOSE_AUTH = 4401;
export const CLOSE_TOO_MANY = 4429;

export class Connection {
  constructor() {
    this.ws = null;
    this.status = "idle"; // idle | connecting | open | reconnecting | too-many | closed | unauthorized
    this.handlers = new Set();
    this.statusHandlers = new Set();
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
    this.authFailed = false;
    this.tooMany = false;
    onRefresh(() => this.reauth());
    // Another tab of this site refreshed the shared session: adopt its access token too.
    window.addEventListener("storage", (e) => { if (e.key === "accessToken" && e.newValue) this.reauth(); });
  }

  /** The server's notice that the token expired: refresh within its grace period. Every tab
   * gets the notice at about the same time; a random pause lets one tab refresh and the others
   * adopt its token (storage event) instead of spending the same refresh token again. */
  expiring() {
    const token = session.token;
    setTimeout(() => {
      if (session.token !== token) this.reauth();
      else refreshSession();
    }, Math.random() * 5000);
  }

  /** Hand the open socket the current access token (after a refresh). */
  reauth() {
    if (session.token) this.send("auth", { token: session.token });
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
    if (!this.tooMany) this.setStatus(this.attempt ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ t: "auth", d: { token: session.token || "" } }));
      this.attempt = 0;
      this.authFailed = false;
      this.tooMany = false;
      this.setStatus("open");
    };
    ws.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      if (frame.t === "error" && /^AUTH_/.test(frame.d && frame.d.code)) {
        // The socket's own business, not the page's: never shown as a game error.
        if (frame.d.details && frame.d.details.reauthWithinSeconds !== undefined) this.expiring();
        else this.authFailed = true;
        return;
      }
      for (const fn of this.handlers) fn(frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.wanted) { this.setStatus("closed"); return; }
      if (e.code === CLOSE_AUTH) this.authFailed = true;
      if (e.code === CLOSE_TOO_MANY) {
        this.tooMany = true;
        this.setStatus("too-many");
      }
      this.scheduleReconnect();
    };
  }

  async scheduleReconnect() {
    this.attempt += 1;
    if (!this.tooMany) this.setStatus("reconnecting");
    // 0.5 s doubling up to 8 s, with jitter so a restarted server is not hit by everyone at once;
    // 15 s when the server said this user has too many sockets open (closing a tab frees one).
    const base = this.tooMany ? 15000 : Math.min(8000, 500 * 2 ** (this.attempt - 1));
    let delay = base * (0.75 + Math.random() * 0.5);
    if (this.authFailed) {
      this.authFailed = false;
      const renewed = await refreshSession();
      if (renewed) delay = 0; // a fresh token: reconnect at once
      if (renewed === false) {
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
    this.tooMany = false;
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
    this.setStatus("closed");
  }
}
