"""Group commit: the spool's appends made durable with one fsync for all the requests waiting.

A request appends its line, then waits until an fsync that began after its append has ended.
The first waiter to find no fsync running starts one (it is the leader) for every line appended
until then; requests that arrive meanwhile wait for the next one. Under load one fsync serves
the requests of the few milliseconds it takes; alone, a request pays one fsync.
"""
import os
import threading


class GroupCommit:
    """``wait(ticket)`` returns once the append numbered ``ticket`` is on stable storage.

    ``snapshot()`` is called with no lock held and returns (the last ticket appended, a file
    descriptor to fsync that covers it, or None when the segment was sealed, which fsyncs).
    """

    def __init__(self, snapshot):
        self._snapshot = snapshot
        self._cond = threading.Condition()
        self._synced = 0
        self._syncing = False
        self.fsyncs = 0  # for tests and the benchmark: how many requests shared each

    def wait(self, ticket):
        """Block until ``ticket`` is durable; raises OSError when the disk refuses."""
        while True:
            with self._cond:
                while self._syncing and self._synced < ticket:
                    self._cond.wait()
                if self._synced >= ticket:
                    return
                self._syncing = True
            target = 0
            try:
                target, fd = self._snapshot()
                if fd is not None:
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                self.fsyncs += 1
            finally:
                with self._cond:
                    self._syncing = False
                    self._synced = max(self._synced, target)
                    self._cond.notify_all()
