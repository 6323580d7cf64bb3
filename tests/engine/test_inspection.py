import math

import pytest

from engine import GRAPH_OPS, Config, Trainer, Value, forward_document
from engine.inspection import initial_weights, inspect_name, unknown_characters
from tests.engine.conftest import TINY, TINY_DOCS


def test_initial_weights_are_the_trainers_before_any_step():
    trainer = Trainer(TINY, TINY_DOCS)
    assert initial_weights(TINY, len(TINY_DOCS), trainer.tokenizer.vocab_size) == \
        trainer.weights()


def test_initial_weights_of_the_default_run(names):
    config = Config()
    trainer = Trainer(config, names)
    assert initial_weights(config, len(names), trainer.tokenizer.vocab_size) == \
        trainer.weights()
    # The shuffle's draws come first: another number of documents gives other weights.
    assert initial_weights(config, len(names) - 1, trainer.tokenizer.vocab_size) != \
        trainer.weights()


def test_the_mean_of_the_letters_losses_is_the_training_steps_loss():
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(5):
        doc, weights = trainer.next_document(), trainer.weights()
        result = trainer.step()  # the fused graph, backward and all
        inspection = inspect_name(doc, weights, trainer.tokenizer, TINY)
        losses = [prediction.loss for prediction in inspection.predictions]
        assert tuple(losses) == result.position_losses
        assert inspection.loss == result.loss
        assert (1 / len(losses)) * sum(losses) == pytest.approx(result.loss, rel=1e-15)
        assert inspection.attention == result.attention
        nodes = {name: [[Value(w) for w in row] for row in matrix]
                 for name, matrix in weights.items()}
        graph = forward_document(trainer.tokenizer.document(doc), nodes, TINY, GRAPH_OPS)
        assert inspection.loss == graph.loss.data


def test_each_prediction_scores_the_true_next_letter():
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(20):
        trainer.step()
    tokenizer = trainer.tokenizer
    inspection = inspect_name("eva", trainer.weights(), tokenizer, TINY)
    assert inspection.tokens == (tokenizer.bos, *tokenizer.encode("eva"), tokenizer.bos)
    assert [p.target for p in inspection.predictions] == list(inspection.tokens[1:])
    assert inspection.inputs == inspection.tokens[:-1]
    for prediction in inspection.predictions:
        probs = prediction.probs
        assert prediction.p == probs[prediction.target]
        assert prediction.bits == -math.log2(prediction.p)
        assert prediction.loss == pytest.approx(prediction.bits * math.log(2), rel=1e-12)
        assert prediction.rank == sorted(probs, reverse=True).index(prediction.p) + 1
        assert probs[prediction.guess] == max(probs)
        assert (prediction.rank == 1) == (prediction.guess == prediction.target)
    assert inspection.total_bits == pytest.approx(sum(p.bits for p in inspection.predictions))
    assert inspection.cut == 0


def test_a_name_longer_than_the_block_is_cut_as_in_training():
    tokenizer = Trainer(TINY, TINY_DOCS).tokenizer
    weights = initial_weights(TINY, len(TINY_DOCS), tokenizer.vocab_size)
    assert TINY.block_size == 8
    seven = inspect_name("abcdefg", weights, tokenizer, TINY)
    assert (len(seven.predictions), seven.cut) == (8, 0)  # the end-of-name prediction fits
    eight = inspect_name("abcdefgh", weights, tokenizer, TINY)
    assert (len(eight.predictions), eight.cut) == (8, 1)
    assert eight.predictions[-1].target == tokenizer.encode("h")[0]
    assert inspect_name("abcdefghabc", weights, tokenizer, TINY).cut == 4


def test_unknown_characters_are_named_once_each():
    tokenizer = Trainer(TINY, TINY_DOCS).tokenizer
    assert unknown_characters("anna", tokenizer) == ()
    assert unknown_characters("Zoë-zoë", tokenizer) == ("Z", "ë", "-", "z")  # o is in "bob"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        inspect_name("Zoë", initial_weights(TINY, 8, tokenizer.vocab_size), tokenizer, TINY)
