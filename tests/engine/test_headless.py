import subprocess
import sys

UI_MODULES = ("textual", "rich")


def test_importing_engine_loads_no_ui_module():
    code = (
        "import sys, engine, engine.cli, engine.sampler, engine.trainer\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {UI_MODULES!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == "[]"


def test_engine_imports_only_the_standard_library():
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import engine, engine.cli\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(new - set(sys.stdlib_module_names) - {'engine'}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == "[]"
