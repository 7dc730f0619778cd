// The rules page: each mechanic in a few sentences with a small board showing it, before and
// after (a button switches). The diagrams are drawn by the same SVG board as a game.
import { BoardView } from "../board.js";
import { h, s } from "../dom.js";

const SIZE = 5;

function pos(key) {
  const [x, y] = key.split(",").map(Number);
  return { x, y };
}

/** A 5x5 position from a compact description: stacks {key: rings top first}, markers, territory. */
function position({ stacks = {}, markers = {}, territory = {} }) {
  const board = { type: "square8", size: SIZE, stacks: {}, markers: {}, collapsedSpaces: { ...territory } };
  for (const [key, rings] of Object.entries(stacks)) {
    let cap = 1;
    while (cap < rings.length && rings[cap] === rings[0]) cap++;
    board.stacks[key] = { position: pos(key), rings, stackHeight: rings.length, capHeight: cap, controllingPlayer: rings[0] };
  }
  for (const [key, player] of Object.entries(markers)) board.markers[key] = { position: pos(key), player };
  return { board };
}

function roles(map) {
  const out = new Map();
  for (const [role, keys] of Object.entries(map)) for (const k of keys) out.set(k, role);
  return out;
}

const DIAGRAMS = [
  {
    id: "placement",
    title: "Placement",
    text: [
      "On your turn you may first place rings from your hand: one to three on an empty cell, or exactly one on top of any stack (which you then control).",
      "The stack you placed must be able to move, and it is the one that moves this turn.",
    ],
    before: { pos: position({ stacks: { "3,1": [2] } }), roles: { place: ["0,0", "1,1", "2,2", "1,3", "4,4", "3,1"] }, caption: "Lit cells take rings: empty cells and the top of the blue stack." },
    after: { pos: position({ stacks: { "3,1": [2], "2,2": [1, 1] } }), last: [{ to: { x: 2, y: 2 } }], caption: "Red placed two rings on c3." },
  },
  {
    id: "movement",
    title: "Movement and markers",
    text: [
      "A stack moves in a straight line at least as many cells as it is tall, over empty cells and markers but never over stacks or territory.",
      "It leaves a marker of your colour where it started. Opponent markers it jumps flip to your colour; your own markers it jumps become your territory.",
    ],
    before: { pos: position({ stacks: { "0,2": [1, 1] }, markers: { "1,2": 2, "2,2": 1 } }), roles: { selected: ["0,2"], target: ["3,2", "4,2", "0,0", "0,4", "2,0", "2,4"] }, caption: "The red stack of two can land on any lit cell." },
    after: { pos: position({ stacks: { "3,2": [1, 1] }, markers: { "0,2": 1, "1,2": 1 }, territory: { "2,2": 1 } }), last: [{ from: { x: 0, y: 2 }, to: { x: 3, y: 2 } }], caption: "After a3-d3: a red marker on a3, the blue marker on b3 flipped, the red marker on c3 became red territory." },
  },
  {
    id: "capture",
    title: "Capture and chains",
    text: [
      "A stack whose cap (its top rings of one colour) is at least as tall as another stack's cap may jump over it, along a line, to a cell beyond. The jumped stack's top ring goes to the bottom of yours.",
      "If another jump is possible from where you land, the capture goes on: you choose the next jump until none is left.",
    ],
    before: { pos: position({ stacks: { "0,2": [1, 1], "2,2": [2] } }), roles: { selected: ["0,2"], over: ["2,2"], target: ["3,2", "4,2"] }, caption: "Red can jump over the outlined blue stack and land on a lit cell." },
    after: { pos: position({ stacks: { "3,2": [1, 1, 2] }, markers: { "0,2": 1 } }), last: [{ from: { x: 0, y: 2 }, captureTarget: { x: 2, y: 2 }, to: { x: 3, y: 2 } }], caption: "Red landed on d3 with the blue ring at the bottom of its stack." },
  },
  {
    id: "lines",
    title: "Lines",
    text: [
      "A row of your markers as long as the line length (4 on the small boards with two players) collapses into your territory, and you remove the top ring of one of your stacks.",
      "With a longer line you choose: collapse it all and remove a ring, or collapse just enough markers and keep your rings.",
    ],
    before: { pos: position({ stacks: { "4,4": [1, 1] }, markers: { "0,1": 1, "1,1": 1, "2,1": 1, "3,1": 1 } }), roles: { decision: ["0,1", "1,1", "2,1", "3,1"] }, caption: "Four red markers in a row: a line to collapse." },
    after: { pos: position({ stacks: { "4,4": [1] }, territory: { "0,1": 1, "1,1": 1, "2,1": 1, "3,1": 1 } }), caption: "The line is red territory; the red stack on e1 gave up its top ring." },
  },
  {
    id: "territory",
    title: "Territory",
    text: [
      "When your territory and the board edge cut off a region where some player has no stack, you may claim it: its cells become your territory and every ring inside is eliminated (counted for you).",
      "Each region you claim costs the whole cap of one of your stacks outside it.",
    ],
    before: { pos: position({ stacks: { "4,4": [2], "0,0": [1, 1] }, territory: { "3,3": 1, "4,3": 1, "3,4": 1 } }), roles: { decision: ["4,4"] }, caption: "The blue stack on e1 is cut off by red territory." },
    after: { pos: position({ territory: { "3,3": 1, "4,3": 1, "3,4": 1, "4,4": 1 } }), caption: "Red claimed e1 (the blue ring is eliminated) and paid with the cap of its stack on a5." },
  },
  {
    id: "forced",
    title: "Forced elimination",
    text: [
      "If you control stacks but can neither place, move nor capture, you must give up the whole cap of one of your stacks. Your turn then ends.",
    ],
    before: { pos: position({ stacks: { "0,0": [1, 1, 2], "1,0": [2, 2, 2], "0,1": [2, 2, 2] }, territory: { "2,0": 2, "0,2": 2, "1,1": 2 } }), roles: { candidate: ["0,0"] }, caption: "The red stack on a5 is boxed in: it loses its cap." },
    after: { pos: position({ stacks: { "0,0": [2], "1,0": [2, 2, 2], "0,1": [2, 2, 2] }, territory: { "2,0": 2, "0,2": 2, "1,1": 2 } }), caption: "Only the blue ring at the bottom is left; blue controls the stack now." },
  },
];

