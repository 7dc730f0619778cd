// Plain-words messages for the server's error codes (the code itself is never shown first).

const PLAIN = {
  AUTH_INVALID_CREDENTIALS: "That email and password do not match an account.",
  AUTH_LOGIN_LOCKED_OUT: "Too many failed sign-ins. Wait a few minutes and try again.",
  AUTH_REQUIRED: "Please sign in first.",
  AUTH_TOKEN_EXPIRED: "Your session has expired. Please sign in again.",
  AUTH_TOKEN_INVALID: "Your session is no longer valid. Please sign in again.",
  RESOURCE_EMAIL_EXISTS: "An account with that email already exists. Try signing in.",
  RESOURCE_USERNAME_EXISTS: "That username is taken. Pick another one.",
  RESOURCE_ACCESS_DENIED: "This game is private.",
  GAME_NOT_FOUND: "This game does not exist (any more).",
  GAME_NOT_JOINABLE: "This game cannot be joined any more.",
  GAME_FULL: "This game is already full.",
  GAME_ALREADY_JOINED: "You are already seated in this game.",
  GAME_INVALID_MOVE: "That move is not allowed here.",
  GAME_NOT_YOUR_TURN: "Wait for your turn.",
  GAME_ALREADY_ENDED: "This game is over.",
  GAME_VERSION_CONFLICT: "The position changed before your move arrived; the board is up to date now.",
  RATE_LIMIT_EXCEEDED: "You are going a bit fast. Wait a moment and try again.",
  SERVER_DATABASE_UNAVAILABLE: "The server is having trouble right now. Try again in a moment.",
  SERVER_INTERNAL_ERROR: "Something went wrong on the server. Try again.",
  NETWORK: "The server cannot be reached. Check your connection and try again.",
  AUTH_EMAIL_NOT_VERIFIED: "Rated games need a verified email address: use the link we mailed you.",
  AUTH_EMAIL_ALREADY_VERIFIED: "Your email address is already verified.",
  AUTH_ACCOUNT_TOKEN_INVALID: "This link is no longer valid (used, expired or replaced). Ask for a new one.",
  AUTH_ACCOUNT_BANNED: "This account is suspended.",
  GAME_TIME_OUT: "Your time ran out before the move arrived.",
  GAME_UNTIMED_NOT_ALLOWED: "Games with other people need a time control; untimed is for games against the AI.",
};

/** A sentence for a user: the plain message for a known code, else the server's message. */
export function plain(code, message) {
  if (code === "VALIDATION_FAILED") return message ? "Please check the form: " + message : "Please check the form.";
  return PLAIN[code] || message || "Something went wrong.";
}
