"""The attention time-lapse: frames recorded by the training worker, kept by the store, and
the T view that scrubs them."""

from engine import Trainer, forward_document
from engine.model import FLOAT_OPS
from microgpt_tui.run import MAX_ATTENTION_FRAMES, Change, thinned
from microgpt_tui.training import Command
from tests.tui.conftest import TINY, TINY_DOCS
from tests.tui.test_run_store import run_worker


def replayed_weights(step):
    """The weights after `step` steps of a Trainer of its own (same config, same docs)."""
    trainer = Trainer(TINY, TINY_DOCS)
    for _ in range(step):
        trainer.step()
    return trainer.weights(), trainer.tokenizer


def test_frames_are_recorded_at_the_probe_steps_with_the_float_forwards_attention():
    store, loop, _, _ = run_worker([Command.STEP] * 5, probe_every=2)
    assert [frame.step for frame in store.attention_frames] == [0, 2, 4]
    assert {frame.name for frame in store.attention_frames} == {loop.watched_name}
    for frame in store.attention_frames:
        weights, tokenizer = replayed_weights(frame.step)
        forward = forward_document(tokenizer.document(frame.name), weights, TINY, FLOAT_OPS)
        for layer in range(TINY.n_layer):
            for head in range(TINY.n_head):
                assert list(frame.attention[layer][head]) == [
                    tuple(position[layer][head]) for position in forward.attention]


def test_an_undo_drops_the_frames_of_undone_steps():
    store, _, _, _ = run_worker([Command.STEP] * 4 + [Command.UNDO] * 2, probe_every=2)
    assert [frame.step for frame in store.attention_frames] == [0, 2]
    assert Change.PROBE in store.changed[-2]


def test_past_the_cap_every_other_frame_goes_and_the_first_and_newest_stay():
    frames = list(range(MAX_ATTENTION_FRAMES + 1))
    kept = thinned(frames)
    assert kept[0] == 0 and kept[-1] == MAX_ATTENTION_FRAMES
    assert kept[1] == 2 and len(kept) == MAX_ATTENTION_FRAMES // 2 + 1
    assert thinned(frames[:-1]) == frames[:-1]
