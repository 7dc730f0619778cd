// From the legal moves to what the board offers: which cells can be clicked, what lights up,
// and the one sentence that explains a decision. A click either selects, opens a small inline
// choice (ring count, line option, capture branch), or yields exactly one move to submit.
import { posKey } from "./geometry.js";
import { BOOKKEEPING, } from "./model.js";
import { lineCells, regionCells } from "./notation.js";

const MOVING = new Set(["move_stack", "overtaking_capture", "continue_capture_segment", "recovery_slide"]);
const LINES = new Set(["process_line", "choose_line_option"]);
const ELIMINATIONS = new Set(["eliminate_rings_from_stack", "forced_elimination"]);

const BUTTON_TEXT = {
  skip_placement: ["Don't place", "Keep your rings in hand and move a stack instead."],
  skip_capture: ["Stop here", "End the move without capturing."],
  skip_territory_processing: ["Leave the regions", "Do not claim any (more) regions this turn."],
  skip_recovery: ["Skip recovery", "Do not make a recovery slide this turn."],
  swap_sides: ["Swap sides", "Take over your opponent's position and let them play yours."],
};

/** A lone move that asks nothing of the player: it is played for them, once per version. */
export function automatic(moves) {
  if (moves.length !== 1) return null;
  const m = moves[0];
  if (BOOKKEEPING.has(m.type) || m.type === "continue_capture_segment") return m;
  return null;
}

