"""Glue between Streamlit and mnist_core: session-state keys and process-wide resources.

Everything expensive (the store, the job registry, loaded models, MNIST, evaluations) is
created once per server process with `st.cache_resource` and shared by every session.
Per-session state lives in `st.session_state` under the keys below; what must outlive a page
load (the teacher's unlock, the model this browser picked) is also kept in the browser, in a
cookie (browser_side), and checked by the server each time it is used.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import streamlit as st

from browser_side import browser_side
from mnist_core.lab import catalog
from mnist_core import settings
from mnist_core.lab.catalog import FOLLOW_CLASS
from mnist_core.lab.store import BUNDLED, RunRecord, RunStore, StoreError

MODEL_PICK = "model_pick"              # this browser's model: FOLLOW_CLASS or a ref
MODEL_PICKER = "model_picker"          # the sidebar's picker widget (copied to MODEL_PICK)
SHOWN_CLASS_MODEL = "shown_class_model"   # the class model this page was drawn with
COOKIES = "cookies_to_keep"            # name -> (value or None to delete, seconds)
NOTICE = "app_notice"                  # a one-time message for the next page run (a toast)
TEST_DRAWING = "test_drawing"          # test seam: an RGBA array used instead of the canvas
TEACHER_TOKEN = "teacher_token"        # this browser's teacher token, once unlocked here
#: How often an open page checks whether the teacher changed the class model (seconds).
CLASS_MODEL_POLL_SECONDS = 3.0
#: How long a browser remembers the model it picked (a school term).
MODEL_PICK_SECONDS = 120 * 24 * 3600


@dataclass(frozen=True)
class Page:
    """One page of the app: the sidebar, the Home page's links and the page smoke test all
    read `PAGES`, so a page added here appears everywhere (and one left out fails a test)."""
    path: str     # relative to the project root, as st.page_link and AppTest want it
    label: str    # the sidebar's name for it
    icon: str
    blurb: str    # what the Home page's link to it says


PAGES = (
    Page("streamlit_app.py", "Home", ":material/home:", "What the lab is and how to join"),
    Page("pages/1_Train.py", "Train", ":material/model_training:", "Train a network"),
    Page("pages/2_Analyze.py", "Analyze", ":material/analytics:", "Analyze its mistakes"),
    Page("pages/3_Draw.py", "Draw", ":material/draw:", "Draw a digit"),
    Page("pages/4_Class.py", "Class", ":material/groups:",
         "See the class's drawings (the class wall)"),
    Page("pages/5_Inside.py", "Inside", ":material/visibility:", "Look inside the network"),
)
HOME = PAGES[0]   # the entry point: the Home page links to every other page


@st.cache_resource(show_spinner=False)
def _keep_tensorflow_state_between_reruns() -> bool:
    """Once per process: stop Streamlit from resetting Keras after every script run.

    Streamlit (1.67, script_runner._clean_problem_modules) calls keras.backend.clear_session()
    after each run, fragment reruns included. That empties TensorFlow's kernel cache and runs a
    full garbage collection while the shared model serves other sessions and a training thread
    is working: with two browsers watching the live charts, training fell from ~4,000 to 54
    images/s. Our models are built once and shared on purpose, so we keep Keras' state. (The
    function's only other job is closing matplotlib figures, which this app never creates.)
    """
    from streamlit.runtime.scriptrunner import script_runner

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = lambda: None
        return True
    return False


@st.cache_resource(show_spinner=False)
def _limit_what_browsers_send() -> bool:
    """Once per process: the WebSocket closes on any message over server_limits'
    MAX_MESSAGE_BYTES, before Streamlit parses it (see server_limits)."""
    import server_limits

    return server_limits.apply()


def setup_page() -> None:
    """First call of every page: page config, our navigation and the model picker.

    Pages use Streamlit's folder convention (pages/), which makes every page URL work on its
    own (reloads, shared links). Streamlit's automatic sidebar list is switched off in
    .streamlit/config.toml because it would label the home page "streamlit app".
    """
    st.set_page_config(page_title="MNIST CNN Lab", layout="wide",
                       page_icon=str(settings.ASSETS_DIR / "icon.png"))
    _keep_tensorflow_state_between_reruns()
    _limit_what_browsers_send()
    warm_up_default_model()
    announce_teacher_link()
    use_teacher_link()
    for page in PAGES:
        st.sidebar.page_link(page.path, label=page.label, icon=page.icon)
    st.sidebar.divider()
    model_sidebar()
    teacher_sidebar()
    if notice := st.session_state.pop(NOTICE, None):
        st.toast(notice, duration="long")
    st.session_state[SHOWN_CLASS_MODEL] = class_model_ref()   # what this page is drawn with
    with st.sidebar:
        _follow_the_class_model()
        browser_side(st.session_state.get(COOKIES, {}), path=_cookie_path())


@st.cache_resource(show_spinner=False)
def _store_or_error() -> tuple[RunStore | None, str | None]:
    try:
        return RunStore(), None
    except StoreError as e:
        return None, str(e)


def store() -> RunStore | None:
    """The run store, or None when the lab home is unusable (the app still runs)."""
    return _store_or_error()[0]


def store_error() -> str | None:
    return _store_or_error()[1]


@st.cache_resource(show_spinner=False)
def job_registry():
    """The server's one training job. Trainings run in a child process at lower priority
    (mnist_core.jobs.child_training.ProcessTrainingJob) so that students drawing are answered first; set
    MNIST_LAB_TRAINING=thread to train in this process (the tests do, for speed)."""
    from mnist_core.jobs.registry import JobRegistry

    return JobRegistry(child_process=settings.training_in_process())


@st.cache_resource(show_spinner=False)
def live_figures():
    """The Train page's live figures, built once for all watching browsers
    (mnist_core.views.charts.SharedLiveFigures)."""
    from mnist_core.views.charts import SharedLiveFigures

    return SharedLiveFigures()


@st.cache_resource(show_spinner=False)
def train_page_watchers():
    """The browsers that have the Train page open (mnist_core.classroom.watchers.PageWatchers)."""
    from mnist_core.classroom.watchers import PageWatchers

    return PageWatchers()


def watching_the_train_page() -> None:
    """Count this browser as one that has the Train page open (call at every refresh)."""
    if "train_page_watcher" not in st.session_state:
        import uuid

        st.session_state["train_page_watcher"] = uuid.uuid4().hex
    train_page_watchers().seen(st.session_state["train_page_watcher"])


def live_refresh_seconds() -> float:
    """How often this browser's live view refreshes: every 2 s, less often for a big class
    (mnist_core.classroom.watchers; a page checks in with `watching_the_train_page` first, so that it
    counts itself). The unlocked teacher's page, the one on the projector, keeps 2 s."""
    from mnist_core.classroom.watchers import MIN_REFRESH_SECONDS
    from mnist_core.classroom.watchers import live_refresh_seconds as for_watchers

    if teacher_key() is not None and is_teacher():
        return MIN_REFRESH_SECONDS
    return for_watchers(train_page_watchers().count())


