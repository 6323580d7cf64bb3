"""Fault cases of issue 6 that the feature tests leave out: each one a clear line (or notice),
never a traceback, never a lost file."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine import Trainer, default_dataset_path
from engine.checkpoint import read_checkpoint, save_checkpoint
from engine.cli import main as engine_main
from microgpt_tui.__main__ import build_app, build_parser, main
from microgpt_tui.app import MicrogptApp
from tests.tui.conftest import TINY, TINY_DOCS, step_and_wait, tiny_app, wait_for

SIZE = (120, 34)
TINY_FLAGS = ["--n-layer", "1", "--n-embd", "8", "--n-head", "2", "--block-size", "8"]


def run(module, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def notices(app, severity):
    return [n.message for n in app._notifications if n.severity == severity]


# The command lines ---------------------------------------------------------------------------


@pytest.mark.parametrize("flags, refused", [
    (["--export-dir", "out"], "--export-dir has"),
    (["--serve"], "--serve has"),
    (["--port", "9000"], "--port has"),
    (["--host", "0.0.0.0"], "--host has"),
    (["--serve", "--port=9000"], "--serve and --port have"),
])
def test_headless_refuses_the_flags_only_the_app_uses(flags, refused, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--headless", "--steps", "1", *flags])
    assert exited.value.code == 2
    assert one_line(capsys.readouterr().err) == (
        f"microgpt-tui: error: {refused} no effect with --headless (see --help)")


def save_tiny_checkpoint(path):
    trainer = Trainer(TINY, TINY_DOCS)
    save_checkpoint(path, trainer, [trainer.step().loss])


CLI_FAULTS = {
    # case: (files to write {name: text}, arguments, what the one line on stderr says)
    "checkpoint of another config": (
        {"tiny.txt": "\n".join(TINY_DOCS)}, ["--data", "tiny.txt", "--load", "run.json",
                                             "--n-embd", "16"],
        "--n-embd 16 (checkpoint: 8) contradicts checkpoint run.json"),
    "checkpoint of another vocabulary": (
        {"other.txt": "zoe\nxavier\n"}, ["--data", "other.txt", "--load", "run.json"],
        "the dataset's characters differ from checkpoint run.json"),
    "checkpoint of a future format": (
        {"tiny.txt": "\n".join(TINY_DOCS)}, ["--data", "tiny.txt", "--load", "future.json"],
        "checkpoint format 2 is newer than this microgpt-tui (1)"),
}


@pytest.mark.parametrize("module", ["engine", "microgpt_tui"])
@pytest.mark.parametrize("case", sorted(CLI_FAULTS))
def test_checkpoint_faults_give_one_line_and_exit_code_2(tmp_path, module, case):
    files, args, message = CLI_FAULTS[case]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    save_tiny_checkpoint(tmp_path / "run.json")
    future = json.loads((tmp_path / "run.json").read_text())
    future["version"] += 1
    (tmp_path / "future.json").write_text(json.dumps(future))
    proc = run(module, *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in one_line(proc.stderr)
    assert proc.stdout == ""


def test_headless_save_into_a_read_only_directory_is_refused_before_training(
        tmp_path, monkeypatch, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    # root may write anyway, so the file system's refusal is also played out for root.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode) and (
        Path(path) != folder or not mode & os.W_OK))
    try:
        code = engine_main(["--save", str(folder / "run.json"), "--steps", "1", *TINY_FLAGS])
    finally:
        folder.chmod(0o755)
    said = capsys.readouterr()
    assert code == 2
    assert said.out == ""  # not one step was trained
    assert one_line(said.err) == (f"python -m engine: error: cannot save checkpoint to "
                                  f"{folder}/run.json: {folder} is not writable")
    assert os.listdir(folder) == []


def test_headless_trains_and_samples_a_single_document(tmp_path):
    (tmp_path / "one.txt").write_text("hello\n")
    proc = run("engine", "--data", str(tmp_path / "one.txt"), "--steps", "3", "--samples", "2",
               *TINY_FLAGS)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["num docs: 1", "vocab size: 5"]
    assert lines[-2].startswith("sample  1: ") and lines[-1].startswith("sample  2: ")


def test_a_headless_run_whose_loss_diverges_stops_in_one_line():
    proc = run("engine", "--lr", "100", "--steps", "50", "--samples", "0")
    assert proc.returncode == 2
    assert one_line(proc.stderr) == (
        "python -m engine: error: step 2 failed (math domain error): training stopped "
        "(the learning rate, 100.0, is probably too high)")
    assert proc.stdout.splitlines()[-1] == "step    1 /   50 | loss 3.3660"


def big_dataset(path, megabytes):
    """names.txt over and over, to `megabytes`; returns how many names it holds."""
    names = default_dataset_path().read_text().rstrip("\n") + "\n"
    copies = megabytes * 1_000_000 // len(names)
    path.write_text(names * copies)
    return copies * len(names.split())


@pytest.mark.parametrize("module, prog", [("engine", "python -m engine"),
                                          ("microgpt_tui", "microgpt-tui")])
def test_ctrl_c_while_a_big_dataset_loads_ends_in_one_line(tmp_path, module, prog):
    data = tmp_path / "big.txt"
    n_docs = big_dataset(data, 12)  # 1.7 million names: the shuffle takes ~2 s
    # A shell without job control starts background jobs with ctrl+c ignored, which the
    # child would inherit: give it the default, as a terminal does.
    proc = subprocess.Popen([sys.executable, "-m", module, "--data", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        said = ""
        while not said.endswith("documents…"):
            letter = proc.stderr.read(1)
            assert letter, f"the line ended before the shuffle: {said!r}"
            said += letter
        proc.send_signal(signal.SIGINT)
        stdout, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert stdout == ""
    assert one_line(said + rest) == (f"{prog}: loading big.txt (12 MB, ctrl+c cancels): "
                                     f"reading… building the vocabulary… shuffling "
                                     f"{n_docs:,} documents… interrupted")


# The app -------------------------------------------------------------------------------------


async def test_lr_100_pauses_training_and_says_why():
    app = build_app(build_parser().parse_args(["--lr", "100"]))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.store.loss_history and not app.store.running)
        assert len(app.store.loss_history) == 1
        assert notices(app, "warning") == ["step 2 failed (math domain error): training "
                                           "paused (the learning rate is probably too high)"]


async def test_a_read_only_directory_is_an_error_notice_and_the_old_checkpoint_stays(
        tmp_path, monkeypatch):
    folder = tmp_path / "read-only"
    folder.mkdir()
    path = folder / "run.json"
    save_tiny_checkpoint(path)
    before = path.read_bytes()
    folder.chmod(0o555)
    # root may write anyway, so the file system's refusal is also played out for root.
    real_open = os.open

    def refusing_open(file, *args, **kwargs):
        if str(file).startswith(str(folder)) and args and args[0] & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    app = MicrogptApp(Trainer(TINY, TINY_DOCS), dataset_name="tiny.txt", checkpoint_path=path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await step_and_wait(pilot, app, times=2)
            await pilot.press("w")
            await wait_for(pilot, lambda: notices(app, "error"))
            assert notices(app, "error") == [
                f"cannot save checkpoint to {path}: Permission denied"]
            await step_and_wait(pilot, app)
    finally:
        folder.chmod(0o755)
    assert path.read_bytes() == before
    assert os.listdir(folder) == ["run.json"]


async def test_quitting_while_a_save_is_being_written_keeps_the_old_checkpoint(
        tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    save_tiny_checkpoint(path)
    before = path.read_bytes()
    writing, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd):
        writing.set()
        release.wait(10)  # the disk is slow: the save is under way when q is pressed
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    app = MicrogptApp(Trainer(TINY, TINY_DOCS), dataset_name="tiny.txt", checkpoint_path=path)
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        await pilot.press("w")
        await wait_for(pilot, writing.is_set)
        await pilot.press("q")
        # Mid-save: the target is still the old, whole checkpoint; the new one is a temp file.
        assert path.read_bytes() == before
        assert len(os.listdir(tmp_path)) == 2
        release.set()
    deadline = time.monotonic() + 10
    while os.listdir(tmp_path) != ["run.json"]:
        assert time.monotonic() < deadline, "the save never finished"
        time.sleep(0.02)
    assert read_checkpoint(path).step == 3


async def test_ctrl_c_during_training_quits_and_the_worker_stops_within_a_second():
    app = tiny_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.store.loss_history) >= 2)
        [worker] = [w for w in app.workers if w.group == "training"]
        started = time.monotonic()
        await pilot.press("ctrl+c")
    assert time.monotonic() - started < 1.0
    assert app.return_code in (0, None)
    time.sleep(max(0.0, started + 1.0 - time.monotonic()))
    steps = app.training.trainer.step_count
    time.sleep(0.3)
    assert app.training.trainer.step_count == steps, "the worker still trains"
    assert worker.is_cancelled


def test_ctrl_c_in_a_real_terminal_during_training_exits_cleanly(tmp_path):
    data = tmp_path / "words.txt"
    data.write_text("\n".join(TINY_DOCS))
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app in a terminal of its own
        os.environ["TERM"] = "xterm-256color"
        os.execv(sys.executable, [sys.executable, "-m", "microgpt_tui", "--data", str(data),
                                  "--steps", "100000", *TINY_FLAGS])
    screen = bytearray()

    def read_until(condition, timeout):
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    screen.extend(os.read(fd, 65536))
                except OSError:  # the app has gone and closed its terminal
                    return

    try:
        read_until(lambda: b"step 0/100000" in screen, 30)
        assert b"step 0/100000" in screen, "the app never drew"
        os.write(fd, b" ")
        read_until(lambda: b"step 0/100000" not in screen[-20000:], 5)  # training shows
        os.write(fd, b"\x03")
        started = time.monotonic()
        exited = 0
        while not exited and time.monotonic() - started < 10:
            read_until(lambda: False, 0.05)
            exited, status = os.waitpid(pid, os.WNOHANG)
    finally:
        if not exited:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert exited, "ctrl+c did not end the app"
    assert time.monotonic() - started < 2.0
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"Traceback" not in screen
    assert b"\x1b[?1049l" in screen  # the terminal was handed back (alternate screen off)

