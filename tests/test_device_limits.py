"""Limits per device, not per browser session: which device a connection is, budgets per
device, and each device's share of the class set."""
import numpy as np
import pytest

from mnist_core.lab.devices import LOCAL, client_device, device_tag
from mnist_core.classroom.ratelimit import PerDevice
from mnist_core.lab.drawings import DrawingLimitReached
from mnist_core.lab.store import RunStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("remote, header, trusted, device", [
    (None, None, frozenset(), LOCAL),                          # the server's own machine
    ("10.0.0.5", None, frozenset(), "10.0.0.5"),
    ("::ffff:10.0.0.5", None, frozenset(), "10.0.0.5"),       # one address, one spelling
    ("10.0.0.5", "1.2.3.4", frozenset(), "10.0.0.5"),         # a client's own header: ignored
    ("10.0.0.1", "1.2.3.4, 10.0.0.9", frozenset({"10.0.0.1"}), "10.0.0.9"),   # via the proxy
    ("10.0.0.1", "10.0.0.9, 10.0.0.1", frozenset({"10.0.0.1"}), "10.0.0.9"),  # proxy chain
    (None, "10.0.0.9", frozenset({LOCAL}), "10.0.0.9"),       # a proxy on the laptop itself
    ("10.0.0.1", "not an address", frozenset({"10.0.0.1"}), "10.0.0.1"),
    ("10.0.0.1", "10.0.0.9," * 1000, frozenset({"10.0.0.1"}), "10.0.0.1"),   # too long
])
def test_a_device_is_its_address_or_the_one_a_trusted_proxy_forwarded(remote, header, trusted,
                                                                       device):
    assert client_device(remote, header, trusted) == device


def test_budgets_are_per_device_and_a_flood_of_addresses_costs_bounded_memory():
    clock = FakeClock()
    saves = PerDevice(1, 1.0, max_devices=3, clock=clock)
    assert saves.allow("a") and not saves.allow("a")          # one a second, any session
    assert saves.allow("b")                                   # another device: its own
    assert saves.retry_after("a") == pytest.approx(1.0)
    for device in ("c", "d", "e"):
        saves.allow(device)
    assert len(saves._limiters) == 3                          # "a" and "b" forgotten
    clock.now += 1
    assert saves.allow("a")


def test_no_single_device_can_fill_the_class_set(tmp_path, monkeypatch):
    """A device keeps at most 1/25 of the cap; other devices, and the CLI (no device), can
    still save; deleting frees the device's share; the store keeps no address."""
    monkeypatch.setenv("MNIST_LAB_MAX_DRAWINGS", "100")      # 4 per device
    store = RunStore(tmp_path)
    images = np.random.default_rng(0).random((12, 28, 28))
    ids = [store.add_drawing(images[i], 1, None, None, device="10.0.0.23") for i in range(4)]
    with pytest.raises(DrawingLimitReached, match="this device has saved 4 drawings"):
        store.add_drawing(images[4], 1, None, None, device="10.0.0.23")
    store.add_drawing(images[5], 1, None, None, device="10.0.0.24")
    store.add_drawing(images[6], 1, None, None)
    store.delete_drawing(ids[0])
    store.add_drawing(images[7], 1, None, None, device="10.0.0.23")
    with store.connect() as db:
        kept = {r[0] for r in db.execute("SELECT device FROM drawings")}
    assert "10.0.0.23" not in kept and None in kept and len(kept) == 3
    assert device_tag("10.0.0.23", "salt") != device_tag("10.0.0.23", "other salt")


def test_an_undone_deletion_gives_back_the_drawings_with_their_device(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_LAB_MAX_DRAWINGS", "50")       # 2 per device
    store = RunStore(tmp_path)
    images = np.random.default_rng(1).random((3, 28, 28))
    first = store.add_drawing(images[0], 1, None, None, device="10.0.0.23")
    store.add_drawing(images[1], 1, None, None, device="10.0.0.23")
    batch = store.delete_drawing(first)
    assert store.restore_drawings(batch) == 1
    with pytest.raises(DrawingLimitReached):
        store.add_drawing(images[2], 1, None, None, device="10.0.0.23")
