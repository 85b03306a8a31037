#!/usr/bin/env bash
# Installs what radrelay needs on Debian 12: the system libraries to build and run the daemon,
# and with --test also the peers the test suite drives (DCMTK tools, Orthanc, pydicom/pynetdicom).
# Idempotent: it only installs what is missing, so the README's commands can call it every time.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

packages=(libdcmtk-dev dcmtk libsystemd-dev libsqlite3-dev pkg-config)
if [ $want_test -eq 1 ]; then
    packages+=(orthanc orthanc-dicomweb python3-pip openssl strace procps curl)
    # systemd-analyze (unit checks) and util-linux's unshare (fake journal socket) for issue 6's tests.
    packages+=(systemd util-linux)
    # fault suite invariant checks (sqlite3 CLI) and the benchmark's LD_PRELOAD fsync shim (gcc)
    packages+=(sqlite3 gcc)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    # policy-rc.d 101 keeps the orthanc package from starting its own service (ports 4242/8042)
    # on machines where systemd or sysvinit would otherwise start it during installation.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee "$policy" >/dev/null
        $sudo_cmd chmod +x "$policy"
        created_policy=1
    fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
    [ $created_policy -eq 1 ] && $sudo_cmd rm -f "$policy"
fi

if [ $want_test -eq 1 ]; then
    # Orthanc is only a test peer: if the package did start a system service, stop it.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet orthanc 2>/dev/null; then
        $sudo_cmd systemctl disable --now orthanc || true
    fi
    if ! python3 -c "import pydicom, pynetdicom, numpy" 2>/dev/null; then
        echo "setup: installing pydicom, pynetdicom"
        python3 -m pip install --quiet --disable-pip-version-check "pydicom>=2.4,<3" "pynetdicom>=2.0,<3" numpy
    fi
fi