@st.cache_resource(show_spinner=False)
def _mnist_reading():
    """MNIST being read on a thread (mnist_core.data.mnist.load_mnist_soon); call it to wait. Started
    early by `prepare_training`; where the reading failed, waiting loads again and says why.
    Its images are kept as uint8 (mnist_core.data.mnist.compact: 55 MB, not 220 MB of float32);
    whatever trains or classifies them turns them into floats a batch at a time."""
    from mnist_core.data.mnist import load_mnist_soon

    return load_mnist_soon(as_uint8=True)


@st.cache_resource(show_spinner="Loading MNIST...")
def mnist():
    return _mnist_reading()()


def mnist_loader():
    """MNIST for a background job: a callable that waits for the reading started here, to be
    called in the job's thread (never st.* there), so that a page starting a job answers at
    once."""
    return _mnist_reading()


def prepare_training() -> None:
    """Get the first Start ready while the teacher picks a network: TensorFlow into the fork
    server, MNIST into memory (1-5 s each on two cores, both in the background). Before, the
    first Start of a server waited for both, and every other browser saw the run that much
    later (docs/benchmarks.md, "Ready before the first Start")."""
    job_registry().prepare()
    _mnist_reading()


def predictor(ref: str):
    """A shared, thread-safe Predictor for the model `ref` (loaded once per process; the
    bundled model is usually warm already). Only the bundled model or a stored run: unlike the
    CLI, the app never opens a path."""
    cache = model_cache()
    if cache.is_loaded(ref):
        return cache.get(ref)
    with st.spinner("Loading the model..."):
        return cache.get(ref)


