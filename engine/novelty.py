"""Is a sampled name new, or a copy of a training name? And if new, which training name is
nearest (Levenshtein edit distance: the fewest letters inserted, deleted or replaced)?

A copy is a set lookup. A name one edit away is found by looking up every string one edit
from the sample (a few hundred lookups for a short name), so it is exact over any dataset.
Beyond that, training names are scanned nearest length first (two names whose lengths differ
by k are at least k edits apart, so the scan stops once no length can beat the best), each
with a distance computation that gives up as soon as it cannot beat the best either. On a
big dataset the scan is bounded: after `max_scanned` names it stops and says so.
"""

from dataclasses import dataclass

# Names checked one by one beyond the lookups: ~0.1 s in a worker thread on names.txt-like
# short names, so a dataset of millions of names does not keep the answer for seconds.
MAX_SCANNED = 50_000


def edit_distance(a, b, limit=None):
    """Levenshtein distance between `a` and `b`; with `limit`, any distance above it is
    returned as `limit + 1` (the computation stops early once it is certain)."""
    if len(a) < len(b):
        a, b = b, a
    if limit is not None and len(a) - len(b) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        if limit is not None and min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1] if limit is None else min(previous[-1], limit + 1)


def one_edit_away(name, alphabet):
    """Every string one deletion, replacement or insertion (of a letter of `alphabet`) from
    `name`, in a fixed order."""
    for i in range(len(name)):
        yield name[:i] + name[i + 1:]
    for i in range(len(name)):
        for char in alphabet:
            if char != name[i]:
                yield name[:i] + char + name[i + 1:]
    for i in range(len(name) + 1):
        for char in alphabet:
            yield name[:i] + char + name[i:]


@dataclass(frozen=True)
class Nearest:
    """The training name nearest a sample: `distance` 0 means the sample is a copy of it.
    `complete` is False when the scan stopped at its bound before it was sure."""

    sample: str
    name: str
    distance: int
    scanned: int  # training names compared one by one (0 when a lookup answered)
    complete: bool = True

    @property
    def is_copy(self):
        return self.distance == 0


class NameIndex:
    """The training names, by set and by length, to answer `nearest` quickly."""

    def __init__(self, docs):
        self.names = set(docs)
        if not self.names:
            raise ValueError("no training names to compare samples with")
        self.by_length = {}
        for name in dict.fromkeys(docs):  # each name once, in the order of the data
            self.by_length.setdefault(len(name), []).append(name)
        self.alphabet = sorted(set().union(*self.names))

    def count_new(self, samples):
        """How many of `samples` are not training names."""
        return sum(sample not in self.names for sample in samples)

    def nearest(self, sample, max_scanned=MAX_SCANNED):
        if sample in self.names:
            return Nearest(sample, sample, 0, 0)
        for neighbour in one_edit_away(sample, self.alphabet):
            if neighbour in self.names:
                return Nearest(sample, neighbour, 1, 0)
        best, best_distance, scanned = None, None, 0
        # Lengths nearest the sample's first (the shorter of two equally near first).
        for length in sorted(self.by_length, key=lambda n: (abs(n - len(sample)), n)):
            if best_distance is not None and abs(length - len(sample)) >= best_distance:
                break
            for name in self.by_length[length]:
                if scanned == max_scanned:
                    return Nearest(sample, best, best_distance, scanned, complete=False)
                scanned += 1
                limit = None if best_distance is None else best_distance - 1
                distance = edit_distance(sample, name, limit)
                if best_distance is None or distance < best_distance:
                    best, best_distance = name, distance
                    if distance == 2:  # 1 was ruled out by the lookups
                        return Nearest(sample, best, 2, scanned)
        return Nearest(sample, best, best_distance, scanned)
