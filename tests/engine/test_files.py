import os
from pathlib import Path

import pytest

from engine.files import write_atomically


def test_a_failed_rename_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "loss.csv"
    write_atomically(path, b"old\n")

    def refuse(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_atomically(path, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["loss.csv"]


def test_written_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "loss.csv"
        write_atomically(path, b"step,loss\n")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.read_bytes() == b"step,loss\n"


def test_writing_through_a_symbolic_link_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "run.json"
    target.write_bytes(b"old")
    link = tmp_path / "latest.json"
    link.symlink_to(Path("runs") / "run.json")
    write_atomically(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(Path("runs") / "run.json")
    assert target.read_bytes() == b"new"
    # The temp file was written beside the target: one rename, no copy across directories.
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["latest.json", "run.json", "runs"]


def test_writing_to_a_symbolic_link_loop_names_the_link(tmp_path):
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop.name)
    with pytest.raises(OSError) as caught:
        write_atomically(loop, b"new")
    assert caught.value.filename == str(loop)
    assert loop.is_symlink()


def test_a_failed_write_names_the_file_not_its_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "loss.csv"

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        write_atomically(path, b"step,loss\n")
    assert caught.value.filename == str(path)
    assert list(tmp_path.iterdir()) == []