function keysOf(list) {
  return list.map(posKey);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * plan(moves, sel, state) -> {
 *   kind, hint, cells: Map(key -> role), buttons: [{label, title, move}],
 *   choice: null | {at: key, title, options: [{label, move, preview?: keys}]}
 * }
 * sel = {from?: key, line?: lineId, choiceAt?: key, picker?: {...}}
 */
export function plan(moves, sel, state, at = (p) => `${p.x},${p.y}`) {
  const out = { kind: "none", hint: "", cells: new Map(), buttons: [], choice: null };
  if (!moves.length) return out;
  const mark = (key, role) => { if (!out.cells.has(key)) out.cells.set(key, role); };
  for (const m of moves) {
    if (BUTTON_TEXT[m.type]) {
      const [label, title] = BUTTON_TEXT[m.type];
      out.buttons.push({ label, title, move: m });
    }
  }
  const placing = moves.filter((m) => m.type === "place_ring");
  const moving = moves.filter((m) => MOVING.has(m.type));
  const lines = moves.filter((m) => LINES.has(m.type));
  const regions = moves.filter((m) => m.type === "choose_territory_option");
  const elims = moves.filter((m) => ELIMINATIONS.has(m.type));

  if (placing.length || moving.length) {
    out.kind = placing.length ? "place" : "move";
    const bySource = groupBy(moving, (m) => posKey(m.from));
    const chain = moving.length && moving.every((m) => m.type === "continue_capture_segment");
    let from = sel.from;
    if (!from && bySource.size === 1 && (chain || state.mustMoveFromStackKey)) from = [...bySource.keys()][0];
    if (from && bySource.has(from)) {
      mark(from, "selected");
      const dests = groupBy(bySource.get(from), (m) => posKey(m.to));
      for (const k of dests.keys()) mark(k, "target");
      // The stacks a capture jumps over are outlined: their top ring joins the bottom of yours.
      const captures = bySource.get(from).filter((m) => m.captureTarget);
      for (const m of captures) mark(posKey(m.captureTarget), "over");
      if (chain) out.hint = "Your capture continues: jump over an outlined stack to a lit cell.";
      else if (captures.length === bySource.get(from).length) {
        out.hint = "Capture: jump over an outlined stack to a lit cell; its top ring joins the bottom of your stack.";
      } else out.hint = "Pick a lit destination (or jump over an outlined stack to capture), or another of your stacks.";
      for (const k of bySource.keys()) mark(k, "source");
      if (sel.choiceAt && dests.has(sel.choiceAt)) out.choice = branchChoice(sel.choiceAt, dests.get(sel.choiceAt));
    } else {
      for (const k of bySource.keys()) mark(k, "source");
      out.hint = moving.length
        ? (placing.length ? "Place rings on a highlighted cell, or pick one of your stacks to move." : "Pick one of your stacks to move: its destinations light up.")
        : "";
    }
    if (placing.length) {
      const byCell = groupBy(placing, (m) => posKey(m.to));
      if (sel.choiceAt && byCell.has(sel.choiceAt)) mark(sel.choiceAt, "selected");
      for (const k of byCell.keys()) mark(k, "place");
      if (!moving.length) out.hint = "Place rings: pick a highlighted cell, then how many rings.";
      if (sel.choiceAt && byCell.has(sel.choiceAt) && !out.choice) {
        const options = byCell.get(sel.choiceAt)
          .sort((a, b) => (a.placementCount || 1) - (b.placementCount || 1))
          .map((m) => ({ label: String(m.placementCount || 1), title: plural(m.placementCount || 1, "ring"), move: m }));
        out.choice = { at: sel.choiceAt, title: "How many rings?", options };
      }
    }
    return out;
  }

  if (lines.length) {
    out.kind = "line";
    const byLine = groupBy(lines, (m) => lineId(m));
    const chosen = sel.line && byLine.has(sel.line) ? byLine.get(sel.line) : null;
    for (const [, options] of byLine) {
      for (const k of keysOf(fullLine(options[0]))) mark(k, chosen && chosen[0] === options[0] ? "decision-on" : "decision");
    }
    out.hint = byLine.size > 1
      ? "You formed several lines. Pick a highlighted line to collapse first: its markers become your territory."
      : lineHint(lines, state);
    if (chosen) {
      out.choice = {
        at: posKey(fullLine(chosen[0])[0]),
        title: "How should this line collapse?",
        options: chosen.map((m) => lineOption(m, at)),
        explain: true,
      };
    }
    return out;
  }

  if (regions.length) {
    out.kind = "territory";
    for (const m of regions) for (const k of keysOf(regionCells(m))) mark(k, "decision");
    const n = regions.length;
    out.hint = `You cut off ${n === 1 ? "a region" : plural(n, "region")}. Click ${n === 1 ? "it" : "one"} to claim it: `
      + "its cells become your territory, every ring inside is eliminated, and you then give up the cap of one of your stacks outside it.";
    return out;
  }

  if (elims.length) {
    out.kind = "eliminate";
    for (const m of elims) mark(posKey(m.to), "candidate");
    const forced = elims.some((m) => m.type === "forced_elimination");
    const ctx = elims[0].eliminationContext;
    if (forced) out.hint = "You have no legal move: pick one of your highlighted stacks to give up its cap.";
    else if (ctx === "line") out.hint = "Your line collapsed: pick one of your highlighted stacks to lose its top ring.";
    else if (ctx === "territory") out.hint = "To pay for the region, pick a highlighted stack outside it: its whole cap is eliminated.";
    else out.hint = "Pick a highlighted stack to remove a ring from.";
    return out;
  }

  if (out.buttons.length) {
    out.kind = "buttons";
    out.hint = out.buttons.map((b) => b.title).join(" ");
  }
  return out;
}

function branchChoice(at, options) {
  return {
    at,
    title: "Which capture?",
    explain: true,
    options: options.map((m) => ({
      label: m.type === "recovery_slide" ? recoveryLabel(m) : "jump over",
      title: m.type === "recovery_slide" ? recoveryLabel(m) : "capture this stack",
      move: m,
      preview: m.captureTarget ? [posKey(m.captureTarget)] : keysOf(m.collapsePositions || []),
    })),
  };
}

function recoveryLabel(m) {
  if (m.recoveryMode === "stack_strike") return "strike the stack";
  if (m.recoveryMode === "fallback") return "slide";
  return m.recoveryOption === 2 ? "collapse part, free" : "collapse all";
}

function fullLine(m) {
  return (m.formedLines && m.formedLines[0] && m.formedLines[0].positions) || lineCells(m);
}

function lineId(m) {
  return keysOf(fullLine(m)).sort().join("|");
}

function lineHint(lines, state) {
  const n = fullLine(lines[0]).length;
  if (lines.length === 1) {
    return `You made a line of ${n} markers. Click it to collapse it into your territory; you then remove the top ring of one of your stacks.`;
  }
  return `You made a line of ${n} markers (longer than ${state.lineLength}). Click it: collapse it all and lose a ring, or collapse just ${state.lineLength} markers for free.`;
}

function lineOption(m, at) {
  const all = fullLine(m).length;
  const cells = lineCells(m);
  const partial = m.type === "choose_line_option" && cells.length < all;
  if (!partial) {
    return { label: `Collapse all ${all}`, title: `Collapse all ${all} markers into territory, then remove one of your rings.`, move: m, preview: keysOf(fullLine(m)) };
  }
  const span = `${at(cells[0])}-${at(cells[cells.length - 1])}`;
  return { label: `Collapse ${span}, free`, title: `Collapse only ${span} (${cells.length} markers); no ring is lost.`, move: m, preview: keysOf(cells) };
}

function groupBy(list, keyFn) {
  const map = new Map();
  for (const item of list) {
    const k = keyFn(item);
    if (!map.has(k)) map.set(k, []);
    map.get(k).push(item);
  }
  return map;
}

/**
 * What a click on a cell means: {submit: move} | {sel: newSel}.
 */
export function click(moves, sel, key, state) {
  const p = plan(moves, sel, state);
  const role = p.cells.get(key);
  if (p.kind === "place" || p.kind === "move") {
    if (role === "target") {
      const from = sel.from || [...p.cells].find(([, r]) => r === "selected")?.[0];
      const options = moves.filter((m) => MOVING.has(m.type) && posKey(m.from) === from && posKey(m.to) === key);
      if (options.length === 1) return { submit: options[0] };
      return { sel: { from, choiceAt: key } };
    }
    if (role === "place" || role === "source") {
      const place = moves.filter((m) => m.type === "place_ring" && posKey(m.to) === key);
      const fromHere = moves.some((m) => MOVING.has(m.type) && posKey(m.from) === key);
      if (fromHere && (!place.length || sel.choiceAt === key)) return { sel: { from: key } };
      if (place.length === 1 && !fromHere) return { submit: place[0] };
      if (place.length) return { sel: { choiceAt: key } };
      return { sel: { from: key } };
    }
    if (role === "over") return { sel };
    return { sel: {} };
  }
  if (p.kind === "line" && (role === "decision" || role === "decision-on")) {
    const lines = moves.filter((m) => LINES.has(m.type) && keysOf(fullLine(m)).includes(key));
    const ids = [...new Set(lines.map(lineId))];
    const id = ids.includes(sel.line) ? sel.line : ids[0];
    const options = lines.filter((m) => lineId(m) === id);
    if (options.length === 1) return { submit: options[0] };
    return { sel: { line: id } };
  }
  if (p.kind === "territory" && role === "decision") {
    const m = moves.find((x) => x.type === "choose_territory_option" && keysOf(regionCells(x)).includes(key));
    if (m) return { submit: m };
  }
  if (p.kind === "eliminate" && role === "candidate") {
    const m = moves.find((x) => ELIMINATIONS.has(x.type) && posKey(x.to) === key);
    if (m) return { submit: m };
  }
  return { sel: {} };
}