@st.cache_resource(show_spinner="Evaluating on the 10,000 test images...", max_entries=8)
def evaluation(ref: str):
    data = mnist()
    from mnist_core.model.evaluation import score

    return score(predictor(ref).probabilities(data.x_test), data.y_test)


@st.cache_resource(show_spinner=False, max_entries=4)
def augmentation_preview(augmentation):
    """Eight training images and augmented copies of them, for an `Augmentation` (a run's
    strength, whichever preset or past run it came from)."""
    from mnist_core.views import charts
    from mnist_core.data.mnist import float_images
    from mnist_core.training.loop import augmentation_preview as preview

    images = float_images(mnist().x_train[:8])
    grid = preview(images, augmentation)
    return charts.enlarge(grid, 3)


@st.cache_resource(show_spinner=False)
def bundled_card() -> dict:
    """The bundled model's card (read-only asset: read once per process)."""
    from mnist_core.untrusted import load_json

    try:   # bounded: a card edited into deep nesting is no card, not a crash of every page
        card = load_json(settings.BUNDLED_MODEL_CARD.read_text(), "the model card")
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def last_run() -> RunRecord | None:
    """The most recent run in the store (None if none, or the store cannot be read)."""
    s = store()
    try:
        return s.latest_run() if s is not None else None
    except StoreError:
        return None


def models() -> list[catalog.ModelInfo]:
    """Every model this lab can use (bundled first, then runs newest first), with label,
    accuracy, architecture and curves: mnist_core.lab.catalog, read fresh on each call so a run
    that just finished is there at once (one small SQLite query)."""
    return catalog.list_models(store(), bundled_card())


# --- which model: the class model, or this browser's own pick --------------------------------

def _cookie_name(what: str) -> str:
    """Per server port: two labs on one computer keep separate cookies."""
    return f"mnist_lab_{what}_{int(st.get_option('server.port'))}"


def _cookie_path() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else "/"


def _keep_cookie(what: str, value: str | None, seconds: int) -> None:
    """Ask this browser to keep (or, with None, forget) a cookie from the next page run on."""
    st.session_state.setdefault(COOKIES, {})[_cookie_name(what)] = (value, seconds)


def _browser_cookie(what: str) -> str | None:
    """The cookie this browser sent when this session opened (never trusted: callers check)."""
    value = st.context.cookies.get(_cookie_name(what))
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


@st.cache_resource(show_spinner=False)
def _class_model_choice() -> catalog.ClassModelChoice:
    return catalog.ClassModelChoice(store())


def class_model_ref() -> str:
    """The class model's ref (stored: it survives a restart); read at most once a second."""
    return _class_model_choice().ref()


def model_pick() -> str:
    """This browser's pick: FOLLOW_CLASS (the default) or a model ref; from its cookie when a
    session starts, so a reload or a new tab keeps it."""
    if MODEL_PICK not in st.session_state:
        st.session_state[MODEL_PICK] = _browser_cookie("model") or FOLLOW_CLASS
    return st.session_state[MODEL_PICK]


