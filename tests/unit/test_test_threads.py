"""The suite's own rule (tests/conftest.py): a plain test's body runs on a thread that ends with
it, so no test leaves an OpenMP team on pytest's thread to slow every later test's decodes."""

import threading

import pytest

_seen: list[threading.Thread] = []


def test_a_plain_test_runs_off_pytests_own_thread():
    assert threading.current_thread() is not threading.main_thread()
    _seen.append(threading.current_thread())


def test_that_thread_has_ended_by_the_next_test():
    assert _seen and not _seen[0].is_alive()


@pytest.mark.parametrize("n", [1, 2])
def test_fixtures_and_parameters_reach_the_body(n, tmp_path):
    assert n in (1, 2) and tmp_path.is_dir()


def test_a_failure_in_the_body_is_reported_as_the_tests(pytester):
    pytester.makeconftest("from tests.conftest import pytest_pyfunc_call  # noqa: F401\n")
    pytester.makepyfile(
        "import threading\n"
        "def test_fails():\n    assert 1 == 2\n"
        "def test_passes():\n    assert threading.current_thread() is not threading.main_thread()\n"
        "def test_returns():\n    return 3\n"
    )
    # (without the snapshot plugin: its session end would remove the outer session's report folder)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:textual-snapshot", "-p", "no:asyncio")
    result.assert_outcomes(failed=1, passed=2, warnings=1)
    assert "assert 1 == 2" in result.stdout.str() and "test_returns returned <class 'int'>" in result.stdout.str()


async def test_an_async_test_keeps_the_event_loop_on_pytests_thread():
    assert threading.current_thread() is threading.main_thread()
