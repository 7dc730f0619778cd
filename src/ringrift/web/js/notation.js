// Readable move notation ("c3-c5", "b2xc3-d4", "+2 e4") and sentences for the live region.
import { posKey } from "./geometry.js";

export function makeLabeler(lay) {
  const labels = new Map(lay.cells.map((c) => [c.key, c.label]));
  return (p) => {
    if (!p) return "?";
    const k = posKey(p);
    if (labels.has(k)) return labels.get(k);
    if (p.z === undefined) return labels.get(`${p.x},${p.y},${-p.x - p.y}`) || k;
    return k;
  };
}

function lineCells(m) {
  if (m.collapsedMarkers) return m.collapsedMarkers;
  return (m.formedLines && m.formedLines[0] && m.formedLines[0].positions) || [];
}

function regionCells(m) {
  return (m.disconnectedRegions && m.disconnectedRegions[0] && m.disconnectedRegions[0].spaces) || [];
}

// A seat that left the game (F-30): the server's reasons, for the move list and the live region.
const WITHDRAWN = { resignation: "resigned", timeout: "time", abandoned: "left" };
const WITHDREW = {
  resignation: "resigned",
  timeout: "ran out of time",
  abandoned: "left the game and was resigned",
};

/** Short notation for the move list. */
export function notation(m, at) {
  if (!m) return "?";
  switch (m.type) {
    case "place_ring": return `+${m.placementCount || 1} ${at(m.to)}`;
    case "move_stack": return `${at(m.from)}-${at(m.to)}`;
    case "overtaking_capture":
    case "continue_capture_segment": return `${at(m.from)}x${at(m.captureTarget)}-${at(m.to)}`;
    case "recovery_slide": return `R ${at(m.from)}-${at(m.to)}`;
    case "process_line":
    case "choose_line_option": {
      const cells = lineCells(m);
      return `line ${at(cells[0])}..${at(cells[cells.length - 1])}`;
    }
    case "choose_territory_option": return `territory ${regionCells(m).length} at ${at(regionCells(m)[0])}`;
    case "eliminate_rings_from_stack": return `elim ${at(m.to)}`;
    case "forced_elimination": return `forced elim ${at(m.to)}`;
    case "swap_sides": return "swap";
    case "withdraw": return `out (${WITHDRAWN[m.reason] || m.reason})`;
    default: return "pass";
  }
}

/** A sentence announcing a move ("Blue moved c3 to c5."). */
export function sentence(m, at, who) {
  if (!m) return "";
  switch (m.type) {
    case "place_ring": {
      const n = m.placementCount || 1;
      return `${who} placed ${n} ring${n > 1 ? "s" : ""} on ${at(m.to)}.`;
    }
    case "move_stack": return `${who} moved ${at(m.from)} to ${at(m.to)}.`;
    case "overtaking_capture":
    case "continue_capture_segment":
      return `${who} jumped from ${at(m.from)} over ${at(m.captureTarget)} to ${at(m.to)}, capturing.`;
    case "recovery_slide": return `${who} made a recovery slide from ${at(m.from)} to ${at(m.to)}.`;
    case "process_line":
    case "choose_line_option": return `${who} collapsed a line of ${lineCells(m).length} markers.`;
    case "choose_territory_option": return `${who} claimed a region of ${regionCells(m).length} cells.`;
    case "eliminate_rings_from_stack": return `${who} removed a ring from the stack on ${at(m.to)}.`;
    case "forced_elimination": return `${who} had no move and gave up the cap of ${at(m.to)}.`;
    case "swap_sides": return `${who} swapped sides.`;
    case "withdraw": return `${who} ${WITHDREW[m.reason] || "left the game"}.`;
    default: return "";
  }
}

export { lineCells, regionCells };
