import pytest

from engine import Config, Trainer, forward_document
from engine.model import GRAPH_OPS
from engine.timelapse import attention_frame, previous_letter_share, watched_name
from tests.engine.conftest import TINY_DOCS

TWO_LAYERS = Config(n_layer=2, n_embd=8, n_head=2, block_size=8, num_steps=50, seed=5)


def test_the_watched_name_is_the_first_probe_name_of_five_to_eight_letters():
    assert watched_name(("bob", "anna", "clara", "frankie")) == "clara"
    assert watched_name(("bob", "abcdefghi", "anna")) == "bob"  # none fits: the first


def test_a_frame_is_the_autograd_graphs_attention_by_layer_and_head():
    trainer = Trainer(TWO_LAYERS, TINY_DOCS)
    for _ in range(5):
        trainer.step()
    frame = attention_frame(trainer.weights(), 5, "clara", trainer.tokenizer, TWO_LAYERS)
    # The reference autograd graph's forward (Value nodes), read position by position.
    graph = forward_document(trainer.tokenizer.document("clara"), trainer.params, TWO_LAYERS,
                             GRAPH_OPS)
    assert (frame.step, frame.name) == (5, "clara")
    assert len(frame.attention) == 2 and all(len(layer) == 2 for layer in frame.attention)
    for layer in range(2):
        for head in range(2):
            rows = frame.attention[layer][head]
            assert len(rows) == len("clara") + 1  # BOS and every letter look
            for query, row in enumerate(rows):
                expected = [weight.data for weight in graph.attention[query][layer][head]]
                assert row == pytest.approx(expected, rel=1e-12, abs=1e-15)
                assert len(row) == query + 1 and sum(row) == pytest.approx(1.0)


def test_a_long_name_is_measured_over_block_size_positions():
    trainer = Trainer(TWO_LAYERS, TINY_DOCS)
    frame = attention_frame(trainer.weights(), 0, "abba" * 3, trainer.tokenizer, TWO_LAYERS)
    assert len(frame.attention[0][0]) == TWO_LAYERS.block_size


def test_the_previous_letter_share_is_the_mean_weight_just_below_the_diagonal():
    rows = ((1.0,), (0.25, 0.75), (0.1, 0.6, 0.3), (0.0, 0.2, 0.7, 0.1))
    assert previous_letter_share(rows) == pytest.approx((0.25 + 0.6 + 0.7) / 3)
    assert previous_letter_share(((1.0,),)) is None
