// Seat colours (Okabe-Ito, colour-blind safe) with a shape per seat, so that nothing on the
// board is told apart by colour alone.
import { s } from "./dom.js";

export const PLAYER = {
  1: { name: "Red", color: "#d55e00", shape: "circle" },
  2: { name: "Blue", color: "#0072b2", shape: "square" },
  3: { name: "Green", color: "#009e73", shape: "triangle" },
  4: { name: "Purple", color: "#cc79a7", shape: "diamond" },
};

/** The seat's shape centred on (cx, cy) with "radius" r. */
export function glyph(player, cx, cy, r, attrs) {
  const shape = (PLAYER[player] || PLAYER[1]).shape;
  if (shape === "circle") return s("circle", { cx, cy, r: r * 0.92, ...attrs });
  if (shape === "square") {
    const a = r * 0.8;
    return s("rect", { x: cx - a, y: cy - a, width: 2 * a, height: 2 * a, rx: r * 0.12, ...attrs });
  }
  if (shape === "triangle") {
    const pts = [[cx, cy - r], [cx + r * 0.95, cy + r * 0.72], [cx - r * 0.95, cy + r * 0.72]];
    return s("polygon", { points: pts.map((p) => p.map((v) => v.toFixed(2)).join(",")).join(" "), ...attrs });
  }
  const pts = [[cx, cy - r], [cx + r, cy], [cx, cy + r], [cx - r, cy]];
  return s("polygon", { points: pts.map((p) => p.map((v) => v.toFixed(2)).join(",")).join(" "), ...attrs });
}

/** A small standalone SVG swatch of the seat (for seat lists and legends). */
export function swatch(player, size = 16) {
  const svg = s("svg", { width: size, height: size, viewBox: "-10 -10 20 20", class: "swatch", "aria-hidden": "true" });
  svg.append(glyph(player, 0, 0, 8, { fill: (PLAYER[player] || PLAYER[1]).color, stroke: "var(--ink)", "stroke-width": 1.2 }));
  return svg;
}
