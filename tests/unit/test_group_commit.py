"""The group commit's leader/follower logic with a fake batch function: grouping, order, errors, no lost callers."""

import random
import threading
import time

import pytest

from shared.runs.group_commit import GroupCommit


class GatedBatches:
    """A fake run_batch that records each batch and holds the first one until `release()`."""

    def __init__(self, fail_on: set | None = None):
        self.batches: list[list] = []
        self.gate, self.first_started = threading.Event(), threading.Event()
        self.fail_on = fail_on or set()

    def __call__(self, items):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.gate.wait(10)
        if self.fail_on & set(items):
            raise ValueError(f"batch {len(self.batches)} failed")
        return [("done", item) for item in items]

    def release(self):
        self.gate.set()


def _submit_in_order(batcher, fake, keyed_items):
    """Submit the first item (it leads and blocks in the fake), then the others one by one, each queued before
    the next is sent, so arrival order is known; returns the threads and a dict item -> result or exception."""
    outcomes, threads = {}, []

    def call(key, item):
        try:
            outcomes[item] = batcher.submit(key, item)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertions
            outcomes[item] = exc

    for position, (key, item) in enumerate(keyed_items):
        thread = threading.Thread(target=call, args=(key, item))
        thread.start()
        threads.append(thread)
        if position == 0:
            assert fake.first_started.wait(10)
        else:
            _wait_for(lambda n=position: batcher.queued == n)
    return threads, outcomes


def _wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _join(threads):
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "a caller is stuck"


def test_one_item_per_key_per_batch_and_each_key_in_arrival_order():
    fake = GatedBatches()
    batcher = GroupCommit(fake)
    order = [("a", "a0"), ("a", "a1"), ("b", "b0"), ("a", "a2"), ("b", "b1"), ("c", "c0")]
    threads, outcomes = _submit_in_order(batcher, fake, order)
    fake.release()
    _join(threads)
    assert fake.batches == [["a0"], ["a1", "b0", "c0"], ["a2", "b1"]]
    assert outcomes == {item: ("done", item) for _, item in order}
    assert batcher.batches == 3 and batcher.queued == 0


def test_a_batch_holds_at_most_max_batch_items_oldest_first():
    fake = GatedBatches()
    batcher = GroupCommit(fake, max_batch=4)
    order = [(f"k{i}", i) for i in range(11)]
    threads, outcomes = _submit_in_order(batcher, fake, order)
    fake.release()
    _join(threads)
    assert fake.batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert all(outcomes[i] == ("done", i) for i in range(11))


def test_an_error_reaches_every_caller_of_its_batch_and_no_other():
    fake = GatedBatches(fail_on={"y"})
    batcher = GroupCommit(fake)
    order = [("lead", "first"), ("x", "x"), ("y", "y"), ("z", "z"), ("x", "x-later")]
    threads, outcomes = _submit_in_order(batcher, fake, order)
    fake.release()
    _join(threads)
    assert fake.batches == [["first"], ["x", "y", "z"], ["x-later"]]
    failed = [outcomes[item] for item in ("x", "y", "z")]
    assert all(isinstance(error, ValueError) and str(error) == "batch 2 failed" for error in failed)
    assert outcomes["first"] == ("done", "first") and outcomes["x-later"] == ("done", "x-later")
    assert batcher.batches == 3  # and the lead was handed on after the failure


def test_a_wrong_number_of_results_is_an_error_for_the_batch():
    batcher = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        batcher.submit("k", 1)
    assert GroupCommit(lambda items: [item * 2 for item in items]).submit("k", 21) == 42


def test_fifty_threads_no_lost_or_stuck_caller_and_batches_never_overlap():
    in_flight, seen, lock = [0], [], threading.Lock()
    max_batch = 8

    def run_batch(items):
        keys = [key for key, _ in items]
        with lock:
            in_flight[0] += 1
            assert in_flight[0] == 1, "two batches at once"
        assert len(set(keys)) == len(keys) and len(items) <= max_batch
        time.sleep(random.uniform(0, 0.003))
        seen.extend(items)
        with lock:
            in_flight[0] -= 1
        if random.random() < 0.1:
            raise ValueError("flaky batch")
        return [f"{key}:{n}" for key, n in items]

    batcher = GroupCommit(run_batch, max_batch=max_batch)
    results, errors = [], []

    def caller(thread_no):
        for n in range(20):
            key = f"org{(thread_no + n) % 12}"
            try:
                results.append((batcher.submit(key, (key, (thread_no, n))), f"{key}:{(thread_no, n)}"))
            except ValueError:
                errors.append((thread_no, n))

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(50)]
    for thread in threads:
        thread.start()
    _join(threads)
    assert (
        len(results) + len(errors) == 50 * 20 == len(seen)
    )  # every item ran exactly once, every caller answered
    assert all(got == expected for got, expected in results)  # each caller got its own item's result
    assert batcher.queued == 0 and batcher.batches < 50 * 20  # items were grouped


def test_the_instance_keeps_a_bounded_number_of_org_batchers(monkeypatch):
    """An instance serving many orgs forgets the idle group commits of the orgs it saw longest ago."""
    from shared.platform.settings import settings_from_env
    from shared.runs import admission

    monkeypatch.setattr(admission, "MAX_BATCHERS", 2)
    monkeypatch.setattr(admission, "_BATCHERS", admission.OrderedDict())
    settings, warehouse = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"}), object()
    first = admission._batcher(warehouse, settings, "org_a")
    assert admission._batcher(warehouse, settings, "org_a") is first  # the same org: the same batcher
    admission._batcher(warehouse, settings, "org_b")
    admission._batcher(warehouse, settings, "org_c")
    assert [key[2] for key in admission._BATCHERS] == ["org_b", "org_c"]
    assert admission._batcher(warehouse, settings, "org_a") is not first and first.idle
