// Invitations to private games. A private game's seated players see a "Copy invite link"
// control while it waits; the link is #/game/ID?invite=TOKEN (the token stays in the fragment,
// which the browser never sends to a server). Opening the link shows the game with its Join
// button; every call of that page then carries the token (REST ?invite=, socket join frame).
import { $, clear, h } from "../dom.js";

/** The invite token of a #/game/ID?invite=TOKEN address, or null. */
export function inviteFromHash(hash) {
  const query = (hash || "").split("?")[1];
  if (!query) return null;
  const token = new URLSearchParams(query).get("invite");
  return token && token.length <= 128 ? token : null;
}

/** An API path with the invite token added as ?invite= (unchanged without a token). */
export function withInvite(path, invite) {
  if (!invite) return path;
  return `${path}${path.includes("?") ? "&" : "?"}invite=${encodeURIComponent(invite)}`;
}

export function inviteLink(gameId, token) {
  return `${location.origin}${location.pathname}#/game/${gameId}?invite=${encodeURIComponent(token)}`;
}

/** The "Copy invite link" box of the game page (container #invite). */
export class InvitePanel {
  constructor(view) {
    this.view = view;
    this.shownFor = null; // the link the box was built for (kept while it does not change)
    $("invite").hidden = true;
  }

  render() {
    const box = $("invite");
    const meta = this.view.meta;
    const status = (meta && (this.view.model.status || meta.status)) || null;
    const token = meta && meta.isPrivate && meta.inviteToken;
    if (!token || status !== "waiting") {
      box.hidden = true;
      this.shownFor = null;
      return;
    }
    const link = inviteLink(meta.id, token);
    box.hidden = false;
    if (this.shownFor === link) return;
    this.shownFor = link;
    const said = h("span", { id: "invite-copied", class: "invite-said", role: "status" });
    const field = h("input", { id: "invite-link", type: "text", readonly: true, value: link, "aria-label": "Invite link" });
    field.addEventListener("focus", () => field.select());
    const copy = h("button", { type: "button", id: "invite-copy", onclick: () => this.copy(field, said) }, ["Copy invite link"]);
    clear(box).append(
      h("p", { class: "invite-text", text: "This game is private: only people with its link can join or watch." }),
      h("div", { class: "invite-row" }, [field, copy]),
      said,
    );
  }

  async copy(field, said) {
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      said.textContent = "Copied: send it to the people you want to play with.";
    } catch {
      said.textContent = "Copy the selected link (Ctrl+C or ⌘C) and send it.";
    }
  }
}
