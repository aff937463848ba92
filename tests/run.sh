#!/usr/bin/env bash
# The whole test suite: the Rust tests, then the Python module built as a wheel and tested with
# pytest, alone and inside a real lldb. Needs cargo, python3 with pip, node/npm (the fixture
# cores) and lldb-19 with python3-lldb-19 (.ci/run installs them on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --release --workspace

# Damaged input: the mutation harness over the fixture cores (a short run; bench/robustness.sh
# makes the long one) and each fuzz target for 60 s, two at a time. The seed changes daily and
# is printed, so a failure can be replayed.
cargo build --release -q -p v8dump -p v8dump-fuzz
seed=$(date -u +%Y%j)
python3 fixtures/tools/mutate.py --runs 120 --seed "$seed"
fuzz() {
    ./target/release/v8dump-fuzz "$1" --seconds 60 --seed "$seed" --out target/fuzz &
    local a=$!
    ./target/release/v8dump-fuzz "$2" --seconds 60 --seed "$seed" --out target/fuzz &
    local b=$!
    wait "$a"
    wait "$b"
}
fuzz elf space
fuzz heap snapshot

# The CLI the Python tests compare with, and the extension module as an abi3 wheel.
cargo build --release -q -p v8dump
# dask[distributed]: tests/python/test_dask.py runs docs/BATCH.md's example on a LocalCluster;
# mcp: the official MCP SDK, whose client drives `v8dump mcp` in tests/python/test_mcp.py;
# jsonschema: tests/python/test_schema.py validates every --json answer against docs/schema/;
# ray: tests/python/test_ray.py runs docs/BATCH.md's Ray example in a local Ray instance.
python3 -m pip install -q --disable-pip-version-check "maturin>=1.5,<2" "pytest>=7" "dask[distributed]>=2024.1" "mcp>=1.2" "jsonschema>=4.18" "ray>=2.9" 2>&1 | grep -v "as the 'root' user" || true
rm -rf target/wheels
maturin build --release -q -m crates/python/Cargo.toml -o target/wheels
V8DUMP_WHEEL=$(ls "$PWD"/target/wheels/v8dump-*.whl)
export V8DUMP_WHEEL
rm -rf target/pydeps
python3 -m pip install -q --disable-pip-version-check --no-deps --target target/pydeps "$V8DUMP_WHEEL" 2>&1 | grep -v "as the 'root' user" || true
# tests/python/test_install.py installs the wheel (and the package directory) into fresh venvs
# and runs the `v8dump` command, `v8dump lldb-init` and lldb-19 as a user would.
PYTHONPATH="$PWD/target/pydeps" python3 -m pytest -q tests/python
