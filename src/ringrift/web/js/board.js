// The SVG board: cells (square or hex from the state's board type and size), territory,
// markers, stacks seen from the top (ring colours, cap, height, controller), the last move, the
// legal targets and decisions, coordinates on the edges, keyboard focus and a short animation.
import { s } from "./dom.js";
import { hexPoints, layout, posKey } from "./geometry.js";
import { PLAYER, glyph } from "./players.js";

const MAX_BARS = 5;

export class BoardView {
  constructor(svg, { onCell }) {
    this.svg = svg;
    this.onCell = onCell;
    this.layout = null;
    this.layoutKey = "";
    this.focusKey = null;
    this.cellEls = new Map();
    svg.addEventListener("click", (e) => {
      const g = e.target.closest("[data-key]");
      if (g) { this.focusKey = g.dataset.key; this.onCell(g.dataset.key); }
    });
    svg.addEventListener("keydown", (e) => this.onKey(e));
  }

  ensureLayout(board) {
    const key = `${board.type}:${board.size}`;
    if (key !== this.layoutKey) {
      this.layout = layout(board);
      this.layoutKey = key;
      this.byKey = new Map(this.layout.cells.map((c) => [c.key, c]));
      if (!this.focusKey || !this.byKey.has(this.focusKey)) this.focusKey = this.layout.cells[Math.floor(this.layout.cells.length / 2)].key;
    }
    return this.layout;
  }

  /** opts: {roles: Map(key->role), preview: Set, lastMoves: [move], describe(key)->string, interactive} */
  render(state, opts) {
    const board = state.board;
    const lay = this.ensureLayout(board);
    const hadFocus = this.svg.contains(document.activeElement);
    const u = lay.unit;
    const half = lay.hex ? 20 : u / 2;
    const xs = lay.cells.map((c) => c.cx);
    const ys = lay.cells.map((c) => c.cy);
    const pad = half * 1.9;
    const minX = Math.min(...xs) - pad, maxX = Math.max(...xs) + (lay.hex ? pad : half * 1.2);
    const minY = Math.min(...ys) - half * 1.2, maxY = Math.max(...ys) + pad;
    this.svg.setAttribute("viewBox", `${minX} ${minY} ${maxX - minX} ${maxY - minY}`);
    const stacks = board.stacks || {};
    const markers = board.markers || {};
    const collapsed = board.collapsedSpaces || {};
    const roles = opts.roles || new Map();
    const preview = opts.preview || new Set();
    const hinted = new Set(opts.hinted || []);
    const last = new Set();
    for (const m of opts.lastMoves || []) for (const f of ["from", "to", "captureTarget"]) if (m && m[f]) last.add(posKey(m[f]));

    const root = [defs()];
    this.cellEls = new Map();
    for (const c of lay.cells) {
      const k = c.key;
      const role = roles.get(k);
      const cls = ["cell"];
      if (role) cls.push("r-" + role);
      if (preview.has(k)) cls.push("preview");
      if (last.has(k)) cls.push("last");
      if (hinted.has(k)) cls.push("hinted");
      // A still diagram (rules page) is one image; a playing board is a grid of buttons.
      const g = opts.still
        ? s("g", { class: cls.join(" "), "data-key": k, "data-role": role || "" })
        : s("g", {
          class: cls.join(" "),
          "data-key": k,
          "data-role": role || "",
          role: "button",
          tabindex: k === this.focusKey ? "0" : "-1",
          "aria-label": opts.describe(k, c.label, role),
          "aria-disabled": role && opts.interactive ? null : "true",
        });
      g.append(cellShape(lay, c, half, "base"));
      const owner = collapsed[k];
      if (owner) {
        g.append(cellShape(lay, c, half * 0.96, "territory", { fill: `url(#hatch-${owner})`, style: `--p:${PLAYER[owner].color}` }));
      }
      if (last.has(k)) g.append(cellShape(lay, c, half * 0.96, "last-tint"));
      const marker = markers[k];
      if (marker) {
        g.append(glyph(marker.player, c.cx, c.cy, half * 0.42, {
          class: "marker", fill: "none", stroke: PLAYER[marker.player].color, "stroke-width": half * 0.14,
        }));
      }
      const stack = stacks[k];
      if (stack) g.append(stackGlyph(stack, c, half));
      if (role === "target" || role === "place") {
        if (stack || marker) g.append(cellShape(lay, c, half * 0.8, "ring-hint"));
        else g.append(s("circle", { class: "dot", cx: c.cx, cy: c.cy, r: half * (role === "place" ? 0.16 : 0.24) }));
      }
      if (hinted.has(k)) g.append(cellShape(lay, c, half * 0.72, "hint-mark"));
      g.append(cellShape(lay, c, half * 0.9, "outline"));
      this.cellEls.set(k, g);
      root.push(g);
    }
    root.push(...edgeLabels(lay, half));
    this.svg.replaceChildren(...root);
    if (hadFocus) this.focus(this.focusKey);
  }

