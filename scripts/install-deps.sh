#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need, and
# makes sure FUSE is usable. Installs only what is missing, so a second run
# takes a second. Used by .ci/run and scripts/demo.sh.
set -euo pipefail

PKGS=(build-essential pkg-config libfuse3-dev fuse3 libcjson-dev libzstd-dev
      libxxhash-dev libssl-dev check clang libclang-rt-14-dev python3-venv
      zstd time libcurl4-openssl-dev nginx)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo" >&2; exit 1; }
    SUDO=(sudo)
fi

missing=()
for p in "${PKGS[@]}"; do
    # "install ok installed" is the only state in which the package is usable.
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
else
    echo "install-deps: all Debian packages present"
fi

# FUSE: the module may be built in or loadable; containers may only have the
# device node. Only the device node matters to df11fs.
if [ ! -e /dev/fuse ]; then
    "${SUDO[@]}" modprobe fuse 2>/dev/null || true
fi
if [ -e /dev/fuse ]; then
    echo "install-deps: /dev/fuse present"
else
    echo "install-deps: WARNING: /dev/fuse missing; mount tests will be skipped" >&2
fi
