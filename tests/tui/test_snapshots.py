"""SVG snapshots of the screens a learner sees (update with --snapshot-update after looking)."""

from tests.tui.conftest import default_app, step_and_wait, wait_for

WIDE = (120, 34)


async def take_one_step(pilot):
    await step_and_wait(pilot, pilot.app)


async def sample_three_letters(pilot):
    await take_one_step(pilot)
    await pilot.press("n", "n", "n")


def test_start_screen(snap_compare):
    assert snap_compare(default_app(), terminal_size=WIDE)


def test_after_one_step(snap_compare):
    assert snap_compare(default_app(), terminal_size=WIDE, run_before=take_one_step)


def test_all_heads_view(snap_compare):
    async def run_before(pilot):
        await take_one_step(pilot)
        await pilot.press("a")

    assert snap_compare(default_app(), terminal_size=WIDE, run_before=run_before)


def test_mid_sample(snap_compare):
    assert snap_compare(default_app(), terminal_size=WIDE, run_before=sample_three_letters)


def test_help_screen(snap_compare):
    assert snap_compare(default_app(), terminal_size=WIDE, press=["question_mark"])


def test_smallest_supported_terminal(snap_compare):
    assert snap_compare(default_app(), terminal_size=(80, 24), run_before=sample_three_letters)


SMALLEST = (80, 24)


def test_optimizer_view(snap_compare):
    async def run_before(pilot):
        await take_one_step(pilot)
        await pilot.press("o")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "snapshot", None) is not None)

    assert snap_compare(default_app(), terminal_size=SMALLEST, run_before=run_before)


def test_embedding_map(snap_compare):
    async def run_before(pilot):
        await take_one_step(pilot)
        await pilot.press("m")

    assert snap_compare(default_app(), terminal_size=SMALLEST, run_before=run_before)


def test_probe_filmstrip(snap_compare):
    app = default_app()
    app.training.probe_every = 1

    async def run_before(pilot):
        await step_and_wait(pilot, app, times=2)
        await wait_for(pilot, lambda: len(app.probes) == 3)
        await pilot.press("p")

    assert snap_compare(app, terminal_size=SMALLEST, run_before=run_before)
