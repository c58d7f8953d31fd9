#!/usr/bin/env bash
# The accelerator figures of issue 16 in one run, for a machine with one GPU (about 10 minutes on an H100):
#   bash benchmarks/gpu_check.sh [OUT_DIR]       # default benchmarks/results/gpu
# 1. the model and SFT tests on the GPU (naive and fused attention agree, bfloat16, packing, resume)
# 2. train TFLOP/s and MFU of a ~100M-parameter model in bfloat16 (d 768, 13 layers, MLP 2304: 99.8M), with
#    JAX's fused attention and with cuDNN's flash attention
# 3. the GPU recipe (configs/gpu/mix_sft.toml) for $STEPS steps (300): its steps/s (the log and TensorBoard
#    events are copied to OUT_DIR; the checkpoints, 0.7 GB each, stay in a temporary directory). Its final eval
#    is cut to 20 problems a level and 128 new tokens: after 300 steps the answers are not the point.
# 4. how fast the host builds the recipe's batches with 0 and 8 worker processes
# Each part writes its JSON or log to OUT_DIR; a part that fails says so and the next one still runs.
# MODEL and RECIPE replace the model keys of part 2 and add keys to part 3 (to try the script on a CPU:
# MODEL="model.d_model=32 model.n_layers=1 model.n_heads=2 model.mlp_hidden=64" RECIPE="$MODEL" STEPS=2).
set -u
out=${1:-benchmarks/results/gpu}
mkdir -p "$out"
model=${MODEL:-"model.d_model=768 model.n_layers=13 model.n_heads=12 model.mlp_hidden=2304"}
status=0
part() {  # part NAME COMMAND...: run it, keep its output, say how it went
    local name=$1; shift
    echo "== $name: $*"
    if ! "$@" > "$out/$name.log" 2>&1; then
        echo "   FAILED (see $out/$name.log)"; status=1
    fi
    tail -n 4 "$out/$name.log" | sed 's/^/   /'
}
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
python -c "import jax; print('jax', jax.__version__, jax.devices())"
part tests python -m pytest -q tests/test_model.py tests/test_sft.py
part bench_100m python benchmarks/bench.py --config configs/gpu/mix_sft.toml --rl-config '' \
    --out "$out/bench_100m.json" $model
part bench_100m_cudnn python benchmarks/bench.py --config configs/gpu/mix_sft.toml --rl-config '' \
    --out "$out/bench_100m_cudnn.json" $model model.attention=cudnn
runs=$(mktemp -d)
part mix_sft python train.py configs/gpu/mix_sft.toml train.steps="${STEPS:-300}" train.log_every=25 \
    train.eval_every=100000 train.save_every=100000 eval.n=20 eval.max_new=128 run.out_dir="$runs" ${RECIPE:-}
cp "$runs"/mix_sft/events.* "$runs"/mix_sft/eval.json "$out"/ 2>/dev/null
part batches python benchmarks/batches.py --workers 0,8 --rounds 1 --out "$out/batches.json"
exit $status
