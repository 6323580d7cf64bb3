import subprocess
import sys

import pytest

from microgpt_tui import __version__
from microgpt_tui.__main__ import build_app, build_parser, strip_serve_flags
from tests.engine.test_cli import OUT_OF_RANGE, refusal


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
    args = build_parser().parse_args([
        "--data", str(data), "--n-layer", "2", "--n-embd", "6", "--n-head", "3",
        "--block-size", "5", "--steps", "7", "--seed", "3", "--lr", "0.05",
        "--temperature", "1.3",
    ])
    app = build_app(args)
    config = app.store.config
    assert (config.n_layer, config.n_embd, config.n_head, config.block_size) == (2, 6, 3, 5)
    assert (config.num_steps, config.seed, config.lr) == (7, 3, 0.05)
    assert app.dataset_name == "words.txt"
    assert app.store.n_docs == 2
    assert app.store.sampling.temperature == 1.3


def test_headless_prints_the_engine_log(tmp_path):
    data = tmp_path / "words.txt"
    data.write_text("ab\nba\n")
    proc = run_tui("--headless", "--data", str(data), "--steps", "2", "--samples", "1",
                   "--n-embd", "4", "--n-head", "2")
    assert proc.returncode == 0, proc.stderr
    engine = subprocess.run([sys.executable, "-m", "engine", "--data", str(data), "--steps",
                             "2", "--samples", "1", "--n-embd", "4", "--n-head", "2"],
                            capture_output=True, text=True, timeout=60)
    assert proc.stdout == engine.stdout
    assert proc.stdout.splitlines()[3].startswith("step    1 /    2 | loss ")


def test_serve_refuses_a_port_in_use():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_tui("--serve", "--port", str(port))
    assert proc.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_serve_runs_the_same_command_without_the_serve_flags():
    argv = ["--serve", "--port", "9000", "--steps", "5", "--host=0.0.0.0", "--seed", "2"]
    assert strip_serve_flags(argv) == ["--steps", "5", "--seed", "2"]


@pytest.mark.parametrize("flag, value", sorted(OUT_OF_RANGE))
def test_the_app_refuses_an_out_of_range_number_like_the_engine(flag, value, capsys):
    # Both command lines share engine.cli's flags: the app no longer clamps 1e308 to 2.0.
    error = refusal(build_parser, flag, value, capsys)
    assert error.startswith(f"microgpt-tui: error: argument {flag}: "
                            f"{OUT_OF_RANGE[flag, value]}")


def test_the_temperature_flag_takes_exactly_the_range_the_app_can_show():
    from microgpt_tui.run import TEMPERATURE_STEP, clamp_temperature

    assert TEMPERATURE_STEP == 0.1
    for text in ("0.1", "0.5", "1.3", "2.0"):
        temperature = build_parser().parse_args(["--temperature", text]).temperature
        assert clamp_temperature(temperature) == temperature


def test_a_port_beyond_65535_is_refused_by_the_parser(capsys):
    error = refusal(build_parser, "--port", "70000", capsys)
    assert error.startswith("microgpt-tui: error: argument --port: must be a whole number "
                            "from 1 to 65,535, got '70000'")
