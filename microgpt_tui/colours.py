"""The colours that carry meaning in the data, named once; every pane and view uses these.

Orange marks what the learner should look at: the letter drawn, a forced letter, what an
ablation changed, the stage just run, the newest cache row. Blue is a plain quantity (bars,
per-step points). Cyan and magenta are a number's sign. The heatmap's ramp lives with the
heatmap (widgets/heatmap.py), which every heatmap and matrix map draws through.
"""

MARK = "dark_orange"
BOLD_MARK = f"bold {MARK}"
CHOSEN = f"bold black on {MARK}"  # the drawn letter's bar
BAR = "steel_blue"
POSITIVE, NEGATIVE = "cyan", "magenta"
BOS = f"bold {NEGATIVE}"  # the start/end token among letters (the embedding map)
GOOD, BAD, FAILED = "green", "bold red", "red"  # agrees / disagrees / could not be measured
