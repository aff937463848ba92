"""One install, every front end, the way a user does it: a fresh venv, `pip install` of the
wheel tests/run.sh built (V8DUMP_WHEEL), and of the package directory, then the `v8dump` command on the
venv's PATH, `import v8dump`, `v8dump lldb-init` and Debian's lldb-19 loading
`v8dump.lldb` with no path into the checkout and no PYTHONPATH. The oracle for every output
is the `v8dump` binary cargo built."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, cli, fixture

LLDB = shutil.which("lldb-19") or shutil.which("lldb")


def clean_env(home):
    """The environment of a user with this HOME and nothing of the test run's Python path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "V8DUMP_PYTHON_PATH")}
    env["HOME"] = str(home)
    return env


def run(argv, env, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, timeout=600, **kw)


def make_venv(path, env):
    out = run([sys.executable, "-m", "venv", path], env)
    assert out.returncode == 0, out.stderr
    return path / "bin"


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    # The wheel tests/run.sh built (target/wheels also gets the one pip builds below).
    wheel = os.environ.get("V8DUMP_WHEEL")
    if not wheel or not os.path.isfile(wheel):
        pytest.fail("V8DUMP_WHEEL names no wheel: tests/run.sh builds it and sets it")
    home = tmp_path_factory.mktemp("home")
    env = clean_env(home)
    bin_dir = make_venv(tmp_path_factory.mktemp("venv") / "v", env)
    out = run([bin_dir / "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", wheel], env)
    assert out.returncode == 0, out.stderr
    return bin_dir, home, env


def test_the_wheel_puts_v8dump_on_path_and_it_is_the_binary(wheel_venv):
    bin_dir, _, env = wheel_venv
    d, _, _ = fixture("listener_leak", 24)
    core = str(d / "core")
    binary = cli()
    for args in (["report", core], ["findjsobjects", core, "--json"], ["leaks", core, "--top", "2"], ["--version"]):
        ours = run([bin_dir / "v8dump"] + args, env)
        theirs = run([binary] + args, env)
        assert ours.returncode == 0 == theirs.returncode, ours.stderr
        assert ours.stdout == theirs.stdout, args
    # Errors and usage: the same messages and exit statuses (1 an error, 2 bad usage).
    for args, status in ((["info", "/nonexistent/core"], 1), (["info"], 2), (["nosuchcommand"], 2)):
        ours = run([bin_dir / "v8dump"] + args, env)
        theirs = run([binary] + args, env)
        assert ours.returncode == status == theirs.returncode, (args, ours.stderr)
        assert ours.stderr == theirs.stderr
    out = run([bin_dir / "python", "-c", "import v8dump, sys; print(v8dump.__file__)"], env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(bin_dir.parent)), out.stdout
    # python -m v8dump is the same command.
    out = run([bin_dir / "python", "-m", "v8dump", "--version"], env)
    assert out.returncode == 0 and out.stdout == run([binary, "--version"], env).stdout


def test_lldb_init_makes_debians_lldb_load_the_plugin_from_the_venv(wheel_venv):
    if not LLDB:
        pytest.fail("lldb-19 is not installed (apt-get install lldb-19 python3-lldb-19)")
    bin_dir, home, env = wheel_venv
    init = home / ".lldbinit"
    init.write_text("settings set target.x86-disassembly-flavor intel\n")
    first = run([bin_dir / "v8dump", "lldb-init"], env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "check       ok" in first.stdout, first.stdout
    text = init.read_text()
    assert text.startswith("settings set target.x86-disassembly-flavor intel\n"), text
    assert text.count("command script import v8dump.lldb") == 1, text
    # Idempotent: a second run changes nothing.
    second = run([bin_dir / "v8dump", "lldb-init"], env)
    assert second.returncode == 0 and "unchanged" in second.stdout, second.stdout
    assert init.read_text() == text
    # lldb as the user starts it: its init file from HOME, the import by module name.
    d, run_json, _ = fixture("listener_leak", 24)
    core = str(d / "core")
    out = run([LLDB, "--batch", run_json["node_realpath"], "-c", core,
               "-o", "command script import v8dump.lldb", "-o", "v8 report"], env)
    assert out.returncode == 0, out.stderr
    assert "error:" not in out.stdout + out.stderr, out.stdout + out.stderr
    report = out.stdout.split("(lldb) v8 report\n", 1)[1]
    assert report == run([cli(), "report", core], env).stdout
    # Without the init file, lldb's Python cannot import the venv's package: the init file
    # is what made it work.
    bare = run([LLDB, "--batch", "-x", "-o", "script import v8dump"], env)
    assert "No module named 'v8dump'" in bare.stdout + bare.stderr


def test_lldb_init_without_a_package_says_how_to_get_one(tmp_path):
    if not LLDB:
        pytest.fail("lldb-19 is not installed (apt-get install lldb-19 python3-lldb-19)")
    env = clean_env(tmp_path)
    out = run([cli(), "lldb-init"], env)
    assert out.returncode == 1
    assert "cannot import the v8dump package" in out.stderr and "pip install" in out.stderr, out.stderr
    assert not (tmp_path / ".lldbinit").exists()


def test_pip_install_of_the_package_directory(tmp_path):
    """`pip install crates/python` (maturin builds it; cargo's target/ keeps it quick)."""
    env = clean_env(tmp_path)
    # The toolchain stays the user's own (rustup finds it under the real HOME).
    real_home = os.path.expanduser("~")
    env.setdefault("RUSTUP_HOME", os.path.join(real_home, ".rustup"))
    env.setdefault("CARGO_HOME", os.path.join(real_home, ".cargo"))
    env["CARGO_TARGET_DIR"] = str(ROOT / "target")
    bin_dir = make_venv(tmp_path / "v", env)
    out = run([bin_dir / "pip", "install", "-q", "--disable-pip-version-check", ROOT / "crates" / "python"], env)
    assert out.returncode == 0, out.stderr
    d, _, _ = fixture("listener_leak", 24)
    core = str(d / "core")
    ours = run([bin_dir / "v8dump", "top", core, "--limit", "3"], env)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == run([cli(), "top", core, "--limit", "3"], env).stdout
    # The plugin is inside the package.
    out = run([bin_dir / "python", "-c", "import importlib.util as u; print(u.find_spec('v8dump.lldb').origin)"], env)
    assert out.returncode == 0 and out.stdout.strip() == str(next((bin_dir.parent / "lib").glob("python3*"))
                                                           / "site-packages" / "v8dump" / "lldb.py"), out
