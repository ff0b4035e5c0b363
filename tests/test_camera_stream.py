"""Stream measures from packet arrival times: age of the last packet, frame rate, stalls."""

import pytest

from cameras.stream import PacketLog, stall_gap_s


def log_with(times, started_at=0.0, **kwargs):
    log = PacketLog(started_at, stall_gap_s=kwargs.pop("stall_gap_s", 2.0), **kwargs)
    for at in times:
        log.record(at)
    return log


def steady(start, end, fps):
    count = round((end - start) * fps)
    return [start + (i + 1) / fps for i in range(count)]


def test_stall_gap_is_two_frame_intervals_but_at_least_two_seconds():
    assert stall_gap_s(25) == 2.0
    assert stall_gap_s(0.5) == 4.0
    assert stall_gap_s(None) == 2.0


def test_age_counts_from_the_start_when_no_packet_ever_came():
    m = log_with([], started_at=100.0).measure(130.0, connected=False)
    assert m.last_packet_age_s == 30.0
    assert m.stall_in_progress and m.fps is None


def test_age_counts_from_the_last_packet():
    assert log_with([1.0, 2.5]).measure(4.0, connected=True).last_packet_age_s == 1.5


def test_frame_rate_is_unknown_until_a_whole_window_was_watched():
    log = log_with(steady(0, 9, 25), fps_window_s=10.0)
    assert log.measure(9.0, connected=True).fps is None


def test_frame_rate_counts_packets_over_the_window():
    log = log_with(steady(0, 30, 25), fps_window_s=10.0)
    assert log.measure(30.0, connected=True).fps == pytest.approx(25, abs=0.2)
    for at in steady(30, 40, 12):
        log.record(at)
    assert log.measure(40.0, connected=True).fps == pytest.approx(12, abs=0.2)


def test_each_gap_longer_than_the_stall_gap_counts_as_one_stall():
    times = steady(0, 10, 25) + steady(13, 20, 25) + steady(21.5, 30, 25)
    m = log_with(times).measure(30.0, connected=True)
    assert m.stalls == 1  # the 3 s gap; the 1.5 s gap is not a stall
    assert not m.stall_in_progress


def test_a_stall_in_progress_counts_once():
    m = log_with(steady(0, 10, 25)).measure(15.0, connected=True)
    assert m.stall_in_progress and m.stalls == 1


def test_a_stall_is_forgotten_once_the_window_has_passed_since_it_ended():
    log = log_with(steady(0, 10, 25) + steady(13, 3613, 1), stall_window_s=3600.0)
    # The stall ended with the packet at 14 s (the first after the gap).
    assert log.measure(3613.5, connected=True).stalls == 1
    log.record(3614.0)
    assert log.measure(3614.5, connected=True).stalls == 0


def test_packets_stamped_slightly_out_of_order_do_not_turn_time_backwards():
    log = log_with([1.0, 2.0, 1.9, 2.1])
    m = log.measure(2.2, connected=True)
    assert m.last_packet_age_s == pytest.approx(0.1)
    assert m.stalls == 0


def test_packet_log_refuses_a_non_positive_stall_gap():
    with pytest.raises(ValueError):
        PacketLog(0.0, stall_gap_s=0.0)
