"""A pane's worker: jobs in order, never two at once, each on a thread of its own."""

import threading
import time

import pytest

from models.worker import SerialWorker, on_own_thread


def test_jobs_run_in_order_one_at_a_time_each_on_a_new_thread():
    worker = SerialWorker("duet-test")
    running, most, order, threads = [0], [0], [], []
    lock = threading.Lock()
    marker = threading.local()

    def job(n):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        assert not hasattr(marker, "seen")  # a thread that ran an earlier job would have it
        marker.seen = True
        threads.append(threading.current_thread())
        time.sleep(0.01)
        order.append(n)
        with lock:
            running[0] -= 1
        return n * n

    futures = [worker.submit(job, n) for n in range(6)]
    assert [f.result(timeout=10) for f in futures] == [n * n for n in range(6)]
    assert order == list(range(6)) and most[0] == 1
    assert all(t.name == "duet-test" for t in threads)
    for t in threads:
        t.join(timeout=5)
        assert not t.is_alive()  # every job's thread ended with its job


def test_a_failing_job_fails_its_future_only():
    worker = SerialWorker("duet-test")

    def boom():
        raise ValueError("bad")

    failed = worker.submit(boom)
    after = worker.submit(lambda: "still runs")
    with pytest.raises(ValueError, match="bad"):
        failed.result(timeout=10)
    assert after.result(timeout=10) == "still runs"


def test_shutdown_refuses_new_jobs_but_runs_the_queued_ones():
    worker = SerialWorker("duet-test")
    gate = threading.Event()
    first = worker.submit(gate.wait, 10)
    queued = worker.submit(lambda: "queued")
    cancelled = worker.submit(lambda: "never")
    assert cancelled.cancel()  # not started yet: it can be cancelled, as with an executor
    worker.shutdown(wait=False)
    with pytest.raises(RuntimeError):
        worker.submit(lambda: None)
    gate.set()
    assert first.result(timeout=10) is True
    assert queued.result(timeout=10) == "queued"
    assert cancelled.cancelled()


def test_shutdown_can_wait_for_the_last_job():
    worker = SerialWorker("duet-test")
    done = []
    worker.submit(lambda: (time.sleep(0.05), done.append(1)))
    worker.shutdown(wait=True)
    assert done == [1]


def test_shutdown_waits_for_the_running_job_even_when_the_last_was_cancelled():
    worker = SerialWorker("duet-test")
    gate = threading.Event()
    running = worker.submit(gate.wait, 10)
    worker.submit(lambda: None).cancel()
    waiter = threading.Thread(target=worker.shutdown, kwargs={"wait": True})
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # the first job still runs
    gate.set()
    waiter.join(10)
    assert not waiter.is_alive() and running.result() is True


def test_on_own_thread_runs_on_a_thread_that_ends_and_raises_on_the_callers():
    ran_on = []

    def work():
        ran_on.append(threading.current_thread())
        return 41 + 1

    assert on_own_thread(work) == 42
    assert ran_on[0] is not threading.current_thread() and not ran_on[0].is_alive()
    with pytest.raises(ValueError, match="bad"):
        on_own_thread(lambda: int("bad"))
