"""Generating a document one token at a time from a snapshot of the weights."""

import math
import random

from .model import FLOAT_OPS, NO_ABLATION, check_ablation, gpt, softmax
from .trace import TokenEvent


def rank(probs, token):
    """1 for the most likely token; tokens of equal probability share the better rank."""
    p = probs[token]
    return 1 + sum(q > p for q in probs)


def surprisal_bits(p):
    """-log2(p): how surprising an outcome of probability p is (inf when p is 0)."""
    return -math.log2(p) if p > 0 else math.inf


def divide_by_temperature(logits, temperature):
    """logits / temperature, computed as the reference does (each z * temperature ** -1)."""
    return [z * temperature**-1 for z in logits]


def next_token_probs(logits, temperature, top_k=None):
    """softmax(logits / temperature), then, with `top_k`, only the k most likely tokens kept
    (the rest 0) and renormalised: the distribution the next token is drawn from."""
    probs = softmax(divide_by_temperature(logits, temperature), FLOAT_OPS)
    if top_k is None or top_k >= len(probs):
        return probs
    ranked = sorted(range(len(probs)), key=lambda i: -probs[i])[:top_k]
    kept = sum(probs[i] for i in ranked)
    keep = set(ranked)
    return [p / kept if i in keep else 0.0 for i, p in enumerate(probs)]


def freeze_cache(kv_cache):
    return tuple(tuple((tuple(k), tuple(v)) for k, v in layer) for layer in kv_cache)


class Sampler:
    """Yields one `TokenEvent` per generated token.

    It works on plain float weights (`Trainer.weights()`), so sampling never touches the
    training state. `temperature` and `top_k` may be changed between tokens; `step(force=id)`
    feeds a chosen token instead of drawing one. Without an `rng` it owns a `Random(seed)`.
    `ablate` zeroes the output of those (layer, head) pairs (see model.gpt).
    """

    def __init__(self, weights, tokenizer, config, *, temperature=0.5, top_k=None, rng=None,
                 seed=0, ablate=NO_ABLATION):
        check_ablation(ablate, config)
        self.ablate = frozenset(ablate)
        self.weights = weights
        self.tokenizer = tokenizer
        self.config = config
        self.temperature = temperature
        self.top_k = top_k
        self.rng = rng if rng is not None else random.Random(seed)
        self.start()

    @property
    def temperature(self):
        return self._temperature

    @temperature.setter
    def temperature(self, value):
        if not value > 0:
            raise ValueError(f"temperature must be > 0, got {value!r}")
        self._temperature = value

    @property
    def top_k(self):
        return self._top_k

    @top_k.setter
    def top_k(self, value):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"top_k must be a whole number >= 1 or None, got {value!r}")
        self._top_k = value

    def start(self):
        """Begin a new sample: empty KV cache, BOS as the first input."""
        self.kv_cache = [[] for _ in range(self.config.n_layer)]
        self.position = 0
        self.input_token = self.tokenizer.bos
        self.ids = []
        self.done = False

    @property
    def text(self):
        return self.tokenizer.decode(self.ids)

    def next_logits(self):
        """The logits the next `step()` will draw from, without drawing or advancing (the
        position runs on a copy of the cache)."""
        if self.done:
            raise RuntimeError("the sample is finished: call start() for a new one")
        cache = [list(layer) for layer in self.kv_cache]
        logits, _ = gpt(self.input_token, self.position, cache, self.weights, self.config,
                        FLOAT_OPS, self.ablate)
        return tuple(logits)

    def step(self, force=None):
        """Run one position; draw the next token (or take `force`) and return the event."""
        if self.done:
            raise RuntimeError("the sample is finished: call start() for a new one")
        vocab_size = self.tokenizer.vocab_size
        if force is not None and not (isinstance(force, int) and 0 <= force < vocab_size):
            raise ValueError(f"forced token must be an id in [0, {vocab_size}), got {force!r}")
        logits, attention = gpt(
            self.input_token, self.position, self.kv_cache, self.weights, self.config, FLOAT_OPS,
            self.ablate,
        )
        probs = next_token_probs(logits, self.temperature, self.top_k)
        if force is None:
            token = self.rng.choices(range(vocab_size), weights=probs)[0]
        else:
            token = force
        if token != self.tokenizer.bos:
            self.ids.append(token)
        self.done = token == self.tokenizer.bos or self.position + 1 >= self.config.block_size
        event = TokenEvent(
            position=self.position,
            input_token=self.input_token,
            logits=tuple(logits),
            temperature=self.temperature,
            top_k=self.top_k,
            probs=tuple(probs),
            token=token,
            forced=force is not None,
            attention=tuple(tuple(tuple(head) for head in layer) for layer in attention),
            kv_cache=freeze_cache(self.kv_cache),
            text=self.text,
            done=self.done,
        )
        self.position += 1
        self.input_token = token
        return event

    def __iter__(self):
        while not self.done:
            yield self.step()

    def sample(self):
        """A whole new sample, drawn to the end; returns its text."""
        self.start()
        for _ in self:
            pass
        return self.text
