#!/usr/bin/env bash
# Makes Mesa's software WebGPU adapter (llvmpipe) available to Deno, for the
# webgpu tests and bench/webgpu_profile.ts (issue 13). Deno's WebGPU (wgpu)
# finds llvmpipe through EGL + Mesa's GL driver; Debian's chromium package
# (scripts/install-chromium.sh) already pulls these in. Needs root or sudo;
# does nothing when an adapter is already found.
set -euo pipefail
cd "$(dirname "$0")/.."
deno=./node_modules/.bin/deno
probe='const a = await navigator.gpu?.requestAdapter(); console.log(a ? a.info.description || "adapter" : "none");'
found="$($deno eval "$probe" 2>/dev/null || echo none)"
if [ "$found" != "none" ]; then
  echo "WebGPU adapter: $found"
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri >/dev/null
echo "WebGPU adapter: $($deno eval "$probe")"
