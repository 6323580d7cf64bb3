"""`python -m engine.bench`: the fused engine against the reference per-operation graph.

Everything is measured in this one process, side by side, on the default config, so a noisy
machine slows every path alike; the ratios are what to read. `--quick` times fewer steps and
compares fewer losses bit for bit.
"""

import argparse
import gc
import math
import random
import sys
import time
import tracemalloc

from .config import Config
from .data import load_docs
from .model import GRAPH_OPS, forward_document, gpt, softmax
from .sampler import Sampler
from .trainer import Trainer


def recursive_backward(root):
    """Backward as the reference microgpt does it: a recursive topological sort over every
    node, leaves included, then the chain rule over all of them."""
    topo, visited = [], set()

    def build_topo(node):
        if node not in visited:
            visited.add(node)
            for child in node._children:
                build_topo(child)
            topo.append(node)

    build_topo(root)
    root.grad = 1.0
    for node in reversed(topo):
        for child, local_grad in zip(node._children, node._local_grads):
            child.grad += local_grad * node.grad


def bare_step(trainer, backward=None):
    """Forward, backward and Adam on the trainer's own state, without the StepResult that
    `Trainer.step` also records for the TUI: the work a step of the reference does.
    `backward(loss)` is the trainer's ops' own unless given."""
    tokens = trainer.tokenizer.document(trainer.next_document())
    with trainer.collector_paused():
        forward = forward_document(tokens, trainer.params, trainer.config, trainer.ops)
        (backward or trainer.ops.backward)(forward.loss)
        trainer.adam.update(trainer.param_list, trainer.step_count)
        loss = forward.loss.data
        # Freed while the collector is off (as in Trainer.step): else its first run after it
        # is back on would find the whole graph among the new objects and scan it.
        del forward
    trainer.step_count += 1
    return loss


def reference_step(trainer):
    """One step of the reference design: per-op graph, recursive backward, cyclic GC on."""
    return bare_step(trainer, recursive_backward)


REFERENCE = dict(ops=GRAPH_OPS, pause_gc=False)
PATHS = (
    ("reference design: per-op graph, recursive backward, GC on", REFERENCE, reference_step),
    ("per-op graph, Value.backward, GC on", REFERENCE, bare_step),
    ("per-op graph, Value.backward, GC paused", dict(ops=GRAPH_OPS), bare_step),
    ("fused nodes, fused backward, GC paused", {}, bare_step),
    ("the same, plus the StepResult the TUI shows (Trainer.step)", {}, Trainer.step),
)


def seconds_per_step(paths, docs, steps, rounds=3):
    """Each path's mean time over steps 2..steps+1 (the same documents on every path), in
    the best of `rounds` fresh runs, the paths taking turns so that a slow spell of the
    machine hits them all. A mean over whole runs keeps in what the cyclic GC costs: with
    the GC on, the reference's graphs (held by its recursive walker's closure) are freed only
    by collections, every few steps."""
    best = [math.inf] * len(paths)
    for _ in range(rounds):
        for i, (_, options, step) in enumerate(paths):
            gc.collect()  # no path pays for the garbage of the one before
            trainer = Trainer(Config(), docs, **options)
            step(trainer)  # warm up
            started = time.perf_counter()
            for _ in range(steps):
                step(trainer)
            best[i] = min(best[i], (time.perf_counter() - started) / steps)
    return best


def peak_mb_of_one_step(step, trainer):
    gc.collect()
    tracemalloc.start()
    step(trainer)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def graph_sample(trainer, rng, temperature):
    """One name drawn the reference way: the Value graph forward, token by token."""
    config, tokenizer = trainer.config, trainer.tokenizer
    kv_cache = [[] for _ in range(config.n_layer)]
    token, text = tokenizer.bos, []
    for pos in range(config.block_size):
        logits, _ = gpt(token, pos, kv_cache, trainer.params, config, GRAPH_OPS)
        probs = softmax([z * temperature**-1 for z in logits], GRAPH_OPS)
        token = rng.choices(range(tokenizer.vocab_size), weights=[p.data for p in probs])[0]
        if token == tokenizer.bos:
            break
        text.append(tokenizer.chars[token])
    return "".join(text)


def names_per_second(draw, seconds=2.0):
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        draw()
        count += 1
    return count / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m engine.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="time 5 steps a round and compare 50 losses")
    args = parser.parse_args(argv)
    steps = 5 if args.quick else 20
    parity_steps = 50 if args.quick else Config().num_steps
    docs = load_docs()
    # The reference's recursive walk goes as deep as the graph; give it room, as it needs.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

    rows = [
        (name, seconds, peak_mb_of_one_step(step, Trainer(Config(), docs, **options)))
        for (name, options, step), seconds in zip(PATHS, seconds_per_step(PATHS, docs, steps))
    ]
    baseline = rows[0][1]

    fused_run = Trainer(Config(), docs)
    started = time.perf_counter()
    fused_losses = [fused_run.step().loss for _ in range(Config().num_steps)]
    full_run_seconds = time.perf_counter() - started

    sampler = Sampler(fused_run.weights(), fused_run.tokenizer, fused_run.config,
                      temperature=0.5, seed=1)
    float_names = names_per_second(sampler.sample)
    rng = random.Random(1)
    graph_names = names_per_second(lambda: graph_sample(fused_run, rng, 0.5))

    plain_run = Trainer(Config(), docs, ops=GRAPH_OPS)
    same = all(plain_run.step().loss == loss for loss in fused_losses[:parity_steps])

    print(f"default config, mean of steps 2-{steps + 1} of a fresh run, best of 3 runs per path "
          "(the paths taking turns), one process")
    print()
    print("| training step | s/step | speed-up | peak MB in a step |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds:.4f} | {baseline / seconds:.1f}x | {peak:.1f} |")
    print()
    print("| sampling after 1,000 steps, temperature 0.5 | names/s |")
    print("| --- | ---: |")
    print(f"| Value graph forward (reference design) | {graph_names:.0f} |")
    print(f"| float forward (Sampler) | {float_names:.0f} |")
    print()
    print(f"full 1,000-step training run, fused path: {full_run_seconds:.1f} s")
    print(f"losses of the first {parity_steps} steps bit-identical, fused vs per-op graph: "
          f"{'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
