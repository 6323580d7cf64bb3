import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.test_data import BAD_DATASETS, make_bad_dataset

REFERENCE_LOG = Path(__file__).parent / "reference_log.txt"
REPO = Path(__file__).resolve().parents[2]


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


OUT_OF_RANGE = {
    # flag and value: what the one-line error says after "argument FLAG: "
    ("--temperature", "1e-310"): "must be a number from 0.1 to 2.0 in steps of 0.1, got '1e-310'",
    ("--temperature", "1e308"): "must be a number from 0.1 to 2.0 in steps of 0.1, got '1e308'",
    ("--temperature", "0.55"): "must be a number from 0.1 to 2.0 in steps of 0.1, got '0.55'",
    ("--temperature", "nan"): "must be a number from 0.1 to 2.0 in steps of 0.1, got 'nan'",
    ("--lr", "1e400"): "must be a finite number > 0, got '1e400'",
    ("--lr", "-0.5"): "must be a finite number > 0, got '-0.5'",
    ("--lr", "nan"): "must be a finite number > 0, got 'nan'",
    ("--steps", "10000000000"): "must be a whole number from 1 to 1,000,000,000, got "
                                "'10000000000'",
    ("--steps", "inf"): "must be a whole number from 1 to 1,000,000,000, got 'inf'",
    ("--seed", "-1"): "must be a whole number >= 0, got '-1'",
    ("--n-embd", "nan"): "must be a whole number >= 1, got 'nan'",
    ("--n-layer", "-3"): "must be a whole number >= 1, got '-3'",
    ("--samples", "-2"): "must be a whole number >= 0, got '-2'",
    # Over 4,300 digits, int() refuses; the value is shown cut short.
    ("--block-size", "9" * 5000): "must be a whole number >= 1, got '9999999999999999",
}


def refusal(build_parser, flag, value, capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args([flag, value])
    assert caught.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("flag, value", sorted(OUT_OF_RANGE))
def test_an_out_of_range_number_is_refused_naming_its_flag(flag, value, capsys):
    from engine.cli import build_parser

    error = refusal(build_parser, flag, value, capsys)
    assert error.startswith(f"python -m engine: error: argument {flag}: "
                            f"{OUT_OF_RANGE[flag, value]}")
    assert error.endswith(" (see --help)\n") and error.count("\n") == 1
    assert len(error) < 200


@pytest.mark.parametrize("sizes", [["--n-layer", "100000"],
                                   ["--n-embd", "4000000", "--n-head", "4"]])
def test_a_model_too_big_to_build_is_refused_before_it_is_built(tmp_path, sizes):
    (tmp_path / "names.txt").write_text("anna\nbob\n")
    # Old code went on to build it: 300 million weights, until memory ran out.
    proc = subprocess.run([sys.executable, "-m", "engine", "--data",
                           str(tmp_path / "names.txt"), *sizes],
                          capture_output=True, text=True, timeout=60, preexec_fn=limit_memory)
    assert proc.returncode == 2
    assert proc.stderr.startswith("python -m engine: error: a model of n_layer ")
    assert proc.stderr.endswith("parameters; microgpt-tui builds at most 5,000,000 (give a "
                                "smaller --n-layer, --n-embd or --block-size)\n")
    assert proc.stdout == ""


# python -m engine with a save that stops between writing its temp file and syncing it, until
# a signal comes: the test sees the save under way, and no timing decides what it sees.
SAVE_THAT_WAITS = """
import os, signal, sys
from engine import cli

def fsync(fd):
    print("saving", flush=True)
    signal.pause()

os.fsync = fsync
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_save_leaves_the_old_checkpoint_and_no_temp_file(tmp_path, signum):
    (tmp_path / "names.txt").write_text("anna\nbob\n")
    checkpoint = tmp_path / "run.json"
    checkpoint.write_text("the old checkpoint")
    proc = subprocess.Popen(
        [sys.executable, "-c", SAVE_THAT_WAITS, "--data", str(tmp_path / "names.txt"),
         "--steps", "2", "--n-embd", "8", "--n-head", "2", "--save", str(checkpoint)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert "saving\n" in iter(proc.stdout.readline, "")  # reads up to that line
        assert list(tmp_path.glob(".run.json.*.tmp"))  # the save is under way
        proc.send_signal(signum)
        _, error = proc.communicate(timeout=60)
    finally:
        proc.kill()  # if an assertion above failed while it still ran
    assert proc.returncode == 128 + signum
    assert error == f"python -m engine: terminated ({signal.Signals(signum).name})\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["names.txt", "run.json"]
    assert checkpoint.read_text() == "the old checkpoint"


def test_top_k_1_samples_the_same_most_likely_name_every_time(tmp_path):
    (tmp_path / "names.txt").write_text("anna\nbob\nclara\nada\nbart\n")
    proc = run_engine("--data", str(tmp_path / "names.txt"), "--steps", "20", "--samples", "4",
                      "--n-embd", "8", "--n-head", "2", "--top-k", "1")
    assert proc.returncode == 0, proc.stderr
    samples = [line.split(": ", 1)[1] for line in proc.stdout.splitlines()
               if line.startswith("sample ")]
    assert len(samples) == 4 and len(set(samples)) == 1  # greedy: no draw is left to chance
    refused = run_engine("--top-k", "0")
    assert refused.returncode == 2 and "--top-k" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
