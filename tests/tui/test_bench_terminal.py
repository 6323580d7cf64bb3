"""The terminal benchmark's helpers (the measurement itself is a script, not a test): the
screen it keeps from the app's output, and what it reads off that screen."""

from microgpt_tui.bench_terminal import Screen, head_shown, percentile, step_shown, summary


def fed(*chunks, width=20, height=4):
    screen = Screen(width, height)
    for chunk in chunks:
        screen.feed(chunk)
    return screen.lines()


def test_text_lands_where_the_cursor_is_put():
    assert fed(b"\x1b[2;3Habc\x1b[1;1Hxy") == ["xy", "  abc", "", ""]


def test_colours_modes_and_window_titles_leave_the_text_alone():
    assert fed(b"\x1b[?1049h\x1b]0;title\x07\x1b[1;38;5;214;48;5;17mhead\x1b[0m 1/4\x1b7")[0] == (
        "head 1/4")


def test_a_sequence_or_a_character_cut_by_the_end_of_a_read_is_finished_by_the_next():
    title = "Attention · head 2/4".encode()
    cut = title.index("·".encode()) + 1  # inside the two bytes of ·
    assert fed(b"\x1b[3", b";2Hab", b"\x1b[1;1H" + title[:cut], title[cut:])[0:3] == [
        "Attention · head 2/4", "", " ab"]


def test_erasing_and_line_breaks():
    assert fed(b"abcdef\x1b[1;3H\x1b[K\r\nxy\x1b[2J\x1b[4;1Hz") == ["", "", "", "z"]


def test_wide_characters_take_two_cells_and_nothing_is_written_past_the_edge():
    assert fed(b"\x1b[1;18H" + "中ab".encode())[0] == " " * 17 + "中a"


def test_what_is_read_off_the_app_screen():
    lines = ["│ step 12/1000  loss 2.9 │",
             "╭─ Attention · layer 1/1 · head 3/4 ───╮╭─ KV cache · layer 1/1 · head 3/4 ─╮"]
    assert head_shown(lines) == (3, 4)
    assert step_shown(lines) == 12
    assert head_shown(["nothing"]) is None and step_shown(["nothing"]) is None


def test_percentiles_and_the_summary_row():
    latencies = [float(ms) for ms in range(1, 101)]
    assert percentile(sorted(latencies), 0.95) == 95.0
    assert summary("idle", latencies) == "| idle             |    50.5 |    95.0 |   100.0 |"
