"""Sample novelty: copies of training names and the nearest training name, against brute
force."""

import random
from functools import cache

import pytest

from engine.novelty import NameIndex, edit_distance, one_edit_away


def brute_distance(a, b):
    """Levenshtein by its recursive definition (memoised), not by a table."""

    @cache
    def d(i, j):
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def random_names(rng, count, alphabet="abcde", longest=7):
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))
            for _ in range(count)]


def test_edit_distance_matches_brute_force():
    rng = random.Random(1)
    names = random_names(rng, 60)
    for a in names:
        for b in names[:30]:
            expected = brute_distance(a, b)
            assert edit_distance(a, b) == expected
            for limit in range(4):
                assert edit_distance(a, b, limit) == min(expected, limit + 1)


@pytest.mark.parametrize("a, b, distance", [
    ("emma", "emma", 0), ("emma", "emmy", 1), ("emma", "ema", 1), ("emma", "gemma", 1),
    ("kitten", "sitting", 3), ("", "abc", 3)])
def test_edit_distance_by_hand(a, b, distance):
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def test_one_edit_away_is_every_string_at_distance_one():
    alphabet = "abc"
    generated = set(one_edit_away("ab", alphabet))
    # Every string of up to 3 letters of the alphabet at distance exactly 1.
    strings = {""} | {a for a in alphabet} | {a + b for a in alphabet for b in alphabet} | {
        a + b + c for a in alphabet for b in alphabet for c in alphabet}
    assert generated == {s for s in strings if brute_distance("ab", s) == 1}


def test_nearest_matches_brute_force():
    rng = random.Random(2)
    training = random_names(rng, 150, longest=6)
    index = NameIndex(training)
    for sample in random_names(rng, 120, longest=9):
        nearest = index.nearest(sample)
        best = min(brute_distance(sample, name) for name in training)
        assert nearest.distance == best and nearest.complete
        assert nearest.name in training and brute_distance(sample, nearest.name) == best
        assert nearest.is_copy == (sample in training)


def test_a_bounded_scan_says_it_stopped():
    index = NameIndex(["zzzzzzzz", "yyyyyyyy", "xxxx"])
    nearest = index.nearest("abcdefgh", max_scanned=1)
    assert not nearest.complete and nearest.scanned == 1
    assert nearest.name == "zzzzzzzz" and nearest.distance == 8


def test_count_new():
    index = NameIndex(["emma", "ava", "ava"])
    assert index.count_new(["emma", "emmb", "ava", "olivia"]) == 2
