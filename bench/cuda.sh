#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one go, each output also saved under OUT_DIR:
# the CUDA tests (device selection, a run on `auto`, one synchronisation an epoch), a
# 20-epoch run through the command line, and the throughput benchmark on cuda.
#
#     bash bench/cuda.sh OUT_DIR [throughput.py options]
#
# Shortened throughput settings by default (3 repeats of 0.5 s, 2 s of overhead measurement
# a case), to fit a few minutes of borrowed GPU time; pass options to override.
set -o pipefail
out=${1:?usage: bash bench/cuda.sh OUT_DIR [throughput.py options]}
shift
mkdir -p "$out"
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
{
    nvidia-smi -L
    python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', \
torch.__version__, torch.cuda.get_device_name(0), torch.cuda.device_count(), 'visible')"
} 2>&1 | tee "$out/env.txt"
timeout 180 python3 -m pytest -q -p no:cacheprovider -rA tests/test_cuda.py \
    tests/test_graphs.py tests/test_host_reads.py tests/test_flat.py 2>&1 | tee "$out/tests.txt"
runs=$(mktemp -d)
timeout 60 python3 -P -m dmt_tui.trainer train mlp-relu-spiral --runs-dir "$runs" \
    --set train.epochs=20 --set early_stopping.patience=0 2>&1 | tail -25 | tee "$out/run.txt"
cp "$runs"/*/events.jsonl "$out/events.jsonl" 2>/dev/null
options=("$@")
[ ${#options[@]} -eq 0 ] && options=(--repeats 3 --seconds 0.5 --overhead-seconds 2)
timeout 300 python3 bench/throughput.py --device cuda --presets "${options[@]}" 2>&1 \
    | tee "$out/throughput.txt"
