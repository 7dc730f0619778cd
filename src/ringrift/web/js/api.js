// REST calls with the session's bearer token; a 401 refreshes the token once and retries.

const store = window.localStorage;

export class ApiError extends Error {
  constructor(code, message, status, details) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details || null;
  }
}

export const session = {
  get token() { return store.getItem("accessToken"); },
  get refreshToken() { return store.getItem("refreshToken"); },
  get user() {
    try { return JSON.parse(store.getItem("user") || "null"); } catch { return null; }
  },
  save(data) {
    if (data.accessToken) store.setItem("accessToken", data.accessToken);
    if (data.refreshToken) store.setItem("refreshToken", data.refreshToken);
    if (data.user) store.setItem("user", JSON.stringify(data.user));
  },
  clear() {
    for (const k of ["accessToken", "refreshToken", "user"]) store.removeItem(k);
  },
};

let refreshing = null;
const refreshed = new Set();

/** Call fn() after every successful token refresh (the socket re-authenticates with it). */
export function onRefresh(fn) {
  refreshed.add(fn);
  return () => refreshed.delete(fn);
}

/** Trade the refresh token for a new pair: true, false (the session is over) or null (the
 * server could not be reached). One refresh at a time for the whole page. */
export function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      if (!session.refreshToken) return false;
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refreshToken: session.refreshToken }),
      }).catch(() => null);
      if (!response || response.status >= 500) return null; // unknown: try again later
      if (!response.ok) {
        session.clear();
        return false;
      }
      session.save((await response.json()).data);
      for (const fn of refreshed) fn();
      return true;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** `signal` (an AbortSignal) lets the caller drop a long-poll it no longer wants. */
export async function api(method, path, body, retry = true, signal = undefined) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session.token) headers.Authorization = "Bearer " + session.token;
  let response;
  try {
    response = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    if (err && err.name === "AbortError") throw new ApiError("ABORTED", "", 0);
    throw new ApiError("NETWORK", "The server cannot be reached. Check your connection and try again.", 0);
  }
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && retry && session.refreshToken && !path.startsWith("/api/auth/")) {
    if (await refreshSession()) return api(method, path, body, false, signal);
  }
  if (!response.ok || data.success === false) {
    const error = data.error || {};
    throw new ApiError(error.code || String(response.status), error.message || "The request failed.", response.status, error.details);
  }
  return data.data;
}