def pick_model(ref: str) -> None:
    """This browser uses `ref` (FOLLOW_CLASS: the class model, whatever it becomes) on every
    page and after reloads. Usable as a button's on_click callback."""
    st.session_state[MODEL_PICK] = ref
    _keep_cookie("model", None if ref == FOLLOW_CLASS else ref, MODEL_PICK_SECONDS)


def active_model() -> catalog.ModelInfo:
    """The model this browser uses: its own pick, or else the class model."""
    return catalog.chosen_model(models(), model_pick(), class_model_ref())


def class_model() -> catalog.ModelInfo:
    return catalog.class_model(models(), class_model_ref())


def make_class_model(ref: str) -> None:
    """Button callback: the teacher makes `ref` the class model, for every browser that has
    not picked its own, open pages included (they check every CLASS_MODEL_POLL_SECONDS). This
    browser follows it too. Checked here, on the server, not only by hiding the button."""
    if not is_teacher():
        st.session_state[NOTICE] = "Only the teacher can choose the class model."
        return
    try:
        _class_model_choice().set(ref)
    except (KeyError, StoreError) as e:
        st.session_state[NOTICE] = f"The class model was not changed: {reason(e)}."
        return
    pick_model(FOLLOW_CLASS)
    label = next((m.label for m in models() if m.ref == ref), ref)
    st.session_state[NOTICE] = f"The class model is now {plain(label)}: every browser uses it."


def reason(e: Exception) -> str:
    """An error's message for a page: a KeyError's own text, not its quoted repr."""
    return e.args[0] if isinstance(e, KeyError) and e.args else str(e)


#: What Markdown, GitHub's and Streamlit's additions included, makes something of anywhere in
#: a line: emphasis, code, links and images, HTML, formulas, tables, strike-through, entities.
_MARKDOWN_SIGNS = re.compile(r"([\\`*_\[\]<>#|~$&@])")
#: ... and at the start of a line: list items, headings underlined with = or -.
_LINE_START_SIGNS = re.compile(r"(?m)^([ \t]*)([-+=]|\d+(?=[.)]))")
#: ... and bare web addresses, which GitHub's Markdown makes links of.
_BARE_LINKS = re.compile(r"(?i)(:(?=//)|(?<=\bwww)\.)")


def plain(text: object) -> str:
    """`text` that came from outside (a file's contents or name, a run record, an error about
    them) made safe for st.error, st.caption, st.markdown and the like, which render Markdown:
    every sign Markdown would act on is backslash-escaped (CommonMark allows that for any
    punctuation), so `![x](http://host/x.png)` shows as those characters, never as an image
    fetched from another host, a link, a heading or a formula. Quotes, parentheses and dashes
    that mean nothing there stay as they are."""
    text = _MARKDOWN_SIGNS.sub(r"\\\1", str(text))
    text = _LINE_START_SIGNS.sub(_escape_line_start, text)
    return _BARE_LINKS.sub(r"\\\1", text)


def _escape_line_start(found: re.Match) -> str:
    indent, sign = found.groups()
    if sign.isdigit():   # "1. " or "1) " begins a numbered list: escape its . or )
        return f"{indent}{sign}\\"
    return f"{indent}\\{sign}"


def damaged_runs() -> list[str]:
    """One line per run whose record cannot be read ("Run X skipped: its record is damaged
    (reason)."): the runs are listed without it (mnist_core.lab.store.RunStore.read_runs)."""
    s = store()
    try:
        damaged = s.read_runs()[1] if s is not None else []
    except StoreError:
        return []
    return [f"Run {d.run_id} skipped: its record is damaged ({d.reason})." for d in damaged]


def _damaged_runs_sidebar(shown: int = 3) -> None:
    """Under the model picker, on every page: which runs are left out of it, and why."""
    lines = damaged_runs()
    for line in lines[:shown]:
        st.sidebar.warning(plain(line), icon=":material/warning:")
    if len(lines) > shown:
        st.sidebar.caption(f"{len(lines) - shown} more damaged run records (see the server's "
                           "log).")


