import io
import os
import subprocess
import sys
import time

from rich.console import Console

from engine import Trainer
from engine.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from microgpt_tui.__main__ import build_app, build_parser
from microgpt_tui.app import MicrogptApp
from microgpt_tui.messages import Event
from microgpt_tui.screens.help import HelpScreen
from microgpt_tui.training import SaveCheckpoint, TrainingLoop
from microgpt_tui.widgets.loss import LossPlot
from tests.tui.conftest import TINY, TINY_DOCS, plain_text, step_and_wait, wait_for

SIZE = (120, 34)


def app_saving_to(path):
    return MicrogptApp(Trainer(TINY, TINY_DOCS), dataset_name="tiny.txt", checkpoint_path=path)


def notices(app, severity="information"):
    return [n.message for n in app._notifications if n.severity == severity]


def uninterrupted(steps):
    trainer = Trainer(TINY, TINY_DOCS)
    return trainer, [trainer.step().loss for _ in range(steps)]


async def test_w_saves_a_checkpoint_that_continues_the_run(tmp_path):
    path = tmp_path / "run.json"
    app = app_saving_to(path)
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        await pilot.press("w")
        await wait_for(pilot, lambda: notices(app))
        assert notices(app) == [f"Saved step 3 to {path}"]
        history = list(app.store.loss_history)

    reference, losses = uninterrupted(3)
    assert history == losses
    trainer, saved_history = load_checkpoint(path, TINY_DOCS)
    assert saved_history == losses
    assert trainer.step().loss == reference.step().loss


async def test_w_while_training_runs_saves_one_consistent_state(tmp_path):
    path = tmp_path / "run.json"
    app = app_saving_to(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.store.loss_history) >= 5)
        await pilot.press("w")
        await wait_for(pilot, lambda: notices(app))
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.store.running)
        history = list(app.store.loss_history)

    checkpoint = read_checkpoint(path)
    assert checkpoint.step >= 5
    assert list(checkpoint.loss_history) == history[:checkpoint.step]
    assert notices(app)[0] == f"Saved step {checkpoint.step} to {path}"
    reference, _ = uninterrupted(checkpoint.step)
    trainer, _ = load_checkpoint(path, TINY_DOCS)
    assert trainer.export_state() == reference.export_state()


async def test_a_failing_save_is_an_error_notice_and_the_app_goes_on(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    app = app_saving_to(tmp_path / "a-file" / "run.json")
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app)
        await pilot.press("w")
        await wait_for(pilot, lambda: notices(app, "error"))
        [error] = notices(app, "error")
        assert error == (f"cannot save checkpoint to {tmp_path}/a-file/run.json: "
                         f"{tmp_path}/a-file is not a directory")
        await step_and_wait(pilot, app)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


async def test_quitting_right_after_w_still_saves_a_whole_checkpoint(tmp_path):
    path = tmp_path / "run.json"
    old, old_losses = uninterrupted(1)
    save_checkpoint(path, old, old_losses)
    app = app_saving_to(path)
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=2)
        await pilot.press("w", "q")
    # The worker thread finishes the save after the app has gone.
    deadline = time.monotonic() + 10
    while read_checkpoint(path).step != 2:
        assert time.monotonic() < deadline, "the save never happened"
        time.sleep(0.02)
    assert os.listdir(tmp_path) == ["run.json"]


def test_a_save_asked_for_as_the_worker_is_cancelled_still_happens(tmp_path):
    path = tmp_path / "run.json"
    posted = []
    loop = TrainingLoop(Trainer(TINY, TINY_DOCS), posted.append)
    loop.send(SaveCheckpoint(str(path)))
    loop.run(lambda: True)  # cancelled before it ever looked at the queue
    assert read_checkpoint(path).step == 0
    assert [message.snapshot.event for message in posted] == [Event.SAVED]


async def test_load_starts_the_app_from_the_checkpoint(tmp_path):
    data = tmp_path / "tiny.txt"
    data.write_text("\n".join(TINY_DOCS))
    path = tmp_path / "run.json"
    reference, losses = uninterrupted(3)
    save_checkpoint(path, reference, losses)

    app = build_app(build_parser().parse_args(["--data", str(data), "--load", str(path)]))
    assert app.store.config == TINY
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        plot = plain_text(app.query_one(LossPlot))
        assert f"step 3/{TINY.num_steps}" in plot
        assert f"loss {losses[-1]:.4f}" in plot
        assert f"lr {TINY.lr * (1 - 2 / TINY.num_steps):.6f}" in plot
        assert notices(app) == ["Continuing from a checkpoint at step 3."]
        await step_and_wait(pilot, app)
        assert app.store.loss_history == [*losses, reference.step().loss]


async def test_w_is_in_the_help_and_the_command_palette():
    app = app_saving_to("unused.json")
    async with app.run_test(size=SIZE) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Save a checkpoint (to --save PATH, else microgpt-checkpoint.json)" in titles
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = " ".join(rendered(static.content) for static in app.screen.query("Static"))
    assert "Save a checkpoint (to --save PATH, else microgpt-checkpoint.json)" in help_text


def rendered(renderable):
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def run_tui(*args):
    return subprocess.run([sys.executable, "-m", "microgpt_tui", *args], capture_output=True,
                          text=True, timeout=60)


def test_cli_checkpoint_errors_give_one_line_and_exit_code_2(tmp_path):
    truncated = tmp_path / "half.json"
    trainer, losses = uninterrupted(1)
    save_checkpoint(truncated, trainer, losses)
    truncated.write_bytes(truncated.read_bytes()[:100])
    for args, message in (
        (["--load", str(tmp_path / "missing.json")], "checkpoint not found"),
        (["--load", str(truncated)], "checkpoint is truncated"),
        (["--save", str(tmp_path / "no" / "run.json")], "does not exist"),
    ):
        proc = run_tui(*args)
        assert proc.returncode == 2, args
        assert message in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "Traceback" not in proc.stderr
