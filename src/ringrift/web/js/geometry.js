// Board geometry from the state's board type and size: the cells, their keys (the engine's
// "x,y" / "x,y,z"), their centres in SVG units, and the labels used on the edges and in notation.

export function isHex(board) {
  return board.type === "hex8" || board.type === "hexagonal";
}

export function posKey(p) {
  return p.z === undefined || p.z === null ? `${p.x},${p.y}` : `${p.x},${p.y},${p.z}`;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

/** Every cell of the board with its centre and its human label ("c3"). */
export function layout(board) {
  const hex = isHex(board);
  const size = board.size;
  const cells = [];
  if (hex) {
    const r = (size - 1) / 2;
    const unit = 20;
    for (let y = -r; y <= r; y++) {
      for (let x = -r; x <= r; x++) {
        const z = -x - y;
        if (Math.abs(z) > r) continue;
        cells.push({
          x, y, z, key: `${x},${y},${z}`,
          cx: unit * Math.sqrt(3) * (x + y / 2),
          cy: unit * 1.5 * y,
          // Rows are lettered from the top; the number names the diagonal (constant x) that
          // runs down to the right, labelled where it leaves the board (bottom/lower-right edge).
          label: `${LETTERS[y + r]}${x + r + 1}`,
          row: y + r,
        });
      }
    }
    return { hex, unit, cells, size, radius: r };
  }
  const unit = 40;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      cells.push({
        x, y, key: `${x},${y}`,
        cx: x * unit + unit / 2,
        cy: y * unit + unit / 2,
        label: `${LETTERS[x]}${size - y}`,
      });
    }
  }
  return { hex, unit, cells, size };
}

/** The six corners of a pointy-top hexagon of circumradius r. */
export function hexPoints(cx, cy, r) {
  const pts = [];
  for (let i = 0; i < 6; i++) {
    const a = (Math.PI / 180) * (60 * i - 30);
    pts.push(`${(cx + r * Math.cos(a)).toFixed(2)},${(cy + r * Math.sin(a)).toFixed(2)}`);
  }
  return pts.join(" ");
}
