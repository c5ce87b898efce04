"""Reads shared within one run: each attribute of a resource is read once, whatever the number of rules.

A ``ReadCache`` lives for one CLI run — one ``mlwarden scan``/``report`` sweep, one event of ``mlwarden
evaluate`` — and is dropped after it. The deployed functions never have one (``RuleContext.reads`` is None):
each invocation re-reads live state, and a function instance lives far longer than a read stays true.

Keys are (account, region, resource type, resource id, read name, call parameters): ``mlwarden.resources.read``
and ``read_tags`` are the only callers. Two threads asking for one key make one request: the second waits for
the first's answer. A read that fails is not remembered (the next rule asks again), except "the resource is
gone", which is. Every answer is a deep copy: a rule may change the state it is given.

A remediation changes live state, and not always only its own resource's (a finding's fix may turn on its
bucket's Block Public Access): the engine calls ``changed`` after every fix it attempts, which forgets every
read of that account and Region, so no rule judges what a fix has made stale.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from mlwarden.core.model import ResourceGone, ResourceRef

# (account, region, type, id): the resource a read is about.
ResourceKey = tuple[str, str, str, str]


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    value: Any = None
    gone: str | None = None  # the ResourceGone message, when the read found the resource gone


def freeze(value: Any) -> Hashable:
    """A hashable form of call parameters (dicts, lists, scalars), for a key."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(repr(v) for v in value))
    return value if isinstance(value, Hashable) else repr(value)


class ReadCache:
    """Answers of reads by key, for one run (thread-safe; see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resources: dict[ResourceKey, dict[Hashable, _Entry]] = {}
        self.requests = 0  # reads made (a miss: one read, which may be several pages)
        self.shared = 0  # reads answered from an earlier one

    @staticmethod
    def resource_key(ref: ResourceRef, type_name: str) -> ResourceKey:
        return (ref.account, ref.region, type_name, ref.resource_id)

    def get(self, resource: ResourceKey, read: Hashable, load: Callable[[], Any]) -> Any:
        """The answer of ``read`` about ``resource``: ``load()``'s the first time, a copy of it after."""
        with self._lock:
            entry = self._resources.setdefault(resource, {}).setdefault(read, _Entry())
        with entry.lock:  # a second asker of the same key waits here for the first's answer
            if not entry.done:
                try:
                    value = load()
                except ResourceGone as gone:
                    entry.done, entry.gone = True, str(gone)
                    with self._lock:
                        self.requests += 1
                    raise
                entry.value, entry.done = value, True
                with self._lock:
                    self.requests += 1
                return copy.deepcopy(value)
        with self._lock:
            self.shared += 1
        if entry.gone is not None:
            raise ResourceGone(entry.gone)
        return copy.deepcopy(entry.value)

    def forget(self, resource: ResourceKey) -> None:
        """Drop every read of one resource (a sweep is done with it: memory stays flat)."""
        with self._lock:
            self._resources.pop(resource, None)

    def changed(self, account: str, region: str) -> None:
        """A fix was attempted in this account and Region: forget every read made there (and every read of a
        ref that names no account or Region, which may be the same resource)."""
        with self._lock:
            stale = [
                key
                for key in self._resources
                if (not key[0] or not account or key[0] == account) and (not key[1] or not region or key[1] == region)
            ]
            for key in stale:
                del self._resources[key]

    def clear(self) -> None:
        with self._lock:
            self._resources.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(reads) for reads in self._resources.values())
