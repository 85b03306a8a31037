#!/usr/bin/env bash
# Installs radrelay in the usual FHS places (issue 6):
#   $PREFIX/bin/radrelayd, radrelayctl             (PREFIX defaults to /usr)
#   $PREFIX/lib/systemd/system/radrelay.service
#   $PREFIX/lib/sysusers.d/radrelay.conf, $PREFIX/lib/tmpfiles.d/radrelay.conf
#   $PREFIX/share/doc/radrelay/ (README, operations, conformance statement, config reference)
#   /etc/radrelay/radrelay.yaml (never overwritten; the shipped default goes to radrelay.yaml.dist)
# Everything goes below $DESTDIR when set (packaging). Without DESTDIR, and as root, it also
# creates the system user (systemd-sysusers) and the directories (systemd-tmpfiles) and reloads
# systemd. It does not enable or start the service.
#
# Usage: scripts/install.sh [BIN_DIR]     (BIN_DIR: where the built binaries are; default: the
#        release build, built here if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX="${PREFIX:-/usr}"
DESTDIR="${DESTDIR:-}"
SYSCONFDIR="${SYSCONFDIR:-/etc}"
bin_dir="${1:-}"
if [ -z "$bin_dir" ]; then
    swift build -c release --product radrelayd
    swift build -c release --product radrelayctl
    bin_dir="$(swift build -c release --show-bin-path)"
fi

root="$DESTDIR"
install -d -m 0755 "$root$PREFIX/bin" "$root$PREFIX/lib/systemd/system" "$root$PREFIX/lib/sysusers.d" \
    "$root$PREFIX/lib/tmpfiles.d" "$root$PREFIX/share/doc/radrelay"
install -m 0755 "$bin_dir/radrelayd" "$bin_dir/radrelayctl" "$root$PREFIX/bin/"

# The unit names /usr/bin; rewrite it for another prefix.
sed "s#/usr/bin/radrelayd#$PREFIX/bin/radrelayd#g; s#/etc/radrelay/#$SYSCONFDIR/radrelay/#g" \
    systemd/radrelay.service >"$root$PREFIX/lib/systemd/system/radrelay.service"
chmod 0644 "$root$PREFIX/lib/systemd/system/radrelay.service"
install -m 0644 systemd/radrelay.sysusers "$root$PREFIX/lib/sysusers.d/radrelay.conf"
install -m 0644 systemd/radrelay.tmpfiles "$root$PREFIX/lib/tmpfiles.d/radrelay.conf"
install -m 0644 README.md docs/operations.md docs/conformance-statement.md docs/architecture.md \
    "$root$PREFIX/share/doc/radrelay/"
install -m 0644 etc/radrelay.yaml "$root$PREFIX/share/doc/radrelay/radrelay.yaml.example"

# The default configuration, without the repository-checkout state_dir line (under systemd,
# $STATE_DIRECTORY applies).
install -d -m 0750 "$root$SYSCONFDIR/radrelay"
config_dist="$root$SYSCONFDIR/radrelay/radrelay.yaml.dist"
grep -v '^  state_dir: \.\./var$' etc/radrelay.yaml >"$config_dist"
chmod 0640 "$config_dist"
if [ ! -e "$root$SYSCONFDIR/radrelay/radrelay.yaml" ]; then
    cp "$config_dist" "$root$SYSCONFDIR/radrelay/radrelay.yaml"
fi

if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ]; then
    command -v systemd-sysusers >/dev/null && systemd-sysusers "$PREFIX/lib/sysusers.d/radrelay.conf" || true
    command -v systemd-tmpfiles >/dev/null && systemd-tmpfiles --create "$PREFIX/lib/tmpfiles.d/radrelay.conf" || true
    chgrp radrelay "$SYSCONFDIR/radrelay" "$SYSCONFDIR/radrelay/radrelay.yaml" 2>/dev/null || true
    if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
echo "install: radrelay installed under ${DESTDIR:-/}$PREFIX (config in $SYSCONFDIR/radrelay)"
