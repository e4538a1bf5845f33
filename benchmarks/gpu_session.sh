#!/usr/bin/env bash
# The prepared GPU call: install what the GPU machine lacks from .whl/cpXY (make gpu-wheels), then
# run benchmarks/gpu_session.py with its JSON, logs and table under $OUT. Arguments go to the
# Python script (e.g. --cpu, --phases sweep). From the repository root of a copy of this tree:
#   bash benchmarks/gpu_session.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-$PWD/gpu_session_out}
tag=$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
wheels=.whl/$tag
if ! compgen -G "$wheels/*.whl" > /dev/null; then
    echo "gpu_session: no wheels in $wheels; run: make gpu-wheels GPU_PYTHON=${tag:2:1}.${tag:3}" >&2
    exit 2
fi
site=${GPU_SITE:-/tmp/gpu_session_site_$tag}
mkdir -p "$OUT"
t0=$SECONDS
"$PYTHON" -m pip install --quiet --no-index --no-deps --upgrade --target "$site" "$wheels"/*.whl \
    > "$OUT/pip.log" 2>&1 || { cat "$OUT/pip.log" >&2; exit 2; }
echo "gpu_session: $(compgen -G "$wheels/*.whl" | wc -l) wheels installed in $((SECONDS - t0)) s"
export PYTHONPATH="$site:$PWD/workflow/scripts${PYTHONPATH:+:$PYTHONPATH}"
GPU_SESSION_COMMIT=$(cat "$wheels/COMMIT" 2> /dev/null || true)
export PATH="$site/bin:$PATH" PYTHONUNBUFFERED=1 OUT GPU_SESSION_COMMIT
"$PYTHON" benchmarks/gpu_session.py --out "$OUT" "$@" 2>&1 | tee "$OUT/session.log"
exit "${PIPESTATUS[0]}"
