"""The live view's pace: how many browsers watch, and how often each refreshes."""
import pytest

from mnist_core.classroom.watchers import PageWatchers, live_refresh_seconds


@pytest.mark.parametrize("watchers, seconds", [(0, 2), (1, 2), (10, 2), (11, 3), (15, 3),
                                               (16, 4), (25, 5), (26, 6), (30, 6), (200, 6)])
def test_a_bigger_class_refreshes_less_often_within_2_to_6_seconds(watchers, seconds):
    assert live_refresh_seconds(watchers) == seconds


def test_the_class_asks_about_five_refreshes_a_second_at_most_beyond_ten_watchers():
    for watchers in range(11, 31):
        assert watchers / live_refresh_seconds(watchers) <= 5.0


def test_a_page_counts_once_and_until_it_stops_checking_in():
    now = [0.0]
    watchers = PageWatchers(window=15, clock=lambda: now[0])
    for session in ("a", "b", "a"):
        watchers.seen(session)
    assert watchers.count() == 2
    now[0] = 10.0
    watchers.seen("b")
    now[0] = 20.0   # "a" last checked in 20 s ago (a closed tab), "b" 10 s ago
    assert watchers.count() == 1
    now[0] = 26.0
    assert watchers.count() == 0