const VICTORY = [
  "You win when you have eliminated enough rings (about half of all the rings in the game: the seat panel says how many), ",
  "or when you hold enough of the board as territory and more than all your opponents together, ",
  "or when you are the last player who can still act. A game nobody can continue is decided by territory, then eliminated rings, then markers.",
];

const RECOVERY = "A player with no stack but with markers and a ring buried in some stack can make a recovery slide: move a marker one cell to form a line, paid for with the buried ring.";

export function renderRules(root) {
  root.replaceChildren();
  root.append(
    h("h1", { id: "rules-title" }, ["How to play RingRift"]),
    h("p", {}, ["Two to four players place rings, move stacks, leave markers and turn them into territory. Each mechanic below has a small board: switch between before and after."]),
  );
  const nav = h("nav", { "aria-label": "Rules sections", class: "rules-nav" });
  for (const d of DIAGRAMS) nav.append(h("a", { href: `#/rules/${d.id}` }, [d.title]));
  nav.append(h("a", { href: "#/rules/victory" }, ["Victory"]));
  root.append(nav);
  for (const d of DIAGRAMS) root.append(section(d));
  root.append(h("section", { id: "rules-recovery", class: "rule" }, [h("h2", {}, ["Recovery"]), h("p", {}, [RECOVERY])]));
  root.append(h("section", { id: "rules-victory", class: "rule" }, [h("h2", {}, ["Victory"]), h("p", {}, [VICTORY.join("")])]));
}

function section(d) {
  const svg = s("svg", { class: "diagram", role: "img" });
  const caption = h("figcaption");
  const toggle = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, ["Show after"]);
  const view = new BoardView(svg, { onCell: () => {} });
  const draw = (which) => {
    const step = d[which];
    view.render(step.pos, { roles: roles(step.roles || {}), lastMoves: step.last || [], still: true, describe: () => "" });
    svg.setAttribute("aria-label", `${d.title}, ${which}: ${step.caption}`);
    caption.textContent = step.caption;
    toggle.textContent = which === "before" ? "Show after" : "Show before";
    toggle.setAttribute("aria-pressed", String(which === "after"));
  };
  let which = "before";
  toggle.addEventListener("click", () => { which = which === "before" ? "after" : "before"; draw(which); });
  draw(which);
  return h("section", { id: `rules-${d.id}`, class: "rule" }, [
    h("h2", {}, [d.title]),
    h("div", { class: "rule-body" }, [
      h("div", {}, d.text.map((p) => h("p", {}, [p]))),
      h("figure", {}, [svg, caption, toggle]),
    ]),
  ]);
}
