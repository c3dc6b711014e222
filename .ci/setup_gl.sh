#!/usr/bin/env bash
# Installs Mesa's EGL (Debian's libegl1, libegl-mesa0, libgl1-mesa-dri) if missing: the MuJoCo evaluation-video test
# renders without a display through MUJOCO_GL=egl (software rendering, no GPU). Idempotent; needs root (apt-get)
# the first time.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
log() { echo "[setup_gl] $*"; }

if ldconfig -p | grep -q 'libEGL_mesa.so.0' && ldconfig -p | grep -q 'libEGL.so.1'; then
    log "Mesa EGL already installed"
    exit 0
fi
log "installing libegl1 libegl-mesa0 libgl1-mesa-dri"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 libegl1 libegl-mesa0 libgl1-mesa-dri; then
    log "apt-get install failed; running apt-get update and retrying"
    apt-get update
    apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 libegl1 libegl-mesa0 libgl1-mesa-dri
fi
ldconfig -p | grep -q 'libEGL_mesa.so.0' || { log "FAILED: libEGL_mesa.so.0 still missing"; exit 1; }
