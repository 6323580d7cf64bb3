import csv
import errno
import json
import os
from datetime import datetime

import pytest

from engine import Trainer
from microgpt_tui.__main__ import build_app, build_parser
from microgpt_tui.app import MicrogptApp
from microgpt_tui.export import export_run
from tests.tui.conftest import TINY, TINY_DOCS, step_and_wait

SIZE = (120, 34)


def exporting_app(export_dir):
    return MicrogptApp(Trainer(TINY, TINY_DOCS), dataset_name="tiny.txt", export_dir=export_dir)


def notices(app):
    return [(n.message, n.severity) for n in app._notifications]


def read_loss_csv(path):
    with path.open(newline="") as file:
        return list(csv.reader(file))


async def test_e_exports_the_loss_the_last_step_and_the_screen(tmp_path):
    data = tmp_path / "tiny.txt"
    data.write_text("\n".join(TINY_DOCS))
    exports = tmp_path / "exports"
    app = build_app(build_parser().parse_args([
        "--data", str(data), "--export-dir", str(exports), "--n-layer", str(TINY.n_layer),
        "--n-embd", str(TINY.n_embd), "--n-head", str(TINY.n_head),
        "--block-size", str(TINY.block_size)]))
    async with app.run_test(size=SIZE) as pilot:
        await step_and_wait(pilot, app, times=3)
        await pilot.press("e")
        await pilot.pause()
        losses, result = list(app.store.loss_history), app.store.last_result
        (folder,) = exports.glob("microgpt-export-*")
        assert any(str(folder) in message for message, _ in notices(app))

    assert sorted(p.name for p in folder.iterdir()) == ["loss.csv", "screen.svg", "trace.json"]
    header, *rows = read_loss_csv(folder / "loss.csv")
    assert header == ["step", "loss", "mean_last_50"]
    assert [int(row[0]) for row in rows] == [1, 2, 3]
    assert [float(row[1]) for row in rows] == losses
    assert [float(row[2]) for row in rows] == pytest.approx(
        [sum(losses[:i + 1]) / (i + 1) for i in range(3)], rel=1e-12)

    trace = json.loads((folder / "trace.json").read_text())
    assert trace["format"] == 1
    assert trace["step"] == 3 and trace["loss"] == result.loss == losses[-1]
    assert trace["config"]["n_embd"] == TINY.n_embd
    n = len(trace["position_losses"])
    assert n == len(result.doc) + 1  # every tiny name fits in block_size 8
    assert trace["tokens"] == ["·", *result.doc, "·"]
    assert trace["vocab"][trace["token_ids"][1]] == result.doc[0]
    attention = trace["attention"]
    assert len(attention) == TINY.n_layer
    assert all(len(layer) == TINY.n_head for layer in attention)
    for head in attention[0]:
        assert [len(row) for row in head] == list(range(1, n + 1))  # query q sees keys 0..q
        assert all(sum(row) == pytest.approx(1.0) for row in head)
    for name in ("kv_cache", "kv_grads"):
        assert [len(layer) for layer in trace[name]] == [n] * TINY.n_layer
        assert all(len(pos["key"]) == len(pos["value"]) == TINY.n_embd
                   for layer in trace[name] for pos in layer)
    assert len(trace["probs"]) == n
    assert all(len(row) == len(trace["vocab"]) for row in trace["probs"])
    assert trace["probs"] == [list(row) for row in result.probs]

    assert (folder / "screen.svg").read_text().startswith("<svg")


async def test_export_before_any_step_writes_what_exists_and_says_so(tmp_path):
    app = exporting_app(tmp_path / "new" / "dir")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        messages = [message for message, _ in notices(app)]
    (folder,) = (tmp_path / "new" / "dir").glob("microgpt-export-*")
    assert sorted(p.name for p in folder.iterdir()) == ["loss.csv", "screen.svg"]
    assert read_loss_csv(folder / "loss.csv") == [["step", "loss", "mean_last_50"]]
    assert any("no step yet" in message for message in messages)


async def test_two_exports_in_one_second_get_two_folders(tmp_path):
    app = exporting_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "e")
        await pilot.pause()
    assert len(list(tmp_path.glob("microgpt-export-*"))) == 2


@pytest.mark.parametrize("where", ["a file", "inside a file"])
async def test_an_unwritable_export_dir_is_an_error_notice(tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    app = exporting_app(blocker if where == "a file" else blocker / "exports")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        errors = [message for message, severity in notices(app) if severity == "error"]
    assert len(errors) == 1
    assert errors[0].startswith("Export failed: cannot write") and str(blocker) in errors[0]
    assert "\n" not in errors[0]


async def test_export_is_in_the_command_palette(tmp_path):
    app = exporting_app(tmp_path)
    async with app.run_test(size=SIZE):
        titles = {command.title for command in app.get_system_commands(app.screen)}
    assert "Export loss.csv, trace.json (the last step) and screen.svg" in titles


NOW = datetime(2024, 5, 6, 7, 8, 9)


def export_with_full_disk(parent, monkeypatch):
    """export_run (no step yet: loss.csv, then screen.svg) on a disk that fills up while
    screen.svg is written."""
    real_fsync, synced = os.fsync, []

    def fsync(fd):
        synced.append(fd)
        if len(synced) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return export_run(parent, NOW, (3.0, 2.5), None, None, TINY, "<svg/>")


def test_a_full_disk_leaves_no_half_written_export_and_names_the_file(tmp_path, monkeypatch):
    with pytest.raises(OSError) as caught:
        export_with_full_disk(tmp_path, monkeypatch)
    # The file that could not be written, where it was to be: not the parent, not a temp file.
    assert caught.value.filename == str(tmp_path / "microgpt-export-20240506-070809" /
                                        "screen.svg")
    assert caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # loss.csv was written, and is gone with its folder


def test_an_export_gets_the_next_free_name(tmp_path):
    (tmp_path / "microgpt-export-20240506-070809").mkdir()
    folder = export_run(tmp_path, NOW, (), None, None, TINY, "<svg/>")
    assert folder.name == "microgpt-export-20240506-070809-2"
    assert sorted(p.name for p in folder.iterdir()) == ["loss.csv", "screen.svg"]
    assert oct(folder.stat().st_mode & 0o777) == oct(0o777 & ~current_umask())


def current_umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


async def test_a_failed_export_notice_names_the_file(tmp_path, monkeypatch):
    app = exporting_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
        await pilot.press("e")
        await pilot.pause()
        monkeypatch.undo()
        errors = [message for message, severity in notices(app) if severity == "error"]
    (error,) = errors
    assert error.startswith(f"Export failed: cannot write {tmp_path}/microgpt-export-")
    assert error.endswith("/loss.csv: No space left on device")
    assert list(tmp_path.iterdir()) == []
