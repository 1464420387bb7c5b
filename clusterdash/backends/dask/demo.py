"""
A demo workload that keeps a Dask cluster busy with a realistic mix.

Each round submits maps and reductions, a dask array computation, sleeping
tasks and a few tasks that raise ``ValueError``, ``ZeroDivisionError`` or
``KeyError``. It also submits tasks with awkward keys: tuples, spaces,
``+``, ``/``, ``%``, quotes, HTML markup, non-ASCII text and one key of
3,000 characters.
Some results stay in memory for a few rounds and are then released, so the
dashboard shows memory rising and falling. At most ``HELD_ROUNDS`` rounds of
results are held at once, so the workload's memory stays bounded however
long it runs.

``manage.py demo_workload`` runs it against a scheduler until Ctrl-C, and
the embedded backend runs it in a thread when its ``demo`` option is set.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import deque

import cloudpickle
import dask.array as da
from distributed import Client, Future

# Workers of a remote cluster do not have clusterdash installed, so the task
# functions below travel as code rather than as an import path.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

logger = logging.getLogger(__name__)

#: Maximum number of rounds whose results are held in memory at once.
HELD_ROUNDS = 6

#: Seconds a round waits for its tasks before moving on regardless.
ROUND_TIMEOUT = 60.0

#: Seconds between connection retries when the scheduler is unreachable.
RETRY_PAUSE = 5.0


def increment(x: int) -> int:
    time.sleep(random.uniform(0.01, 0.1))
    return x + 1


def square(x: int) -> int:
    return x * x


def total(values: list[int]) -> int:
    return sum(values)


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def echo(value: object) -> object:
    return value


def parse_setting(text: str) -> int:
    return int(text)


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator


def look_up(table: dict, name: str) -> object:
    return table[name]


def odd_keys(round_number: int) -> list:
    """Return this round's awkward task keys, each unique to the round."""
    n = round_number
    return [
        ("odd key", n),
        ("nested", (n, "inner")),
        f"space key-{n}",
        f"a+b-{n}",
        f"path/like/key-{n}",
        f"100% done-{n}",
        f"quote ' and \" -{n}",
        f"<b>bold</b><script>alert(1)</script>-{n}",
        f"ключ-ü-λ-数据-{n}",
        f"long-{'x' * 3000}-{n}",
    ]


class DemoWorkload:
    """
    Submit rounds of demo tasks to the scheduler at ``address`` until stopped.

    ``pause`` is the time between rounds in seconds. ``run`` blocks, and
    ``start`` runs the same loop in a daemon thread that ``stop`` ends.
    """

    def __init__(self, address: str, *, pause: float = 1.0, seed: int | None = None):
        self.address = address
        self.pause = pause
        self.rounds = 0
        self._random = random.Random(seed)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._held: deque[tuple[float, list[Future]]] = deque()

    # Lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Run the workload in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self.run, name="clusterdash-demo", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the loop, release every held result and disconnect."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("The demo workload did not stop within %g s", timeout)

    @property
    def running(self) -> bool:
        """Whether the workload thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Submit rounds until ``stop`` is called; reconnect after failures."""
        logger.info("Starting the demo workload on %s", self.address)
        failures = 0
        while not self._stopping.is_set():
            try:
                with Client(
                    self.address,
                    timeout=10,
                    set_as_default=False,
                    name="clusterdash-demo",
                ) as client:
                    failures = 0
                    self._loop(client)
            except Exception as exc:
                if self._stopping.is_set():
                    break
                # Log the first failure and then every tenth, so a scheduler
                # that stays down does not flood the log.
                if failures % 10 == 0:
                    logger.warning(
                        "The demo workload lost scheduler %s (%s). Retrying in %g s",
                        self.address,
                        exc,
                        RETRY_PAUSE,
                    )
                failures += 1
                self._held.clear()
                self._stopping.wait(RETRY_PAUSE)
        self._held.clear()
        logger.info("Stopped the demo workload after %d rounds", self.rounds)

    # Rounds ------------------------------------------------------------------

    def _loop(self, client: Client) -> None:
        while not self._stopping.is_set():
            futures = self.submit_round(client)
            self._wait(futures)
            self._hold(futures)
            self.rounds += 1
            self._stopping.wait(self.pause)

    def submit_round(self, client: Client) -> list[Future]:
        """Submit one round of the mix and return its futures."""
        n = self.rounds
        rng = self._random
        futures: list[Future] = []

        # A map and two reductions over it.
        increments = client.map(increment, range(rng.randint(20, 60)), pure=False)
        squares = client.map(square, increments, pure=False)
        futures += increments + squares
        futures.append(client.submit(total, increments, pure=False))
        futures.append(client.submit(total, squares, pure=False))

        # A dask array computation: a few dozen chunk tasks and a tree
        # reduction, with tuple keys.
        array = da.random.random((800, 800), chunks=(200, 200))
        futures.append(client.compute((array + array.T).mean(axis=0)))

        # Tasks that keep a worker thread busy for a while.
        durations = [round(rng.uniform(0.2, 3.0), 2) for _ in range(4)]
        futures += client.map(nap, durations, pure=False)

        # Failures with distinct exception types, one or two a round.
        failing = [
            (parse_setting, (f"not a number {n}",)),
            (ratio, (n, 0)),
            (look_up, ({"present": 1}, f"missing-{n}")),
        ]
        # Each kind in turn, so that three rounds show every kind.
        chosen = [failing[n % len(failing)]]
        if rng.random() < 0.3:
            chosen.append(rng.choice(failing))
        for function, args in chosen:
            futures.append(client.submit(function, *args, pure=False))

        for index, key in enumerate(odd_keys(n)):
            futures.append(client.submit(echo, index, key=key))
        return futures

    def _wait(self, futures: list[Future]) -> None:
        deadline = time.monotonic() + ROUND_TIMEOUT
        pending = futures
        while pending and not self._stopping.is_set():
            if time.monotonic() > deadline:
                logger.warning(
                    "%d demo tasks still running after %g s; starting the next round",
                    len(pending),
                    ROUND_TIMEOUT,
                )
                return
            # distributed.wait() needs a default client, which this
            # workload does not set, so poll the futures' own state.
            pending = [future for future in pending if not future.done()]
            if pending:
                self._stopping.wait(0.25)

    def _hold(self, futures: list[Future]) -> None:
        # Dropping the last reference to a future releases its result on
        # the cluster.
        now = time.monotonic()
        self._held = deque(item for item in self._held if item[0] > now)
        # Hold about half of the rounds for 5 to 30 seconds; the rest are
        # released at once.
        if self._random.random() < 0.5:
            while len(self._held) >= HELD_ROUNDS:
                self._held.popleft()
            release_at = now + self._random.uniform(5.0, 30.0)
            self._held.append((release_at, futures))


def run_until_interrupted(address: str, pause: float = 1.0) -> int:
    """Run the workload until Ctrl-C and return the number of rounds run."""
    workload = DemoWorkload(address, pause=pause)
    workload.start()
    try:
        # Join in short steps, so that Ctrl-C reaches this thread.
        while workload.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        logger.info("Interrupted; stopping the demo workload")
    finally:
        workload.stop()
    return workload.rounds
