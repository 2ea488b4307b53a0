"""The Draw page's own logic under AppTest, and the canvas wrapper's handling of Clear.

AppTest has no browser, so the canvas sends nothing: a test stands in for the canvas
(patching ui.canvas.draw_canvas, which the page reads on every run; conftest's `fake_canvas`).
"""
import pytest
from streamlit.testing.v1 import AppTest

from ui import prediction, resources, session
import ui.canvas as draw_canvas
from mnist_core.drawing.strokes import GRID, encode_strokes, stroke_width_fraction
from mnist_core.drawing.synthetic import drawn_digits
from tests.helpers import ROOT, TIMEOUT, tap

SEVEN = [[[0.25, 0.18], [0.75, 0.18], [0.43, 0.86]], [[0.39, 0.54], [0.68, 0.54]]]


def draw_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    if query:
        at.query_params.update(query)
    at.switch_page("pages/3_Draw.py").run()
    assert not at.exception, at.exception
    return at


def canvas_sends(monkeypatch, strokes) -> list[dict]:
    """Make the canvas return `strokes`; the arguments it was shown with are recorded."""
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return strokes

    monkeypatch.setattr(draw_canvas, "draw_canvas", fake)
    return calls


def test_strokes_from_the_canvas_are_rendered_and_classified(monkeypatch):
    calls = canvas_sends(monkeypatch, SEVEN)
    at = draw_page()
    assert at.metric[0].label == "Prediction" and at.metric[0].value == "7"
    assert calls[-1]["stroke_width"] == pytest.approx(20 / 280)   # the slider's default
    assert calls[-1]["max_size"] < 480                              # not projector mode


def test_the_drawing_is_left_for_the_inside_page_and_linked(monkeypatch):
    canvas_sends(monkeypatch, SEVEN)
    at = draw_page()
    prepared = at.session_state[session.PREPARED_DRAWING]
    assert prepared.image.shape == (28, 28) and not prepared.empty
    assert any(link.proto.page == "Inside" and link.proto.label == "Look inside the network"
               for link in at.get("page_link"))
    assert not at.main.toggle   # the old "Feature maps" toggle moved to the Inside page
    canvas_sends(monkeypatch, None)   # Clear: no drawing, so the Inside page shows none
    at.run()
    assert session.PREPARED_DRAWING not in at.session_state


def test_the_stroke_width_slider_is_a_fraction_of_the_canvas_side():
    assert stroke_width_fraction(20) == pytest.approx(20 / 280)
    assert stroke_width_fraction(5) < stroke_width_fraction(50) <= 0.5


def test_a_malformed_drawing_is_a_message_not_a_crash(monkeypatch):
    canvas_sends(monkeypatch, [[["x", 0.5]]])
    at = draw_page()
    assert not at.exception and not at.metric
    assert any("could not be read" in e.value for e in at.error)


def test_projector_mode_from_the_address_makes_the_canvas_large(monkeypatch):
    calls = canvas_sends(monkeypatch, None)
    at = draw_page({"projector": "1"})
    assert at.sidebar.toggle(key="projector_toggle").value is True
    assert calls[-1]["min_size"] >= 480 and calls[-1]["max_size"] >= 480
    generation = calls[-1]["generation"]
    at.sidebar.toggle(key="projector_toggle").set_value(False).run()
    assert calls[-1]["max_size"] < 480 and at.session_state["projector_mode"] is False
    assert calls[-1]["generation"] == generation + 1   # a fresh canvas at the new size


def test_a_second_save_within_a_second_is_refused_kindly(monkeypatch, fake_canvas):
    from mnist_core.classroom.ratelimit import PerDevice

    saves = PerDevice(1, 1.0, clock=lambda: 1000.0)   # the second tap comes at once
    monkeypatch.setattr(resources, "drawing_saves", lambda: saves)
    images, labels = drawn_digits(1, seed=3)
    at = draw_page()
    fake_canvas.show(images[0])
    at.run()
    tap(monkeypatch, at, labels[0])
    assert any(f"Saved as a {labels[0]}" in s.value for s in at.success)
    fake_canvas.show(drawn_digits(2, seed=4)[0][1])   # at once
    at.run()
    tap(monkeypatch, at, 3)
    assert any("one drawing a second" in w.value for w in at.warning)
    assert resources.store().drawings()[1].tolist() == [labels[0]]   # saved once


def test_a_drawing_sent_before_clear_reached_the_browser_is_ignored(monkeypatch):
    sent = {"drawing": {"generation": 0, "strokes": encode_strokes(SEVEN)}}
    monkeypatch.setattr(draw_canvas, "_component", lambda **kwargs: sent)
    show = dict(key="canvas", stroke_width=0.07, max_size=440)
    got = draw_canvas.draw_canvas(**show, generation=0)
    assert [s.tolist() for s in got] == [[[round(v * GRID) / GRID for v in p] for p in stroke]
                                         for stroke in SEVEN]
    assert draw_canvas.draw_canvas(**show, generation=1) is None
    monkeypatch.setattr(draw_canvas, "_component", lambda **kwargs: {})
    assert draw_canvas.draw_canvas(**show, generation=0) is None   # nothing drawn yet


@pytest.mark.parametrize("sent", [{"digit": 7}, {"digit": True}, {"digit": "7"}, {"digit": 12},
                                  {"digit": -1}, {"digit": 7.0}, "7", 7, None, {}])
def test_the_digit_row_takes_only_a_digit_from_the_browser(monkeypatch, sent):
    monkeypatch.setattr(draw_canvas, "_digit_row", lambda **kwargs: {"save": sent})
    expected = 7 if sent == {"digit": 7} and type(sent["digit"]) is int else None
    assert draw_canvas.digit_row(key="save_as", highlight=3) == expected


