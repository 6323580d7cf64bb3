"""The app given inputs a hostile user would try: it starts, and shows what it was given."""

from microgpt_tui.__main__ import build_app, build_parser
from microgpt_tui.widgets.loss import LossPlot
from tests.tui.conftest import wait_for

PRIVATE_USE = [chr(code) for code in range(0xE000, 0xF900)]


async def test_a_dataset_of_every_private_use_character_starts_the_app(tmp_path):
    # The bigram baseline took its internal markers from these 6,400 characters: with all of
    # them in the data none was left, and the app died in on_mount (the headless run, which
    # counts no bigrams, was fine).
    data = tmp_path / "pua.txt"
    data.write_text("\n".join("".join(PRIVATE_USE[i:i + 8])
                              for i in range(0, len(PRIVATE_USE), 8)), encoding="utf-8")
    app = build_app(build_parser().parse_args(["--data", str(data), "--steps", "3",
                                               "--n-embd", "8", "--n-head", "2"]))
    async with app.run_test(size=(120, 34)) as pilot:
        plot = app.query_one(LossPlot)
        await wait_for(pilot, lambda: plot.bigram is not None)
        assert app.store.tokenizer.vocab_size == len(PRIVATE_USE) + 1
        assert app.return_code is None
