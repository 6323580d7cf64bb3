import subprocess
import sys

import pytest

from microgpt_tui import __version__
from microgpt_tui.__main__ import build_app


def run_tui(*args):
    return subprocess.run([sys.executable, "-m", "microgpt_tui", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--n-embd", "10", "--n-head", "4"], "divisible"),
    (["--block-size", "0"], "--block-size"),
    (["--steps", "-3"], "--steps"),
    (["--seed", "x"], "--seed"),
    (["--lr", "nan"], "--lr"),
    (["--data", "/no/such/file.txt"], "not found"),
    (["--bogus"], "unrecognized"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(args, message):
    proc = run_tui(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_version_and_help():
    assert run_tui("--version").stdout.strip() == f"microgpt-tui {__version__}"
    help_text = run_tui("--help").stdout
    for flag in ("--data", "--seed", "--steps", "--n-layer", "--n-embd", "--n-head",
                 "--block-size", "--lr"):
        assert flag in help_text


def test_flags_reach_the_model(tmp_path):
    data = tmp_path / "words.txt"
    data.write_text("ab\nba\n")
    app = build_app(["--data", str(data), "--n-layer", "2", "--n-embd", "6", "--n-head", "3",
                     "--block-size", "5", "--steps", "7", "--seed", "3", "--lr", "0.05"])
    config = app.config
    assert (config.n_layer, config.n_embd, config.n_head, config.block_size) == (2, 6, 3, 5)
    assert (config.num_steps, config.seed, config.lr) == (7, 3, 0.05)
    assert app.dataset_name == "words.txt"
    assert app.n_docs == 2
