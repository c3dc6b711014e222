"""The peer watchdog: no rank waits in a collective forever for a rank that failed, died or hung.

Each rank runs a thread that writes a heartbeat into the rendezvous store every second and reads the others'. A rank
whose heartbeat stops is dead; one whose heartbeat says it made no training progress (:func:`mark_progress`) for too
long is hung; a rank that raises reports itself. Either way every rank prints the cause and exits with
:data:`EXIT_PEER_FAILED`.

Keys in the store: ``ding/hb/<rank>`` ("<count> <seconds since progress>"), ``ding/failed`` (the first failure
reported), ``ding/ack/<rank>`` (this rank has read it), ``ding/exit/<rank>`` (this rank left the training loop).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Optional

EXIT_PEER_FAILED = 3  # exit code of a rank that stops because another rank failed
_FAILED_KEY = "ding/failed"
_PROGRESS = [time.monotonic()]  # when this process last made progress (see mark_progress)


def mark_progress() -> None:
    """Tell the hang detector this process is making progress (the train loop calls it every step; costs ~50 ns)."""
    _PROGRESS[0] = time.monotonic()


class PeerWatchdog:
    """One rank's heartbeats and failure reports, through the store that all ranks of the group share.

    :param store: the group's ``torch.distributed.Store`` (hosted by rank 0's process).
    :param dead_after_s: a rank whose heartbeat stops for this long is reported dead.
    :param hang_timeout_s: a rank alive but without progress for this long is reported hung.
    """

    def __init__(self, store: Any, rank: int, world_size: int, dead_after_s: float, hang_timeout_s: float) -> None:
        self._store = store
        self.rank, self.world_size = rank, world_size
        self._dead_after_s, self._hang_timeout_s = dead_after_s, hang_timeout_s
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="ding-dist-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """From now on the thread exits instead of stopping this rank (it is leaving or reporting its own failure)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def mark_exited(self) -> None:
        """Tell the others this rank is done, not dead: they stop watching it."""
        try:
            self._store.set(f"ding/exit/{self.rank}", "1")
        except Exception:
            pass

    def _watch(self) -> None:
        """The thread: send this rank's heartbeat, watch the others', and exit when any rank failed, died or hung."""
        rank, world = self.rank, self.world_size
        others = [r for r in range(world) if r != rank]
        self._watch_start = time.monotonic()
        last_seen: dict[int, tuple[bytes, float]] = {}
        beat, next_beat, next_check = 0, 0.0, time.monotonic() + 1.0
        while not self._stop.wait(0.25):
            now = time.monotonic()
            try:
                if now >= next_beat:
                    beat += 1
                    self._store.set(f"ding/hb/{rank}", f"{beat} {now - _PROGRESS[0]:.1f}")
                    next_beat = now + 1.0
                if self._store.check([_FAILED_KEY]):
                    if self._stop.is_set():  # this rank is reporting its own failure from DistContext.__exit__
                        return
                    message = self._store.get(_FAILED_KEY).decode(errors="replace")
                    self._store.set(f"ding/ack/{rank}", "1")
                    self._exit_for(message)
                if now < next_check:
                    continue
                next_check = now + 1.0
                problem = self._check_peers(others, last_seen, now)
                if problem and not self._stop.is_set():
                    self._store.compare_set(_FAILED_KEY, "", problem)  # the first rank to notice names the cause
                    self._exit_for(self._store.get(_FAILED_KEY).decode(errors="replace"))
            except Exception:  # the store lives in rank 0's process: it is gone
                if self._stop.is_set():
                    return
                self._exit_for("rank 0 is gone (its process ended or the connection to it was lost)")

    def _check_peers(self, others: list[int], last_seen: dict, now: float) -> Optional[str]:
        """What is wrong with another rank, from the heartbeats in the store (None: all well)."""
        keys = [f"ding/hb/{r}" for r in others]
        present = [r for r, key in zip(others, keys, strict=True) if self._store.check([key])]
        values = dict(zip(present, self._store.multi_get([keys[others.index(r)] for r in present]), strict=True))
        ages = {self.rank: now - _PROGRESS[0]}  # seconds since each rank last made progress
        for r in others:
            if self._store.check([f"ding/exit/{r}"]):
                continue  # it left the training loop normally
            value = values.get(r, b"0 0")  # no heartbeat yet: counts as silent since this watchdog started
            if r not in last_seen:
                last_seen[r] = (value, now if r in values else self._watch_start)
            elif last_seen[r][0] != value:
                last_seen[r] = (value, now)
            silent = now - last_seen[r][1]  # since its heartbeat last changed
            if silent > self._dead_after_s:
                return (
                    f"rank {r} stopped sending heartbeats {silent:.0f} s ago (its process was killed, crashed or froze)"
                )
            ages[r] = float(value.split()[1]) + silent
        if max(ages.values()) > self._hang_timeout_s:
            # ranks waiting in a collective stop progressing too, but later: the culprit stopped first
            culprit = max(ages, key=ages.get)
            return (
                f"rank {culprit} made no training progress for {ages[culprit]:.0f} s (hung; the others wait for it; "
                f"the limit is DistContext(hang_timeout_s={self._hang_timeout_s:.0f}))"
            )
        return None

    def _exit_for(self, message: str) -> None:
        print(f"ding: rank {self.rank} stopping because {message}", file=sys.stderr, flush=True)
        os._exit(EXIT_PEER_FAILED)

    def peer_failure(self, wait_s: float) -> Optional[str]:
        """The failure another rank reported (waiting up to ``wait_s`` for it to arrive), or None."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if self._store.check([_FAILED_KEY]):
                    message = self._store.get(_FAILED_KEY).decode(errors="replace")
                    self._store.set(f"ding/ack/{self.rank}", "1")
                    return message
            except Exception:
                return "rank 0 is gone (its process ended or the connection to it was lost)" if self.rank else None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def report_failure(self, message: str) -> None:
        """Tell the other ranks; rank 0 (which hosts the store) waits briefly until they have read it."""
        try:
            self._store.set(_FAILED_KEY, message)
        except Exception:
            return
        print(f"ding: {message}", file=sys.stderr, flush=True)
        if self.rank != 0:
            return
        deadline = time.monotonic() + 5.0
        others = [f"ding/ack/{r}" for r in range(1, self.world_size)]
        while time.monotonic() < deadline:
            try:
                if self._store.check(others):
                    return
            except Exception:
                return
            time.sleep(0.1)
