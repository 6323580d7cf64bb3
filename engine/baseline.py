"""Baselines a learner can hold the model's loss against.

`bigram_loss` answers "does the transformer beat counting letter pairs?". The bigram model
and the number it reports are defined to be comparable with the loss the Trainer reports:

- Documents are wrapped in BOS and cut to block_size positions, exactly as the model sees
  them (`forward_document`), so pairs the model never trains on are neither counted nor
  scored.
- It is fitted by counting the pairs of the whole dataset, with add-one (Laplace)
  smoothing over all vocab_size next tokens: P(b | a) = (count(a, b) + 1) / (count(a) + V).
  Smoothing keeps every probability above zero, like a softmax does.
- The number is its loss on that same training set: each document's mean next-token
  negative log-likelihood, averaged over documents. A training step's loss is one
  document's mean, so this is what the running mean of the loss curve would settle at if
  the model predicted exactly as the bigram counts do.
"""

import math
import operator
from collections import Counter, defaultdict

# Sentinels stand in for BOS and for a separator so that pairs can be counted over one joined
# string in C (Counter over map) instead of pair by pair in Python: ~10x faster on big files.
# They are characters the vocabulary lacks. Lone surrogates come first: UTF-8 text cannot
# hold them, so a dataset never does (one of all 6,400 private-use characters did, and left
# no sentinel at all); after them, any code point will do.
SENTINEL_CANDIDATES = (range(0xD800, 0xE000), range(0xE000, 0xF900), range(0x110000))


def sentinels(used, count=2):
    """The first `count` candidate characters that are not in `used`."""
    free = (chr(code) for codes in SENTINEL_CANDIDATES for code in codes
            if chr(code) not in used)
    return [next(free) for _ in range(count)]


class BigramCounts:
    """Pair counts, added a batch of documents at a time (a caller can report progress)."""

    def __init__(self, tokenizer, block_size):
        self.bos, self.sep = sentinels(set(tokenizer.chars))
        self.vocab_size = tokenizer.vocab_size
        self.block_size = block_size
        self.n_docs = 0
        # Documents with the same number of trained positions weigh the same per pair, so
        # their pairs are pooled: a group's summed loss is divided by its number of positions.
        self.pairs_by_positions = defaultdict(Counter)

    def add(self, docs):
        bos, wrapped_by_positions = self.bos, defaultdict(list)
        for doc in docs:
            positions = len(doc) + 1
            if positions > self.block_size:
                positions = self.block_size
                wrapped_by_positions[positions].append(bos + doc[:positions])
            else:
                wrapped_by_positions[positions].append(bos + doc + bos)
        for positions, wrapped in wrapped_by_positions.items():
            joined = self.sep.join(wrapped)
            pairs = Counter(map(operator.add, joined, joined[1:]))
            self.pairs_by_positions[positions].update(
                {pair: n for pair, n in pairs.items() if self.sep not in pair})
        self.n_docs += len(docs)

    def model(self):
        """The fitted model: what it predicts for any pair, from the counts so far."""
        pair_counts = Counter()
        for pairs in self.pairs_by_positions.values():
            pair_counts.update(pairs)
        return BigramModel(self.bos, self.vocab_size, self.block_size, pair_counts)

    def loss(self):
        nll = self.model().nll
        total = sum(
            sum(n * nll(pair) for pair, n in pairs.items()) / positions
            for positions, pairs in self.pairs_by_positions.items()
        )
        return total / self.n_docs


class BigramModel:
    """P(b | a) = (count(a, b) + 1) / (count(a) + V), from the pairs counted."""

    def __init__(self, bos, vocab_size, block_size, pair_counts):
        self.bos, self.vocab_size, self.block_size = bos, vocab_size, block_size
        self.pair_counts = pair_counts
        self.context_counts = Counter()
        for (first, _), n in pair_counts.items():
            self.context_counts[first] += n

    def nll(self, pair):
        """-ln P(pair[1] | pair[0]) (pairs of characters; BOS is `self.bos`)."""
        return -math.log((self.pair_counts[pair] + 1)
                         / (self.context_counts[pair[0]] + self.vocab_size))

    def position_losses(self, doc):
        """-ln P(next | this) at each position the model sees of `doc` (wrapped in BOS and cut
        to block_size, as forward_document does): their mean is the doc's bigram loss."""
        wrapped = self.bos + doc + self.bos
        positions = min(self.block_size, len(doc) + 1)
        return tuple(self.nll(wrapped[i:i + 2]) for i in range(positions))


def bigram_loss(docs, tokenizer, block_size):
    """Training-set loss of an add-one-smoothed bigram model, as described above."""
    counts = BigramCounts(tokenizer, block_size)
    counts.add(docs)
    return counts.loss()


def count_truncated(docs, block_size):
    """How many documents the model never sees to their end (BOS + doc + BOS > block_size + 1)."""
    return sum(len(doc) >= block_size for doc in docs)