  /** Put a positioned popup (inside the board's scrolling frame) next to the cell at
   * `key`: below it, or above when it would overflow the frame, never outside it. */
  placeBeside(box, key) {
    const cell = this.cellEls.get(key);
    if (!cell) return;
    const frame = box.parentElement;
    const wrap = frame.getBoundingClientRect();
    const r = cell.getBoundingClientRect();
    const left = Math.max(0, Math.min(r.left - wrap.left, wrap.width - box.offsetWidth));
    const below = r.bottom - wrap.top + 4;
    const top = below + box.offsetHeight > wrap.height ? Math.max(0, r.top - wrap.top - box.offsetHeight - 4) : below;
    box.style.left = `${left + frame.scrollLeft}px`;
    box.style.top = `${top + frame.scrollTop}px`;
  }

  focus(key) {
    const old = this.cellEls.get(this.focusKey);
    if (old) old.setAttribute("tabindex", "-1");
    this.focusKey = key;
    const el = this.cellEls.get(key);
    if (el) { el.setAttribute("tabindex", "0"); el.focus(); }
  }

  onKey(e) {
    const cur = this.byKey && this.byKey.get(this.focusKey);
    if (!cur) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.onCell(cur.key);
      return;
    }
    const dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const d = dirs[e.key];
    if (!d) return;
    e.preventDefault();
    // The nearest cell in the arrow's direction (works for both square and hex layouts).
    let best = null, bestScore = Infinity;
    for (const c of this.layout.cells) {
      const dx = c.cx - cur.cx, dy = c.cy - cur.cy;
      const along = dx * d[0] + dy * d[1];
      if (along <= 1) continue;
      const across = Math.abs(dx * d[1] - dy * d[0]);
      const score = along + across * 2.5;
      if (score < bestScore) { bestScore = score; best = c; }
    }
    if (best) this.focus(best.key);
  }

  /** Slide the moved stack from its origin (or drop a placed ring) for a fraction of a second. */
  animate(move) {
    if (!move || !this.layout || matchMedia("(prefers-reduced-motion: reduce)").matches) return;
    const to = move.to && this.byKey.get(posKey(move.to));
    const g = to && this.cellEls.get(to.key);
    const stack = g && g.querySelector(".stack");
    if (!stack) return;
    const from = move.from && this.byKey.get(posKey(move.from));
    if (from) {
      const dx = from.cx - to.cx, dy = from.cy - to.cy;
      g.parentNode.append(g); // on top while it travels
      stack.animate([{ transform: `translate(${dx}px, ${dy}px)` }, { transform: "translate(0, 0)" }], { duration: 240, easing: "ease-out" });
    } else if (move.type === "place_ring") {
      stack.animate([{ opacity: 0.2 }, { opacity: 1 }], { duration: 200, easing: "ease-out" });
    }
  }
}

