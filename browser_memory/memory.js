// Cookies the server asks this browser to keep (a Streamlit components-v2 module, invisible).
// Streamlit's server cannot set cookies on its websocket, but it reads the ones the browser
// sends when a page opens (st.context.cookies): so the teacher's unlock and this browser's
// model pick survive reloads, new tabs and server-side page changes. Applied on every call:
// writing the same cookie again is harmless.
export default function (component) {
  const { data } = component;
  const secure = location.protocol === "https:" ? "; secure" : "";
  const path = (data && data.path) || "/";
  for (const { name, value, max_age } of (data && data.cookies) || []) {
    if (!/^[A-Za-z0-9_]+$/.test(name)) continue;
    const age = value === null ? 0 : Math.max(0, Math.floor(max_age || 0));
    document.cookie = `${name}=${value === null ? "" : encodeURIComponent(value)}; path=${path}`
      + `; max-age=${age}; samesite=strict${secure}`;
  }
}
