"""Classroom behaviour of the Train and Home pages: one live run seen by all, interrupted runs
explained, a second start refused sensibly, the join address, the warm model."""
import time

import numpy as np
import pytest

from ui import joining, resources
from mnist_core.classroom.joining import join_address, qr_png
from mnist_core.lab.store import RunStore
from tests.helpers import by_label, open_page


def _form_for_a_small_run(at, epochs: int = 30):
    by_label(at.select_slider, "Training images").set_value(3000)
    by_label(at.number_input, "Epochs").set_value(epochs)
    return at


def test_a_second_start_is_refused_by_name_and_shows_the_live_run(synthetic_app_data):
    first = _form_for_a_small_run(open_page("pages/1_Train.py"))
    second = _form_for_a_small_run(open_page("pages/1_Train.py"))  # form open in both
    by_label(first.button, "Start training").click().run()
    job = resources.job_registry().current
    by_label(second.button, "Start training").click().run()       # pressed a moment later
    assert resources.job_registry().current is job                 # still one job
    warning = " ".join(w.value for w in second.warning)
    assert "Your run was not started: a 'fast' training (" in warning
    assert "epoch 1/0" not in warning and "is already running" in warning
    assert any(s.value.startswith("fast · ") for s in second.subheader)  # the live view
    assert not [b for b in second.button if b.label == "Start training"]
    job.stop()
    assert job.join(timeout=60)


def test_job_description_never_says_epoch_of_zero(synthetic_digits):
    from mnist_core.jobs.thread_job import TrainingJob
    from mnist_core.training.presets import preset_config

    job = TrainingJob(preset_config("fast", epochs=2), synthetic_digits)   # not started yet
    assert job.describe() == "a 'fast' training (starting)"
    job.progress.begin(2, 10)
    assert job.describe() == "a 'fast' training (epoch 1 of 2)"


def test_an_interrupted_run_is_explained_with_how_far_it_got(lab_home, capsys,
                                                             synthetic_app_data):
    store = RunStore()
    run_id = store.create_run({"preset": "fast", "epochs": 10, "batch_size": 128,
                               "learning_rate": 0.003, "augment": False,
                               "validation_fraction": 0.1, "limit": 1000, "seed": 0,
                               "precision": "auto"}, "MNIST IDX files in /data")
    store.record_history(run_id, [{"accuracy": 0.9, "val_accuracy": 0.95}] * 3)
    with store.connect() as db:   # the process that trained it has died
        db.execute("UPDATE runs SET pid = 999999999 WHERE id = ?", (run_id,))
    at = open_page("pages/1_Train.py")   # a new server process opens the store
    from mnist_core.cli import main

    assert main(["runs"]) == 0                       # the CLI's run list says so too
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(run_id))
    assert "interrupted" in line and "3/10" in line
    assert store.get_run(run_id).title().endswith("interrupted after 3 of 10 epochs")
    text = " ".join(w.value for w in at.warning)
    assert f"({run_id}), was interrupted after 3 of 10 epochs" in text
    assert at.subheader[-1].value == "New run" or any(s.value == "New run" for s in at.subheader)
    by_label(at.button, "Start it again with the same settings").click().run()
    job = resources.job_registry().current
    assert job is not None and job.config.epochs == 10 and job.config.limit == 1000
    job.stop()
    assert job.join(timeout=60)


def test_home_shows_a_lan_address_and_qr_code_not_localhost():
    at = open_page()
    join = joining.join_address()
    text = " ".join(m.value for m in at.markdown) + " ".join(h.value for h in at.header)
    if join.reachable_by_others:
        assert "localhost" not in join.url and join.url in text
        assert at.get("image"), "no QR code"
    else:  # a machine with no network at all: the page says how to open the lab to the class
        assert any("--server.address 0.0.0.0" in w.value for w in at.warning)


@pytest.mark.parametrize("address, lan, url, reachable", [
    (None, "192.168.1.20", "http://192.168.1.20:8501", True),
    ("0.0.0.0", "10.0.0.5", "http://10.0.0.5:8501", True),
    ("127.0.0.1", "10.0.0.5", "http://127.0.0.1:8501", False),
    ("localhost", "10.0.0.5", "http://localhost:8501", False),
    ("192.168.7.7", "10.0.0.5", "http://192.168.7.7:8501", True),
    ("fe80::1", None, "http://[fe80::1]:8501", True),
])
def test_join_address_follows_streamlits_server_address(address, lan, url, reachable):
    found = join_address(address, 8501, "", lan=lan)
    assert (found.url, found.reachable_by_others) == (url, reachable)
    assert join_address(address, 8501, "/lab/", lan=lan).url == url + "/lab"


def test_qr_code_is_a_png_that_encodes_the_address():
    import cv2

    png = qr_png("http://192.168.1.20:8501")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None and image.shape[0] > 100
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == "http://192.168.1.20:8501"


def test_the_bundled_model_is_warm_before_the_first_drawing():
    open_page()                                  # any first page starts the warm-up
    cache = resources.model_cache()
    thread = cache.warm_up_in_background("bundled")   # the same thread, not a second one
    assert thread.join(timeout=120) is None and not thread.is_alive()
    assert cache.warm_error is None and cache.is_loaded("bundled")
    from mnist_core.drawing.synthetic import drawn_digits

    images, labels = drawn_digits(1, seed=9)
    started = time.perf_counter()
    prediction = cache.get("bundled").classify(images[0])
    assert prediction.digit == labels[0]
    assert time.perf_counter() - started < 5    # traced already: no multi-second first call