function cellShape(lay, c, r, cls, extra) {
  if (lay.hex) return s("polygon", { class: cls, points: hexPoints(c.cx, c.cy, r), ...extra });
  return s("rect", { class: cls, x: c.cx - r, y: c.cy - r, width: 2 * r, height: 2 * r, ...extra });
}

function stackGlyph(stack, c, half) {
  const g = s("g", { class: "stack" });
  const rings = stack.rings || [];
  const shown = rings.slice(0, MAX_BARS);
  const barW = half * 1.3, barH = half * 0.2, gap = half * 0.05;
  const total = shown.length * barH + (shown.length - 1) * gap;
  let y = c.cy - total / 2 + half * 0.08;
  shown.forEach((ring, i) => {
    const isCap = i < (stack.capHeight || 1);
    g.append(s("rect", {
      class: isCap ? "ring cap" : "ring",
      x: c.cx - barW / 2, y, width: barW, height: barH, rx: barH / 2,
      fill: PLAYER[ring].color,
    }));
    y += barH + gap;
  });
  if (rings.length > MAX_BARS) {
    g.append(s("text", { class: "more", x: c.cx, y: y + barH * 0.6, "text-anchor": "middle", "font-size": half * 0.34 }, ["⋯"]));
  }
  // The controller's shape carries the height, in the top-left corner.
  const br = half * 0.36;
  const bx = c.cx - half * 0.58, by = c.cy - half * 0.58;
  g.append(glyph(stack.controllingPlayer, bx, by, br, { class: "badge", fill: PLAYER[stack.controllingPlayer].color }));
  g.append(s("text", {
    class: "height", x: bx, y: by + br * 0.38, "text-anchor": "middle", "font-size": br * 1.15,
  }, [String(stack.stackHeight)]));
  return g;
}

function defs() {
  const d = s("defs");
  for (const [p, info] of Object.entries(PLAYER)) {
    const pat = s("pattern", { id: `hatch-${p}`, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    pat.append(s("rect", { width: 6, height: 6, fill: info.color, "fill-opacity": 0.5 }));
    pat.append(s("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: info.color, "stroke-width": 3 }));
    d.append(pat);
  }
  return d;
}

function edgeLabels(lay, half) {
  const out = [];
  const text = (x, y, t) => s("text", { class: "coord", x, y, "text-anchor": "middle", "font-size": half * 0.55, "aria-hidden": "true" }, [t]);
  if (lay.hex) {
    // Each label sits where the next cell of its row (to the left) or of its diagonal (down
    // and to the right) would be, just off the board.
    const u = lay.unit;
    const at = (x, y) => ({ cx: u * Math.sqrt(3) * (x + y / 2), cy: u * 1.5 * y });
    const rowStart = new Map(), diagEnd = new Map();
    for (const c of lay.cells) {
      if (!rowStart.has(c.y) || rowStart.get(c.y).x > c.x) rowStart.set(c.y, c);
      if (!diagEnd.has(c.x) || diagEnd.get(c.x).y < c.y) diagEnd.set(c.x, c);
    }
    for (const c of rowStart.values()) {
      const p = at(c.x - 1, c.y);
      out.push(text(p.cx + half * 0.3, p.cy + half * 0.2, c.label.replace(/\d+$/, "")));
    }
    for (const c of diagEnd.values()) {
      const p = at(c.x, c.y + 1);
      out.push(text(p.cx - half * 0.35, p.cy - half * 0.25, c.label.replace(/^[a-z]/, "")));
    }
    return out;
  }
  for (const c of lay.cells) {
    if (c.y === lay.size - 1) out.push(text(c.cx, c.cy + half * 1.55, c.label[0]));
    if (c.x === 0) out.push(text(c.cx - half * 1.4, c.cy + half * 0.2, c.label.slice(1)));
  }
  return out;
}
