// What the app asks of the browser itself, beyond Streamlit's widgets (a components-v2 module,
// invisible, rendered once per page run):
// - keep cookies: Streamlit's server cannot set any on its websocket, but it reads the ones the
//   browser sends when a page opens (st.context.cookies), so the teacher's unlock and this
//   browser's model pick survive reloads, new tabs and pages opened from a bookmark. Applied on
//   every call: writing the same cookie again is harmless;
// - on a phone, close the sidebar once a page was picked in it: Streamlit closes it for its own
//   page list, not for the st.page_link list this app uses, so the sidebar stayed over the page
//   a student had just chosen.

const NARROW = "(max-width: 767.98px)";   // where Streamlit shows the sidebar over the page

export default function (component) {
  const { data } = component;
  keepCookies((data && data.cookies) || [], (data && data.path) || "/");
  closeSidebarAfterNavigation();
}

function keepCookies(cookies, path) {
  const secure = location.protocol === "https:" ? "; secure" : "";
  for (const { name, value, max_age } of cookies) {
    if (!/^[A-Za-z0-9_]+$/.test(name)) continue;
    const age = value === null ? 0 : Math.max(0, Math.floor(max_age || 0));
    document.cookie = `${name}=${value === null ? "" : encodeURIComponent(value)}; path=${path}`
      + `; max-age=${age}; samesite=strict${secure}`;
  }
}

function closeSidebarAfterNavigation() {
  const page = location.pathname;
  const moved = window.__labLastPage !== undefined && window.__labLastPage !== page;
  window.__labLastPage = page;
  if (!moved || !window.matchMedia(NARROW).matches) return;
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  if (sidebar && sidebar.getAttribute("data-collapsed") === "false") {
    const close = document.querySelector('button[aria-label="Collapse sidebar"]');
    if (close) close.click();
  }
}