def _picked_in_sidebar() -> None:
    pick_model(st.session_state[MODEL_PICKER])


def model_sidebar() -> None:
    """The model picker shown on every page: "Class model" (the teacher's choice, followed
    live) or any one model for this browser alone. The unlocked teacher can make the picked
    model the class model."""
    available = models()
    options = {m.ref: m for m in available}
    pick = model_pick()
    if pick != FOLLOW_CLASS and pick not in options:   # its run is gone: follow the class
        pick = FOLLOW_CLASS
        pick_model(pick)
    current = catalog.class_model(available, class_model_ref())
    labels = {FOLLOW_CLASS: f"Class model: {current.label}"} | {
        ref: m.label for ref, m in options.items()}
    st.session_state[MODEL_PICKER] = pick    # the widget shows the pick, on every page
    st.sidebar.selectbox("Model", list(labels), key=MODEL_PICKER, format_func=labels.get,
                         on_change=_picked_in_sidebar,
                         help="The class model is the one the teacher chose for everyone; "
                              "pick another to use it in this browser only.")
    chosen = current if pick == FOLLOW_CLASS else options[pick]
    if chosen.test_accuracy is not None:
        st.sidebar.caption(f"Test accuracy {chosen.test_accuracy:.2%} on the official MNIST "
                           "test set.")
    if pick != FOLLOW_CLASS and chosen.ref != current.ref and is_teacher():
        st.sidebar.button("Make it the class model", on_click=make_class_model,
                          args=(chosen.ref,), icon=":material/groups:")
    _damaged_runs_sidebar()
    if store_error():
        st.sidebar.warning(f"Runs cannot be saved: {store_error()}")
    elif store() is not None and store().read_only:
        st.sidebar.warning(f"Nothing can be saved: the lab home `{store().home}` cannot be "
                           f"written ({store().read_only}). Saved drawings and runs can still "
                           "be viewed.")


@st.fragment(run_every=CLASS_MODEL_POLL_SECONDS)
def _follow_the_class_model() -> None:
    """Redraw the whole page when the teacher has changed the class model since it was drawn
    (only in browsers that follow it): the open Draw page then reads drawings with it."""
    now = class_model_ref()
    if st.session_state.get(SHOWN_CLASS_MODEL) != now and model_pick() == FOLLOW_CLASS:
        st.rerun()   # (never during a whole-page run: setup_page has just set what it shows)


@st.cache_resource(show_spinner=False)
def class_predictions():
    """Each model's answers for the saved drawings, classified once per drawing and shared by
    every session (the Class page's refreshes, Analyze's class accuracy)."""
    from mnist_core.classroom.wall import PredictionCache

    return PredictionCache()


# --- teacher key -----------------------------------------------------------------------------

def teacher_key() -> str | None:
    """The configured key (environment first, then `teacher_key` in .streamlit/secrets.toml)."""
    from mnist_core.classroom.teacher import configured_key

    try:
        secret = st.secrets.get("teacher_key")
    except Exception:  # no secrets.toml, or one that does not parse: no key from there
        secret = None
    return configured_key(secret)


def device() -> str:
    """The device this session runs on: its network address, as mnist_core.lab.devices decides
    (behind a trusted reverse proxy, the address the proxy forwarded). Rate limits and quotas
    count per device, so a reload or a new session gives no fresh allowance."""
    from mnist_core.lab.devices import client_device

    return client_device(st.context.ip_address, st.context.headers.get("X-Forwarded-For"),
                         settings.trusted_proxies())


@st.cache_resource(show_spinner=False)
def _gate():
    """The server's one TeacherGate: wrong keys counted per device, for every session."""
    from mnist_core.classroom.teacher import TeacherGate

    return TeacherGate()


@st.cache_resource(show_spinner=False)
def drawing_saves():
    """Saves per device: one a second (a double tap, or a student hammering the digits),
    however many tabs or sessions that device opens."""
    from mnist_core.classroom.ratelimit import PerDevice

    return PerDevice(1, 1.0)


