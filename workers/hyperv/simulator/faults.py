"""Injected faults: what the simulator can do wrong on purpose, from the CLI or at run time.

A fault is a rule. Kinds:
- ``error``: a named cmdlet fails with the given message (a terminating cmdlet error);
- ``hang``: a named cmdlet blocks for ``seconds`` (or until the command is signalled, if none);
- ``drop``: the HTTP connection is closed without an answer;
- ``http500``: the answer is HTTP 500 with an empty body;
- ``slow``: every WS-Man request is delayed by ``seconds``.
For ``drop``/``http500`` with a ``cmdlet``, the command runs (its effects happen!) and the
Receive that would carry its result is the one that fails: the nasty case where a caller cannot
tell whether its change was made. Without a cmdlet they hit the next WS-Man request (optionally
only requests of one ``wsman_action``: Create, Command, Receive, Signal, Delete).
A rule fires ``times`` times (default: forever) and/or with ``probability`` (seeded by --seed),
after letting the first ``after`` matching calls through (default 0).
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = {"error", "hang", "drop", "http500", "slow"}
WSMAN_ACTIONS = {"Create", "Command", "Receive", "Signal", "Delete"}


@dataclass
class FaultRule:
    kind: str
    cmdlet: str | None = None
    message: str = "The operation failed because of an injected fault."
    seconds: float | None = None
    times: int | None = None
    probability: float = 1.0
    wsman_action: str | None = None
    after: int = 0
    id: int = 0
    fired: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        """Validate a rule given by a user (CLI JSON or the control endpoint)."""
        unknown = set(data) - {"kind", "cmdlet", "message", "seconds", "times", "probability", "wsman_action", "after"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(sorted(KINDS))}")
        if kind in {"error", "hang"} and not data.get("cmdlet"):
            raise ValueError(f"a {kind} fault needs a cmdlet")
        if kind == "slow" and not isinstance(data.get("seconds"), (int, float)):
            raise ValueError("a slow fault needs seconds")
        if data.get("wsman_action") not in (None, *WSMAN_ACTIONS):
            raise ValueError(f"wsman_action must be one of {', '.join(sorted(WSMAN_ACTIONS))}")
        probability = float(data.get("probability", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        after = data.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError("after must be an integer >= 0")
        times = data.get("times")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer")
        return cls(
            kind=kind,
            cmdlet=data.get("cmdlet"),
            message=data.get("message", cls.message),
            seconds=data.get("seconds"),
            times=times,
            probability=probability,
            wsman_action=data.get("wsman_action"),
            after=after,
        )


@dataclass
class FaultBook:
    """The active rules. Thread-safe; rules that have fired ``times`` times disappear."""

    seed: int | None = None
    rules: list[FaultRule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._ids = itertools.count(1)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = next(self._ids)
            self.rules.append(rule)
            return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self.rules]

    def _take(self, matches) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if not matches(rule):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                rule.fired += 1
                if rule.times is not None and rule.fired >= rule.times:
                    self.rules.remove(rule)
                return rule
        return None

    def for_cmdlet(self, cmdlet: str) -> FaultRule | None:
        """The error/hang/drop/http500 rule that fires for this cmdlet call, if any."""
        return self._take(
            lambda rule: (
                rule.cmdlet is not None
                and rule.cmdlet.lower() == cmdlet.lower()
                and rule.kind in {"error", "hang", "drop", "http500"}
            )
        )

    def for_request(self, action: str) -> FaultRule | None:
        """A drop/http500 rule without a cmdlet that fires for this WS-Man request."""
        return self._take(
            lambda rule: (
                rule.cmdlet is None and rule.kind in {"drop", "http500"} and rule.wsman_action in (None, action)
            )
        )

    def request_delay(self) -> float:
        with self._lock:
            return sum(rule.seconds or 0.0 for rule in self.rules if rule.kind == "slow")
