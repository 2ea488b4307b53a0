"""The teacher key: constant-time check, few tries, and what a student session can't do."""
import time

import pytest
from streamlit.testing.v1 import AppTest

from ui import resources, session
from mnist_core.classroom.ratelimit import RateLimiter
from mnist_core.classroom.teacher import TeacherGate, configured_key
from tests.helpers import TEACHER_KEY as KEY, by_label, open_page, unlock


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_budget_per_window_then_recovers():
    clock = FakeClock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after() == pytest.approx(60)
    clock.now += 30
    assert not limiter.allow() and limiter.retry_after() == pytest.approx(30)
    clock.now += 30
    assert limiter.allow()
    with pytest.raises(ValueError):
        RateLimiter(0, 1)


def test_key_comes_from_the_environment_first_then_secrets_and_blank_is_none(monkeypatch):
    monkeypatch.delenv("MNIST_LAB_TEACHER_KEY", raising=False)
    assert configured_key(None) is None and configured_key("  ") is None
    assert configured_key("from-secrets") == "from-secrets"
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", "from-env")
    assert configured_key("from-secrets") == "from-env"
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", "")
    assert configured_key(None) is None


@pytest.mark.parametrize("attempt", ["", "   ", "owl-7-mapl", "OWL-7-MAPLE", "x" * 10_000,
                                     KEY + "\x00", KEY * 2])
def test_wrong_empty_or_huge_keys_get_a_message_that_never_echoes(attempt):
    gate = TeacherGate()
    message = gate.try_unlock("10.0.0.5", attempt, KEY)
    assert message
    assert KEY not in message and (not attempt.strip() or attempt.strip() not in message)


def test_wrong_keys_are_limited_per_device_and_a_flood_locks_out_only_that_device(tmp_path):
    """10 wrong keys a minute from one device (whatever its sessions: the gate is the
    server's), then even the right key from it waits; the teacher's device is unaffected, and
    a one-time link works from the flooding device too."""
    from mnist_core.classroom.ratelimit import PerDevice
    from mnist_core.lab.store import RunStore
    from mnist_core.classroom.teacher import WRONG_KEYS_PER_MINUTE, create_link_token

    clock = FakeClock()
    gate = TeacherGate(PerDevice(WRONG_KEYS_PER_MINUTE, 60.0, clock=clock))
    assert WRONG_KEYS_PER_MINUTE == 10
    student, teacher = "10.0.0.23", "10.0.0.2"
    messages = [gate.try_unlock(student, f"guess-{i}", KEY) for i in range(10)]
    assert all(m == "That is not the teacher key." for m in messages)
    assert gate.try_unlock(student, KEY, KEY).startswith("Too many wrong keys from this device")
    assert gate.try_unlock(teacher, KEY, KEY) is None               # the teacher gets in
    store = RunStore(tmp_path)
    assert gate.try_link(create_link_token(store), store) is None   # a link always works
    clock.now += 60
    assert gate.try_unlock(student, KEY, KEY) is None               # a minute later


def test_a_right_key_costs_no_try():
    gate = TeacherGate()
    for _ in range(20):
        assert gate.try_unlock("10.0.0.2", " " + KEY + " ", KEY) is None


def test_an_unlocked_browser_holds_a_token_that_works_until_locked_or_expired():
    from mnist_core.classroom.teacher import TeacherSessions

    clock = FakeClock()
    sessions = TeacherSessions(seconds=3600, limit=3, clock=clock)
    token = sessions.open()
    assert len(token) >= 40 and sessions.valid(token)           # a reload, another tab
    for forged in (None, "", token[:-1], token + "x", "x" * 10_000, 12, ["a"]):
        assert not sessions.valid(forged)
    sessions.close(token)
    assert not sessions.valid(token)                              # locked: every tab
    token = sessions.open()
    clock.now += 3600
    assert not sessions.valid(token)                              # a school day later
    tokens = [sessions.open() for _ in range(4)]                  # bounded: the oldest goes
    assert [sessions.valid(t) for t in tokens] == [False, True, True, True]
    assert not TeacherSessions().valid(tokens[-1])                # a restarted server


def test_a_teacher_link_works_once_and_only_until_it_expires(lab_home):
    from mnist_core.lab.store import RunStore
    from mnist_core.classroom.teacher import create_link_token, redeem_link_token, teacher_link

    store = RunStore(lab_home)
    token = create_link_token(store)
    assert teacher_link("http://10.0.0.5:8501/", token) == f"http://10.0.0.5:8501/?teacher={token}"
    assert not redeem_link_token(store, token[:-1]) and not redeem_link_token(store, None)
    assert redeem_link_token(RunStore(lab_home), token)          # the server's own store object
    assert not redeem_link_token(store, token)                    # used up
    old = create_link_token(store, seconds=-1)
    assert not redeem_link_token(store, old)                      # expired
    with store.connect() as db:                                  # only digests are kept
        kept = [r[0] for r in db.execute("SELECT hash FROM teacher_links")]
    assert token not in kept and old not in kept


