"""What the panes draw, built from the engine's frozen records (never from live objects).

A training step and a sample in progress both have attention weights and a KV cache; these
records put them in one shape so the same pane can show either.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class AttentionView:
    source: str  # what the rows are, e.g. "training doc 'emma' (step 3)"
    labels: tuple  # the input token at each position, as shown
    weights: tuple  # [layer][head][query_pos][key_pos]


@dataclass(frozen=True)
class KVCacheView:
    source: str
    labels: tuple
    n_head: int  # the cache holds every head's slice side by side
    cache: tuple  # [layer][pos] -> (key vector, value vector)
    grads: tuple | None  # same shape, after a training step's backward; None while sampling
    newest: int | None = None  # while sampling, the position the last token appended

    @property
    def head_dim(self):
        """Components of a key (or value) per head."""
        return len(self.cache[0][0][0]) // self.n_head


def labels_of(tokens, tokenizer):
    return tuple(tokenizer.label(token) for token in tokens)


def training_source(result):
    """`result`: a StepResult, or a StepStage of the step under way."""
    return f"training doc {result.doc!r} · step {result.step}"


def sample_source(events):
    # "inference": these rows are what generation computes, one position per new token.
    return f"inference · sample {events[-1].text!r}"


def attention_from_step(result, tokenizer):
    return AttentionView(training_source(result), labels_of(result.inputs, tokenizer),
                         result.attention)


def kv_cache_from_step(result, tokenizer):
    return KVCacheView(training_source(result), labels_of(result.inputs, tokenizer),
                       len(result.attention[0]), result.kv_cache, result.kv_grads)


def attention_from_sample(events, tokenizer):
    """Each generated position's attention over the cache: rows grow as the sample does."""
    n_layer = len(events[0].attention)
    n_head = len(events[0].attention[0])
    weights = tuple(
        tuple(tuple(event.attention[li][h] for event in events) for h in range(n_head))
        for li in range(n_layer)
    )
    inputs = [event.input_token for event in events]
    return AttentionView(sample_source(events), labels_of(inputs, tokenizer), weights)


def kv_cache_from_sample(events, tokenizer):
    inputs = [event.input_token for event in events]
    return KVCacheView(sample_source(events), labels_of(inputs, tokenizer),
                       len(events[-1].attention[0]), events[-1].kv_cache, None,
                       newest=events[-1].position)


def attention_from_stage(stage, tokenizer):
    """The attention of the positions a staged step's forward has computed so far."""
    return AttentionView(training_source(stage),
                         labels_of(stage.tokens[: stage.positions_done], tokenizer),
                         stage.attention)


def kv_cache_from_stage(stage, tokenizer, n_head):
    """The cache as far as a staged step's forward has got; its gradients after backward."""
    return KVCacheView(training_source(stage), labels_of(stage.tokens[: stage.n_positions],
                                                         tokenizer),
                       n_head, stage.kv_cache, stage.kv_grads)
