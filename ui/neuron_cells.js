// The Inside page's map of cells to open a neuron from (a Streamlit components-v2 module):
// a picture of one map (or of a dense layer's units, laid out in rows), a tap or click on a
// cell sends {row, col}. Our own element, not a Plotly chart: Plotly selects a point on a
// mouse click but not on a finger's tap (it sends no selection for touch), and a tap must
// count even where the browser synthesizes no click, so a touch press is taken from the
// pointer events themselves (down and up near the same place), as the Draw page's digit row
// does. The outline moves at once, on this side; the server's next run confirms it.

const REPEAT_MS = 700;   // a touch tap may also produce a click: count that press once

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const s = parentElement.__cells || (parentElement.__cells = mount(parentElement));
  s.send = setTriggerValue;
  apply(s, data || {});
}

function mount(root) {
  const box = document.createElement("div");
  box.className = "cells";
  const img = document.createElement("img");
  img.draggable = false;
  const mark = document.createElement("div");
  mark.className = "picked";
  box.append(img, mark);
  root.appendChild(box);
  const s = { box, img, mark, rows: 1, cols: 1, count: 1, picked: null, shown: null,
              pressed: null, last: { cell: -1, at: 0 }, send: null };
  box.addEventListener("pointerdown", (e) => {
    if (e.pointerType !== "mouse") s.pressed = { id: e.pointerId, cell: cellAt(s, e) };
  });
  box.addEventListener("pointerup", (e) => {
    const p = s.pressed;
    s.pressed = null;
    if (p && p.id === e.pointerId && p.cell !== null && p.cell === cellAt(s, e)) pick(s, p.cell);
  });
  box.addEventListener("pointercancel", () => { s.pressed = null; });
  box.addEventListener("click", (e) => { const c = cellAt(s, e); if (c !== null) pick(s, c); });
  box.addEventListener("contextmenu", (e) => e.preventDefault());
  return s;
}

function apply(s, data) {
  if (typeof data.url === "string" && s.img.getAttribute("src") !== data.url) s.img.src = data.url;
  s.rows = Number(data.rows) || 1;
  s.cols = Number(data.cols) || 1;
  s.count = Number(data.count) || s.rows * s.cols;
  s.img.alt = String(data.label || "");
  s.box.style.setProperty("--ratio", `${s.cols} / ${s.rows}`);
  s.box.style.setProperty("--cols", String(s.cols));
  s.box.style.setProperty("--rows", String(s.rows));
  s.box.classList.toggle("lines", data.lines === true);   // lines between a few big cells
  s.box.style.setProperty("--width", `${Number(data.width) || 300}px`);
  // A pick from the server (the row and column boxes, another layer) replaces ours; the same
  // value again (a rerun that has not seen our tap yet) leaves our outline where it is.
  const picked = Array.isArray(data.picked) ? data.picked[0] * s.cols + data.picked[1] : null;
  if (picked !== s.shown) { s.shown = picked; s.picked = picked; }
  draw(s);
}

function cellAt(s, e) {
  const r = s.img.getBoundingClientRect();
  if (!r.width || !r.height) return null;
  const col = Math.floor(((e.clientX - r.left) / r.width) * s.cols);
  const row = Math.floor(((e.clientY - r.top) / r.height) * s.rows);
  if (row < 0 || col < 0 || row >= s.rows || col >= s.cols) return null;
  const cell = row * s.cols + col;
  return cell < s.count ? cell : null;
}

function pick(s, cell) {
  const now = Date.now();
  if (s.last.cell === cell && now - s.last.at < REPEAT_MS) return;   // the same press
  s.last = { cell, at: now };
  s.picked = cell;
  draw(s);
  s.send("cell", { row: Math.floor(cell / s.cols), col: cell % s.cols });
}

function draw(s) {
  if (s.picked === null) { s.mark.style.display = "none"; return; }
  const row = Math.floor(s.picked / s.cols), col = s.picked % s.cols;
  Object.assign(s.mark.style, { display: "block", left: `${(100 * col) / s.cols}%`,
    top: `${(100 * row) / s.rows}%`, width: `${100 / s.cols}%`, height: `${100 / s.rows}%` });
}