def test_no_key_configured_means_everything_is_open():
    assert TeacherGate().try_unlock("10.0.0.5", "", None) is None


# --- in the app --------------------------------------------------------------------------------

def _buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def _start_long_job():
    from mnist_core.training.presets import preset_config

    job = resources.job_registry().start(
        preset_config("fast", epochs=30, limit=3000), resources.mnist(), resources.store())
    deadline = time.monotonic() + 60
    while job.snapshot().batch == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    return job


def test_a_student_cannot_start_or_stop_but_the_teacher_can(monkeypatch):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    student = open_page("pages/1_Train.py")
    assert "Start training" not in _buttons(student)
    assert any("teacher only" in c.value for c in student.caption)

    job = _start_long_job()
    student.run()
    assert "Stop training" not in _buttons(student)        # the control is absent...
    student.session_state["confirm_stop"] = True
    student.run()
    assert "Yes, stop" not in _buttons(student)
    assert job.snapshot().status == "running"

    teacher = unlock(open_page("pages/1_Train.py"), KEY)
    assert not teacher.sidebar.error
    assert any("unlocked" in c.value for c in teacher.sidebar.caption)
    by_label(teacher.button, "Stop training").click().run()
    by_label(teacher.button, "Yes, stop").click().run()
    assert job.join(timeout=60) and job.snapshot().status == "stopped"


def test_a_student_can_build_but_only_the_teacher_times_and_starts(monkeypatch):
    """Students learn from the builder (shapes, parameters, reasons) on their own screens;
    timing a stack takes the shared server's CPU, so only the teacher's screen does it."""
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    student = open_page("pages/1_Train.py")
    by_label(student.selectbox, "Layer type").set_value("dropout").run()
    by_label(student.button, "Add layer").click().run()
    assert any(m.value.startswith("**7** Dropout 0.25") for m in student.markdown)
    captions = " ".join(c.value for c in student.caption)
    assert "measured on the teacher's screen" in captions and "timed on a few" not in captions
    assert "Start training" not in _buttons(student)
    teacher = unlock(open_page("pages/1_Train.py"), KEY)
    assert any("timed on a few batches" in c.value for c in teacher.caption)


@pytest.mark.slow
def test_the_server_refuses_a_stop_from_a_locked_session(monkeypatch):
    """Even if a student's browser sent the click (a stale button, a crafted message), the
    callback checks the session on the server."""
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    job = _start_long_job()
    teacher = unlock(open_page("pages/1_Train.py"), KEY)
    by_label(teacher.button, "Stop training").click().run()
    stop = by_label(teacher.button, "Yes, stop")
    resources.teacher_sessions().close(teacher.session_state[session.TEACHER_TOKEN])  # locked
                                                                # meanwhile, e.g. in another tab
    stop.click().run()
    assert any("Only the teacher can stop" in w.value for w in teacher.warning)
    assert job.snapshot().status == "running"
    job.stop()
    assert job.join(timeout=60)


@pytest.mark.parametrize("attempt", ["wrong", "", "k" * 10_240])
def test_a_wrong_empty_or_10kb_key_gets_a_message_and_no_unlock(monkeypatch, attempt):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    at = unlock(open_page(), attempt)
    assert at.sidebar.error
    assert not resources.teacher_sessions().valid(at.session_state[session.TEACHER_TOKEN])
    assert all(KEY not in e.value and (not attempt or attempt not in e.value)
               for e in at.sidebar.error)
    assert "teacher_key_attempt" not in at.session_state or \
        at.session_state["teacher_key_attempt"] in ("", None)   # the attempt is not kept


def test_without_a_key_everything_is_open_as_before(monkeypatch):
    monkeypatch.delenv("MNIST_LAB_TEACHER_KEY", raising=False)
    at = open_page("pages/1_Train.py")
    assert "Start training" in _buttons(at)
    assert not at.sidebar.text_input


def test_csv_uploads_need_the_teacher_unlock(monkeypatch, synthetic_app_data):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    train = open_page("pages/1_Train.py")
    by_label(train.radio, "Data").set_value("Upload Kaggle train.csv").run()
    assert not train.get("file_uploader")
    assert not open_page("pages/2_Analyze.py").get("file_uploader")
    analyze = unlock(open_page("pages/2_Analyze.py"), KEY)
    assert analyze.get("file_uploader")
