// A square drawing canvas for mouse, finger and pen (Pointer Events), as a Streamlit
// components-v2 module. Streamlit calls the default export again on every rerun whose data
// changed, with the same parentElement (our shadow root): all state lives on that element and
// every call only applies the new data, so nothing is bound twice.
//
// Strokes are kept in a normalised 0..1 space of the canvas side, so the picture survives any
// CSS size (phone, projector, window resize) and the server renders the same thing at 280 px.

const MIN_STEP = 0.004;   // drop points closer than this (about 1 px at 280 px): smaller messages
const DECIMALS = 1e4;     // 4 decimals: 0.0001 of the side, far below a pixel
// The wire format (mnist_core/drawing/strokes.py, decode_strokes): each point x, y on a 0..4095 grid of
// the side, 12 bits each, as four base64url characters; strokes separated by commas. One short
// string costs the server its size; JSON lists of numbers cost ten times that once parsed.
const GRID = 4095;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const s = parentElement.__mnistCanvas || (parentElement.__mnistCanvas = mount(parentElement));
  s.send = setStateValue;   // the freshest callback, in case Streamlit hands out a new one
  apply(s, data || {});
  return () => {
    // Streamlit also calls this when a superseded call finishes late; only tear down when
    // the component has really left the page.
    if (!s.canvas.isConnected) { s.observer.disconnect(); delete parentElement.__mnistCanvas; }
  };
}

function mount(root) {
  const canvas = document.createElement("canvas");
  canvas.className = "mnist-canvas";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "Canvas: draw one digit with your mouse, finger or pen");
  root.appendChild(canvas);
  const s = { canvas, ctx: canvas.getContext("2d"), strokes: [], points: 0, active: null,
              generation: undefined, width: 20 / 280, maxPoints: 20000, send: null };
  s.observer = new ResizeObserver(() => redraw(s));
  s.observer.observe(canvas);
  canvas.addEventListener("pointerdown", (e) => down(s, e));
  canvas.addEventListener("pointermove", (e) => move(s, e));
  canvas.addEventListener("pointerup", (e) => up(s, e));
  canvas.addEventListener("pointercancel", (e) => up(s, e));
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());  // long press on touch
  return s;
}

function apply(s, data) {
  if (typeof data.stroke_width === "number") s.width = data.stroke_width;
  if (typeof data.max_points === "number") s.maxPoints = data.max_points;
  if (typeof data.max_size === "number") {
    // As wide as the column, at most max_size, and short enough that `reserve` px of the
    // screen's height remain for what is above and below it (`reserve_stacked` on a narrow
    // screen, where the prediction comes under the canvas: canvas.css picks one); never
    // smaller than min_size.
    const px = (v) => `${Number(v) || 0}px`;
    s.canvas.style.setProperty("--max-size", px(data.max_size));
    s.canvas.style.setProperty("--min-size", px(data.min_size));
    s.canvas.style.setProperty("--reserve", px(data.reserve));
    s.canvas.style.setProperty("--reserve-stacked", px(data.reserve_stacked ?? data.reserve));
  }
  if (data.generation !== s.generation) {   // first call, or Python pressed Clear
    s.generation = data.generation;
    s.strokes = [];
    s.points = 0;
    s.active = null;
  }
  s.canvas.dataset.generation = String(s.generation);
  redraw(s);
}

// Pointer position in 0..1 of the canvas side, from where the canvas is on screen right now.
function position(s, e) {
  const r = s.canvas.getBoundingClientRect();
  const unit = (v) => Math.round(Math.min(1, Math.max(0, v)) * DECIMALS) / DECIMALS;
  return [unit((e.clientX - r.left) / r.width), unit((e.clientY - r.top) / r.height)];
}

function down(s, e) {
  if (s.active !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
  if (s.points >= s.maxPoints) return;
  e.preventDefault();   // no text selection or drag on mouse; touch-action: none does touch
  s.canvas.setPointerCapture(e.pointerId);   // keep the stroke when the pointer leaves the canvas
  s.active = e.pointerId;
  const p = position(s, e);
  s.strokes.push([p]);
  s.points += 1;
  dot(s, p);
}

function move(s, e) {
  if (e.pointerId !== s.active) return;
  const stroke = s.strokes[s.strokes.length - 1];
  // Coalesced events: the full-rate path the browser saw between two frames.
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  for (const ev of events.length ? events : [e]) {
    const p = position(s, ev);
    const last = stroke[stroke.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) < MIN_STEP || s.points >= s.maxPoints) continue;
    stroke.push(p);
    s.points += 1;
    segment(s, last, p);
  }
}

function up(s, e) {
  if (e.pointerId !== s.active) return;
  s.active = null;
  s.canvas.dataset.strokes = String(s.strokes.length);
  // No debounce: the drawing goes to Python the moment the pen lifts.
  s.send("drawing", { generation: s.generation, strokes: encode(s.strokes) });
}

function encode(strokes) {
  const point = ([x, y]) => {
    const v = (Math.round(x * GRID) << 12) | Math.round(y * GRID);
    return ALPHABET[(v >> 18) & 63] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] +
      ALPHABET[v & 63];
  };
  return strokes.map((stroke) => stroke.map(point).join("")).join(",");
}

// Backing store in device pixels, so lines stay sharp on high-density screens; drawing
// happens in unit coordinates through the transform.
function redraw(s) {
  const { canvas, ctx } = s;
  const side = canvas.getBoundingClientRect().width;
  const px = Math.max(1, Math.round(side * (window.devicePixelRatio || 1)));
  if (canvas.width !== px) { canvas.width = px; canvas.height = px; }
  ctx.setTransform(px, 0, 0, px, 0, 0);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, 1, 1);
  for (const stroke of s.strokes) {
    dot(s, stroke[0]);
    for (let i = 1; i < stroke.length; i++) segment(s, stroke[i - 1], stroke[i]);
  }
  canvas.dataset.strokes = String(s.strokes.length);
}

function dot(s, p) {
  s.ctx.fillStyle = "#fff";
  s.ctx.beginPath();
  s.ctx.arc(p[0], p[1], s.width / 2, 0, 2 * Math.PI);
  s.ctx.fill();
}

function segment(s, a, b) {
  const { ctx } = s;
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = s.width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
}