@st.cache_resource(show_spinner=False)
def teacher_sessions():
    """The browsers unlocked as the teacher (mnist_core.classroom.teacher.TeacherSessions): in memory,
    so a server restart locks them all."""
    from mnist_core.classroom.teacher import TeacherSessions

    return TeacherSessions()


def _teacher_token() -> str | None:
    """The token this browser unlocked with: this session's own, or the one its cookie brought
    when the session opened (a reload, another tab), kept for the session. Whether it still
    unlocks anything, `teacher_sessions` says."""
    if not st.session_state.get(TEACHER_TOKEN):
        st.session_state[TEACHER_TOKEN] = _browser_cookie("teacher")
    return st.session_state[TEACHER_TOKEN]


def is_teacher() -> bool:
    """True in a single-user lab (no key configured) or in a browser unlocked as the teacher
    (typed key or teacher link, in this tab or another, until the teacher locks or the server
    restarts).

    Call it again inside every callback that changes shared state: the check must happen on
    the server when the action runs, not only when the button was drawn."""
    return teacher_key() is None or teacher_sessions().valid(_teacher_token())


def teacher_only(action: str) -> bool:
    """is_teacher(); when locked, also say (briefly) that `action` needs the teacher unlock."""
    if is_teacher():
        return True
    st.caption(f":material/lock: {action}: teacher only (unlock in the sidebar).")
    return False


def _open_teacher_session() -> None:
    """Unlock this browser: a new token, kept by this session and in the browser's cookie."""
    from mnist_core.classroom.teacher import SESSION_SECONDS

    token = teacher_sessions().open()
    st.session_state[TEACHER_TOKEN] = token
    _keep_cookie("teacher", token, SESSION_SECONDS)


def _unlock() -> None:
    attempt = st.session_state.pop("teacher_key_attempt", "")
    message = _gate().try_unlock(device(), attempt, teacher_key())
    if message is None:
        _open_teacher_session()
    st.session_state["teacher_message"] = message


def _lock() -> None:
    """Lock this browser, every tab of it: its token stops working on the server at once."""
    teacher_sessions().close(_teacher_token())
    _keep_cookie("teacher", None, 0)


def teacher_sidebar() -> None:
    """The unlock field, shown only when a key is configured. The typed key is removed from
    the session state as soon as it is checked, and never shown again."""
    if teacher_key() is None:
        return
    if is_teacher():
        st.sidebar.caption(":material/lock_open: Teacher controls unlocked in this browser "
                           "(reloads and new tabs too) until you lock them.")
        st.sidebar.button("Lock teacher controls", on_click=_lock, icon=":material/lock:")
        return
    with st.sidebar.form("teacher_unlock", border=False, enter_to_submit=True):
        st.text_input("Teacher key", type="password", key="teacher_key_attempt",
                      help="Starting or stopping training and editing the class's drawings "
                           "need the teacher key. Students can draw and watch without it.")
        st.form_submit_button("Unlock", on_click=_unlock)
    message = st.session_state.pop("teacher_message", None)
    if message:
        st.sidebar.error(message)


def use_teacher_link() -> None:
    """A one-time teacher link (`?teacher=TOKEN`) unlocks this browser, once; the token leaves
    the address bar at once, so it is neither bookmarked nor shown on the projector."""
    token = st.query_params.get("teacher")
    if token is None:
        return
    del st.query_params["teacher"]
    if teacher_key() is None or is_teacher():
        return
    message = _gate().try_link(token, store())
    if message is None:
        _open_teacher_session()
        st.session_state[NOTICE] = "Teacher controls unlocked by the teacher link."
    else:
        st.session_state["teacher_message"] = message


