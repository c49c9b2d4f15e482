"""The spool's group commit: every add returns only after an fsync that began after it, and
concurrent requests share fsyncs."""
import os
import threading
import time

from tracker.store.group_commit import GroupCommit
from tracker.store.spool import Segment
from tracker.store.writer import BatchWriter
from tracker.ingest.touchpoints import COLUMNS


def test_a_waiter_returns_only_after_an_fsync_that_covers_it(tmp_path):
    path = tmp_path / "f"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND)
    appended = [0]
    covered = []

    def snapshot():
        covered.append(appended[0])
        return appended[0], os.dup(fd)

    commit = GroupCommit(snapshot)
    lock = threading.Lock()

    def request():
        with lock:
            os.write(fd, b"x\n")
            appended[0] += 1
            ticket = appended[0]
        commit.wait(ticket)
        assert max(covered) >= ticket  # an fsync that covered this append has ended

    threads = [threading.Thread(target=request) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.close(fd)
    assert appended[0] == 200 and commit.fsyncs <= 200


def test_concurrent_requests_share_fsyncs_and_every_line_is_on_disk(store, tmp_path):
    writer = BatchWriter(store, COLUMNS, tmp_path / "spool", flush_seconds=60, fsync=True)

    def request(n):
        for i in range(25):
            writer.add([("identities", ["s", f"v{n}-{i}", "u", 0])])

    started = time.perf_counter()
    threads = [threading.Thread(target=request, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    [segment] = writer.spool.folder.glob("*.wal")
    assert len(Segment.read(segment).records) == 200
    assert writer.commit.fsyncs < 200, f"{writer.commit.fsyncs} fsyncs for 200 requests in {elapsed:.2f} s"
    writer.close(timeout=1)
