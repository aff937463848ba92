#!/usr/bin/env bash
# The long run of the damaged-input checks, whose figures docs/ROBUSTNESS.md records: the
# mutation harness over the fixture cores of every version (2,100 runs), then each fuzz target
# for 30 minutes, two at a time (the machine has 2 cores). Needs the fixture cores
# (python3 fixtures/make_cores.py). Results: target/robustness/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/robustness
mkdir -p "$out"
seed=${SEED:-2026}
minutes=${MINUTES:-30}
cargo build --release -q -p v8dump -p v8dump-fuzz
python3 fixtures/tools/mutate.py --runs "${RUNS:-2100}" --seed "$seed" --json "$out/mutate.json" \
    | tee "$out/mutate.txt"
run() {
    ./target/release/v8dump-fuzz "$1" --seconds $((minutes * 60)) --seed "$seed" \
        --out "$out/fuzz" | tee "$out/fuzz-$1.txt"
}
for pair in "elf space" "heap snapshot"; do
    set -- $pair
    run "$1" &
    a=$!
    run "$2" &
    b=$!
    wait "$a"
    wait "$b"
done
