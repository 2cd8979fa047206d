#!/usr/bin/env bash
# The first GPU run, prepared on the CPU (issue 16). Two steps:
#
#   bash benchmarks/gpu_check.sh prepare   # here, once: wheels -> .whl/, data -> .gpudata/
#   bash benchmarks/gpu_check.sh run       # on the GPU machine (device tool `run`,
#                                          #   carry [".whl", ".gpudata"]), writes under $OUT
#
# `run` installs the project from the carried wheels (the GPU image has CuPy, PyTorch, SciPy,
# pytest, safetensors, threadpoolctl, scikit-learn, but not array-api-compat/-strict), then runs,
# each part under its own time limit so that one hang does not eat the rest:
#   1. the machine: GPU, driver, CUDA, CuPy, torch versions         -> env.txt
#   2. the conformance suite on cupy and torch (CPU and CUDA)        -> conformance-gpu.md
#   3. examples/gpu_mnist.py: CuPy, torch CUDA and NumPy, a seeded rerun on the GPU
#   4. examples/mnist_cnn.py on CuPy, when that example exists
#   5. python -m benchmarks --only gpu                                -> benchmarks-gpu.{json,md}
# Everything printed also goes to log.txt. The limits add up to under 8 minutes.
#
# Without a usable GPU (a rehearsal on the CPU) the GPU parts say why and are skipped; the
# script still exits 0 when every part that could run did. GPU_CHECK_LIMITS="a b c d e"
# overrides the per-part limits in seconds; GPU_CHECK_BACKENDS the conformance backends.
set -uo pipefail
cd "$(dirname "$0")/.."

prepare() {
  set -e
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
  grep -qx '/.gpudata/' .git/info/exclude 2>/dev/null || echo /.gpudata/ >> .git/info/exclude
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      -d .whl array-api-compat==1.16.0 array-api-strict==2.6.1
  local data="${ANYNET_DATA:-../shared/data}"
  mkdir -p .gpudata
  cp -r "$data/mnist" "$data/ex4" .gpudata/
  du -sh .whl .gpudata
}

# part NAME LIMIT COMMAND...: run COMMAND under LIMIT seconds, log it, record the outcome.
part() {
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit}s): $*"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  local verdict=ok
  [ "$rc" -eq 0 ] || verdict="FAILED rc=$rc"
  [ "$rc" -eq 124 ] && verdict="TIMED OUT after ${limit}s"
  echo "=== $name: $verdict in $((SECONDS - t0))s"
  SUMMARY+=("$name: $verdict ($((SECONDS - t0))s)")
  [ "$rc" -eq 0 ] || FAILED=1
}

machine_info() {
  date -u +"date: %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
  python3 - <<'EOF'
import platform, importlib
print("python", platform.python_version())
for name in ("numpy", "scipy", "array_api_compat", "array_api_strict", "torch", "cupy"):
    try:
        m = importlib.import_module(name)
        print(name, getattr(m, "__version__", "?"))
    except Exception as exc:
        print(name, "not importable:", type(exc).__name__, exc)
try:
    import cupy
    print("CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(), "driver", cupy.cuda.runtime.driverGetVersion())
    print("GPU", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
except Exception as exc:
    print("cupy GPU: not usable:", type(exc).__name__, exc)
try:
    import torch
    print("torch CUDA", torch.version.cuda, "available", torch.cuda.is_available())
except Exception as exc:
    print("torch:", exc)
import anynet
for s in anynet.backends.available():
    print(s)
EOF
}

gpu_usable() {
  python3 -c "import anynet, sys; sys.exit(anynet.backends.get('cupy').unavailable_reason() is not None)"
}

run() {
  OUT="${OUT:-$(mktemp -d)}"
  mkdir -p "$OUT"
  exec > >(tee -a "$OUT/log.txt") 2>&1
  SUMMARY=() FAILED=0
  read -r L_ENV L_CONF L_MLP L_CNN L_BENCH <<< "${GPU_CHECK_LIMITS:-30 200 75 60 90}"
  local t_start=$SECONDS

  if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  if ! python3 -c "import anynet" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || { echo "install failed"; exit 1; }
  fi
  [ -d .gpudata ] && export ANYNET_DATA="$PWD/.gpudata"
  export PYTHONUNBUFFERED=1 MPLBACKEND=Agg

  export -f machine_info
  part "machine" "$L_ENV" bash -c "machine_info > '$OUT/env.txt'; cat '$OUT/env.txt'"

  local gpu=1
  if ! gpu_usable; then
    gpu=0
    echo "no usable GPU here: the GPU parts are skipped (a rehearsal)"
  fi
  part "conformance" "$L_CONF" python3 -m anynet.conformance --backend "${GPU_CHECK_BACKENDS:-cupy,torch}" \
      --report "$OUT/conformance-gpu.md" -- -q -p no:cacheprovider
  if [ -f "$OUT/conformance-gpu.md" ]; then  # the report names its machine: GPU, driver, CUDA, versions
    printf '\n## Machine\n\n```text\n%s\n```\n' "$(cat "$OUT/env.txt")" >> "$OUT/conformance-gpu.md"
  fi
  if [ "$gpu" -eq 1 ]; then
    part "gpu_mnist" "$L_MLP" python3 examples/gpu_mnist.py --backends cupy,torch,numpy --epochs 3 --check-determinism
    if [ -f examples/mnist_cnn.py ]; then
      part "mnist_cnn" "$L_CNN" python3 examples/mnist_cnn.py --backend cupy --epochs 1
    fi
    part "benchmarks" "$L_BENCH" python3 -m benchmarks --only gpu --repeats 3 --out "$OUT/benchmarks-gpu"
  fi
  echo "=== summary ($((SECONDS - t_start))s in all)"
  printf '%s\n' "${SUMMARY[@]}"
  echo "results in $OUT"
  return "$FAILED"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: bash benchmarks/gpu_check.sh prepare|run" >&2; exit 2 ;;
esac
