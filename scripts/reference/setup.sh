#!/usr/bin/env bash
# Creates scripts/reference/.venv (git-ignored) with the pinned reference packages:
# torch 2.13.0+cpu, transformers 4.57.6, safetensors, tokenizers, tiktoken, pillow, numpy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install --quiet --upgrade pip
"$here/.venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$here/.venv/bin/python" -c "import torch, transformers; print('reference venv ready: torch', torch.__version__, 'transformers', transformers.__version__)"