@st.cache_resource(show_spinner=False)
def announce_teacher_link() -> str | None:
    """Once per server, when it serves its first page (at once when Streamlit opens the
    browser itself): print a one-time teacher link in the server's console, as Jupyter does,
    so the key need not be typed in front of the class. Never shown in a page."""
    from mnist_core.classroom.teacher import LINK_SECONDS, create_link_token, teacher_link

    s = store()
    if teacher_key() is None or s is None:
        return None
    try:
        url = teacher_link(join_address().url, create_link_token(s))
    except StoreError:
        return None
    print(f"\n  Teacher link (unlocks one browser once, within {LINK_SECONDS // 3600} h; "
          f"more: python -m mnist_core teacher-link):\n  {url}\n", flush=True)
    return url


# --- warm start ------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def model_cache():
    """Process-wide models by reference, loaded once; shared by pages and the warm-up thread."""
    from mnist_core.drawing.model_cache import PredictorCache

    return PredictorCache(_model_file)


def _model_file(ref: str):
    if ref == BUNDLED:   # needs no store: the app draws even when the lab home is unusable
        return settings.BUNDLED_MODEL
    if store() is None:
        raise KeyError(f"run '{ref}' cannot be opened: {store_error()}")
    return store().lab_model_path(ref)


def warm_up_default_model() -> None:
    """Load and warm the bundled model in the background as soon as the server serves its
    first page, so the first student's drawing is answered like any other."""
    model_cache().warm_up_in_background(BUNDLED)


# --- joining ---------------------------------------------------------------------------------

def join_address():
    """The address students should open (the LAN address when the server listens beyond
    this computer; https:// when it serves https), from Streamlit's own server options."""
    from mnist_core.classroom.joining import join_address as address

    return address(st.get_option("server.address"), int(st.get_option("server.port")),
                   st.get_option("server.baseUrlPath") or "", lan=_lan_ip(),
                   https=https_certificate() is not None)


def https_certificate() -> str | None:
    """The certificate file Streamlit serves https with (`server.sslCertFile`), or None when
    it serves plain http."""
    return st.get_option("server.sslCertFile") or None


@st.cache_resource(show_spinner=False, max_entries=4)
def certificate_hosts(cert_file: str) -> frozenset[str] | None:
    """The addresses and names the server's certificate is valid for (None: unreadable)."""
    from mnist_core.classroom.https_cert import covered_hosts

    hosts = covered_hosts(cert_file)
    return None if hosts is None else frozenset(hosts)


@st.cache_resource(show_spinner=False, ttl=300)
def _lan_ip() -> str | None:
    from mnist_core.classroom.joining import lan_ip

    return lan_ip()


@st.cache_resource(show_spinner=False, max_entries=4)
def qr_code(url: str) -> bytes:
    from mnist_core.classroom.joining import qr_png

    return qr_png(url)


# --- builder ---------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=64)
def _step_timing(layers_json: str, batch_size: int, precision: str, augmentation_json: str):
    import json

    from mnist_core.training.config import Augmentation
    from mnist_core.training.estimate import time_steps
    from mnist_core.model.spec import ModelSpec

    spec = ModelSpec.from_dict({"name": "timing", "layers": json.loads(layers_json)})
    augmentation = Augmentation(**json.loads(augmentation_json)) if augmentation_json else None
    return time_steps(spec, batch_size, precision, augmentation)


def seconds_per_epoch(config, n_images: int) -> float | None:
    """Measured seconds per epoch of `config` on this machine, timed once per (architecture,
    batch size, precision, augmentation) for the whole process; None while a job trains:
    timing would slow the run down and be slowed by it."""
    import json

    job = job_registry().current
    if job is not None and job.active:
        return None
    layers = json.dumps(config.spec.to_dict()["layers"], sort_keys=True)  # not the name
    augmentation = json.dumps(asdict(config.augmentation)) if config.augment else ""
    timing = _step_timing(layers, config.batch_size, config.precision, augmentation)
    return timing.per_epoch(config.training_images(n_images))


def past_runs() -> list[RunRecord]:
    """Every stored run, newest first ([] without a readable store): the builder's starts."""
    s = store()
    try:
        return s.list_runs() if s is not None else []
    except StoreError:
        return []
