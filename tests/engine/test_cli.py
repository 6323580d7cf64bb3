import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.test_data import BAD_DATASETS, make_bad_dataset

REFERENCE_LOG = Path(__file__).parent / "reference_log.txt"


def run_engine(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


def test_cli_prints_the_reference_log_format(tmp_path):
    (tmp_path / "names.txt").write_text("anna\nbob\nclara\n")
    proc = run_engine("--data", str(tmp_path / "names.txt"), "--steps", "3", "--samples", "2",
                      "--n-embd", "8", "--n-head", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["num docs: 3", "vocab size: 8", "num params: 1024"]
    assert lines[3].startswith("step    1 /    3 | loss ")
    assert lines[6] == "--- inference (new, hallucinated names) ---"
    assert lines[7].startswith("sample  1: ") and lines[8].startswith("sample  2: ")


def test_first_ten_steps_match_the_reference_log():
    from engine import Config, Trainer, load_docs

    expected = REFERENCE_LOG.read_text().splitlines()[3:13]
    trainer = Trainer(Config(), load_docs())
    lines = []
    for _ in range(10):
        result = trainer.step()
        lines.append(f"step {result.step:4d} / {result.num_steps:4d} | loss {result.loss:.4f}")
    assert lines == expected


@pytest.mark.parametrize("case", sorted(BAD_DATASETS))
def test_bad_dataset_gives_one_line_and_exit_code_2(tmp_path, case):
    content, message = BAD_DATASETS[case]
    proc = run_engine("--data", str(make_bad_dataset(tmp_path, content)))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [
    ["--n-embd", "10", "--n-head", "4"],
    ["--block-size", "0"],
    ["--steps", "-5"],
    ["--seed", "abc"],
    ["--temperature", "0"],
    ["--lr", "inf"],
])
def test_bad_flags_give_one_line_and_exit_code_2(args):
    proc = run_engine(*args)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def limit_memory():
    # Old code read /dev/zero until memory ran out: let it fail at 1 GB, not take the machine.
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("special, message", [
    ("FIFO", "is a named pipe (FIFO), not a regular file"),
    ("/dev/zero", "is a character device, not a regular file"),
])
def test_a_dataset_that_is_not_a_regular_file_is_refused_at_once(tmp_path, special, message):
    path = tmp_path / "names.fifo"
    if special == "FIFO":
        os.mkfifo(path)  # no one ever writes to it: reading it would wait forever
    else:
        path = Path(special)
    proc = subprocess.run([sys.executable, "-m", "engine", "--data", str(path)],
                          capture_output=True, text=True, timeout=60, preexec_fn=limit_memory)
    assert proc.returncode == 2
    assert proc.stderr == f"python -m engine: error: dataset {message}: {path}\n"