@pytest.mark.parametrize("value, reason", [
    ({"drawing": {"generation": 0, "strokes": SEVEN}}, "must be text"),      # lists of numbers
    ({"drawing": {"generation": 0, "strokes": 5}}, "must be text"),
    ({"drawing": {"generation": 0, "strokes": "A" * 900_000}}, "too many points"),
    ({"drawing": {"generation": 0, "strokes": "AAAA" + "9" * 401}}, "not a whole number"),
    ({"drawing": "[[[[[[[["}, "canvas's format"),
    ({"drawing": [1, 2]}, "canvas's format"),
])
def test_a_value_our_canvas_never_sends_is_refused_and_forgotten(monkeypatch, value, reason):
    """A hostile or broken client: a message, and the canvas starts over under a new widget key
    (so that Streamlit drops the value instead of keeping and parsing it on every run)."""
    keys = []

    def component(**kwargs):
        keys.append(kwargs["key"])
        return value

    monkeypatch.setattr(draw_canvas, "_component", component)
    show = dict(key="canvas", stroke_width=0.07, max_size=440, generation=0)
    with pytest.raises(ValueError, match=reason):
        draw_canvas.draw_canvas(**show)
    monkeypatch.setattr(draw_canvas, "_component",
                        lambda **kwargs: keys.append(kwargs["key"]) or {})
    assert draw_canvas.draw_canvas(**show) is None
    assert keys[0] != keys[1]


def test_a_value_streamlit_cannot_even_parse_is_refused_and_forgotten(monkeypatch):
    """Deep nesting: Streamlit's own JSON parsing fails inside the component call; the page
    shows a message and the next run starts a fresh canvas instead of failing again."""
    keys = []

    def component(**kwargs):
        keys.append(kwargs["key"])
        if len(keys) == 1:
            raise RecursionError("maximum recursion depth exceeded")
        return {}

    monkeypatch.setattr(draw_canvas, "_component", component)
    show = dict(key="canvas", stroke_width=0.07, max_size=440, generation=0)
    with pytest.raises(ValueError, match="canvas's format"):
        draw_canvas.draw_canvas(**show)
    assert draw_canvas.draw_canvas(**show) is None
    assert keys[0] != keys[1]


def test_the_page_says_a_hostile_drawing_could_not_be_read(monkeypatch):
    monkeypatch.setattr(draw_canvas, "_component",
                        lambda **kwargs: {"drawing": {"generation": 0, "strokes": [[1e400]]}})
    at = draw_page()
    at.run()
    assert not at.exception
    assert any("could not be read" in e.value for e in at.error)


# --- Where it looked -----------------------------------------------------------------------

def drawn_on_page(fake_canvas, seed: int = 11):
    images, labels = drawn_digits(1, seed=seed)
    at = draw_page()
    fake_canvas.show(images[0])
    at.run()
    assert not at.exception, at.exception
    return at, int(labels[0])


def test_where_it_looked_shows_covering_first_with_a_legend(fake_canvas):
    from mnist_core.drawing.attribution import OCCLUSION

    at, label = drawn_on_page(fake_canvas)
    assert at.metric[0].value == str(label)
    assert at.segmented_control(key=session.LOOKED_METHOD).value == OCCLUSION
    assert at.pills(key=session.LOOKED_DIGIT).value is None
    (wanted, shown) = at.session_state[session.LOOKED_SHOWN]
    assert wanted[2:] == (OCCLUSION, label) and shown.signed and shown.digit == label
    assert any(f"makes it less sure it is {prediction.a_digit(label)}" in c.value
               for c in at.caption)
    assert len(at.image) >= 2


@pytest.mark.parametrize("method, words", [("smoothgrad", "noisy copies"),
                                           ("gradient", "speckled")])
def test_each_way_of_showing_it_has_its_own_map_and_legend(fake_canvas, method, words):
    at, label = drawn_on_page(fake_canvas)
    at.segmented_control(key=session.LOOKED_METHOD).set_value(method).run()
    assert not at.exception, at.exception
    (wanted, shown) = at.session_state[session.LOOKED_SHOWN]
    assert wanted[2:] == (method, label) and shown.method == method and not shown.signed
    assert any(words in c.value for c in at.caption)


def test_another_digit_can_be_explained_until_the_next_drawing(fake_canvas):
    at, label = drawn_on_page(fake_canvas)
    other = (label + 3) % 10
    at.pills(key=session.LOOKED_DIGIT).set_value(other).run()
    assert not at.exception, at.exception
    assert at.session_state[session.LOOKED_SHOWN][1].digit == other
    assert any(f"makes {prediction.a_digit(other)} more likely" in c.value
               for c in at.caption)
    assert at.metric[0].value == str(label)        # the answer itself is unchanged
    at.button[0].click().run()    # Clear: a new canvas generation
    fake_canvas.show(drawn_digits(2, seed=12)[0][1])
    at.run()
    assert at.pills(key=session.LOOKED_DIGIT).value is None
    assert at.session_state[session.LOOKED_SHOWN][1].digit == int(at.metric[0].value)


def test_the_map_is_computed_once_per_drawing_not_on_every_rerun(fake_canvas, monkeypatch):
    from mnist_core.drawing.inference import Predictor

    calls = []
    explain = Predictor.explain
    monkeypatch.setattr(Predictor, "explain",
                        lambda self, *a, **kw: calls.append(a) or explain(self, *a, **kw))

    def page_calls():   # not the warm-up's (it asks for the default, with no arguments)
        return [c for c in calls if len(c) == 3]

    at, _ = drawn_on_page(fake_canvas)
    assert len(page_calls()) == 1
    at.run()   # a whole-page rerun with the same drawing
    at.run()
    assert len(page_calls()) == 1
