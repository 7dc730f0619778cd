// The time control of the new-game form: the server's presets (GET /api/time-controls), and
// "untimed", which the server allows only when every other seat is an AI. The choice follows the
// AI count until the player picks one: untimed against AI only, 10+5 when people can join.
import { api } from "../api.js";
import { h } from "../dom.js";

const UNTIMED = "untimed";
const DEFAULT_PRESET = "10+5";

export class TimeControlPicker {
  constructor(form) {
    this.form = form;
    this.select = form.elements.timeControl;
    this.loaded = false;
    this.touched = false;
    this.select.addEventListener("change", () => { this.touched = true; this.sync(); });
    for (const name of ["aiCount", "maxPlayers"]) form.elements[name].addEventListener("change", () => this.sync());
  }

  /** People can take a seat: not every other seat is an AI. */
  withPeople() {
    return Number(this.form.elements.aiCount.value) < Number(this.form.elements.maxPlayers.value) - 1;
  }

  async load() {
    if (!this.loaded) {
      const { presets } = await api("GET", "/api/time-controls");
      this.select.replaceChildren(
        h("option", { value: UNTIMED, text: "Untimed (against AI only)" }),
        ...presets.map((p) => h("option", { value: p.label, text: p.kind === "fischer" ? `${p.label} (minutes + seconds a turn)` : `${p.label} a move` })),
      );
      this.loaded = true;
    }
    this.sync();
  }

  sync() {
    const people = this.withPeople();
    const untimed = this.select.querySelector(`option[value="${UNTIMED}"]`);
    if (untimed) untimed.disabled = people;
    if (people && this.select.value === UNTIMED) this.select.value = DEFAULT_PRESET;
    else if (!people && !this.touched) this.select.value = UNTIMED;
  }

  /** The request's timeControl: a preset name or "untimed". */
  value() {
    return this.select.value || (this.withPeople() ? DEFAULT_PRESET : UNTIMED);
  }
}
