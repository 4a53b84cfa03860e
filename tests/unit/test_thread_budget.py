"""Sharing the cores among generating panes, on the real embedded model."""

from models.threads import ThreadBudget


def test_generating_panes_split_the_cores_and_the_last_one_takes_them_all():
    budget = ThreadBudget(cores=4)
    a = budget.acquire()
    assert a.threads == 4
    b = budget.acquire()
    assert (a.threads, b.threads) == (2, 2)
    c = budget.acquire()
    assert sorted((a.threads, b.threads, c.threads)) == [1, 1, 2]  # every core used, none twice
    budget.release(b), budget.release(c)
    assert a.threads == 4
    budget.release(a)
    budget.release(a)  # releasing twice is harmless


def test_pinned_threads_are_kept_and_left_out_of_the_share():
    budget = ThreadBudget(cores=4)
    pinned = budget.acquire(fixed=3)
    flexible = budget.acquire()
    assert (pinned.threads, flexible.threads) == (3, 1)
    budget.release(pinned)
    assert flexible.threads == 4
    crowded = ThreadBudget(cores=2)
    crowded.acquire(fixed=2)
    assert crowded.acquire().threads == 1  # never zero threads


def test_a_lease_reports_a_change_once():
    budget = ThreadBudget(cores=2)
    a = budget.acquire()
    assert a.threads_if_changed() == 2
    assert a.threads_if_changed() is None
    b = budget.acquire()
    assert a.threads_if_changed() == 1
    budget.release(b)
    assert a.threads_if_changed() == 2 and a.threads_if_changed() is None
