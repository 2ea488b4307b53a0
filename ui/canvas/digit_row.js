// The row of ten digits under the Draw page's prediction: one tap saves the drawing as that
// digit (a Streamlit components-v2 module). Our own buttons, not Streamlit's, because a tap
// must count even when the browser synthesizes no `click` for it: Chromium swallows the click
// of a tap that comes soon after a fast touch stroke (on a plain page too), and a Streamlit
// button redrawn under the finger loses it. So a press is taken from the pointer events
// themselves (down and up on the same digit); mouse and keyboard use the ordinary click.
// All state lives on the component's root, which Streamlit keeps across reruns.

const REPEAT_MS = 700;   // a touch tap may also produce a click: count that press once

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const s = parentElement.__digitRow || (parentElement.__digitRow = mount(parentElement));
  s.send = setTriggerValue;
  const highlight = data && Number.isInteger(data.highlight) ? data.highlight : -1;
  s.buttons.forEach((b, d) => b.classList.toggle("predicted", d === highlight));
}

function mount(root) {
  const row = document.createElement("div");
  row.className = "digit-row";
  row.setAttribute("role", "group");
  row.setAttribute("aria-label", "Save this drawing as the digit you meant");
  root.appendChild(row);
  const s = { row, buttons: [], pressed: null, last: { digit: -1, at: 0 }, send: null };
  for (let d = 0; d < 10; d++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = String(d);
    b.setAttribute("aria-label", `Save as ${d}`);
    b.addEventListener("pointerdown", (e) => {
      if (e.pointerType !== "mouse") s.pressed = { digit: d, pointer: e.pointerId };
    });
    b.addEventListener("pointerup", (e) => {
      const p = s.pressed;
      s.pressed = null;
      if (p && p.digit === d && p.pointer === e.pointerId) save(s, d);
    });
    b.addEventListener("pointercancel", () => { s.pressed = null; });
    b.addEventListener("click", () => save(s, d));   // mouse, keyboard, and a touch's click
    row.appendChild(b);
    s.buttons.push(b);
  }
  return s;
}

function save(s, digit) {
  const now = Date.now();
  if (s.last.digit === digit && now - s.last.at < REPEAT_MS) return;   // the same press
  s.last = { digit, at: now };
  s.send("save", { digit });
}
