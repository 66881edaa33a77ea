#!/usr/bin/env bash
# Packaging: `make install` puts the systemd units, the example configuration, the logrotate
# snippet and both man pages in place; `systemd-analyze verify` accepts the installed units (and
# refuses a broken one, so the check can fail); the example configuration passes --test; the
# unit is Type=notify with the hardening the docs promise; wharf.ini(5) is what
# tools/config-man.py makes of docs/configuration.md (the two cannot drift apart).
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || skip_all "systemd-analyze is not installed"
BUILDDIR=$(cd "$(dirname "$WHARF")/.." && pwd)
D="$T/inst"
# the configured prefix, into a staging directory (DESTDIR); where each file went is found
(unset MAKEFLAGS MFLAGS MAKELEVEL
 make -C "$BUILDDIR" --no-print-directory install DESTDIR="$D") >"$T/install.log" 2>&1
ok $? "make install DESTDIR=... succeeds"
found() { find "$D" -path "*$1" | head -1; }
for f in /bin/wharf /systemd/system/wharf.service /systemd/system/wharf.socket \
    /etc/wharf/wharf.ini /etc/logrotate.d/wharf /man/man1/wharf.1 /man/man5/wharf.ini.5; do
    ok $([ -s "$(found "$f")" ]; echo $?) "installed: ...$f"
done
BIN=$(found /bin/wharf)
BIN=${BIN#"$D"}
INI=$(found /etc/wharf/wharf.ini)
INI=${INI#"$D"}
unit=$(found /systemd/system/wharf.service)
is "$(grep '^ExecStart=' "$unit")" "ExecStart=$BIN --config $INI" \
    "the unit runs the installed binary with the installed configuration"
for want in 'Type=notify' 'ExecReload=/bin/kill -HUP \$MAINPID' 'NoNewPrivileges=yes' \
    'ProtectSystem=strict' 'ReadWritePaths=.*/var/log/wharf.*/var/lib/wharf' 'PrivateTmp=yes' \
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID' 'KillMode=mixed'; do
    grep -Eq "^$want" "$unit"
    ok $? "wharf.service: $want"
done
grep -q 'kill.*USR1' "$(found /etc/logrotate.d/wharf)"
ok $? "logrotate snippet sends SIGUSR1"

# systemd-analyze verify: the installed units, with the binary and man pages they name
mkdir -p "$T/units" "$T/man"
sed "s|$BIN|$D$BIN|g; s|$INI|$D$INI|g" "$unit" >"$T/units/wharf.service"
cp "$(found /systemd/system/wharf.socket)" "$T/units/"
cp -r "$(dirname "$(found /man/man1/wharf.1)")" "$(dirname "$(found /man/man5/wharf.ini.5)")" "$T/man/"
out=$(cd "$T/units" && MANPATH="$T/man" systemd-analyze verify ./wharf.socket ./wharf.service 2>&1)
rc=$?
is "$rc" 0 "systemd-analyze verify accepts wharf.service and wharf.socket"
is "$out" "" "...without a warning (a bad directive is only a warning)"
sed 's/^Type=notify/Type=notifyy/' "$T/units/wharf.service" >"$T/units/broken.service"
out=$(cd "$T/units" && MANPATH="$T/man" systemd-analyze verify ./broken.service 2>&1)
like "$out" 'Failed to parse service type' "...a bad directive is reported (the check can fail)"
sed "s|^ExecStart=.*|ExecStart=$T/no-such-wharf|" "$T/units/wharf.service" >"$T/units/broken2.service"
(cd "$T/units" && MANPATH="$T/man" systemd-analyze verify ./broken2.service) >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "...and a unit naming a missing binary is refused"

# the example configuration is valid once its paths exist (root and log directory here)
sed "s|/var/www/html|$T|; s|/var/log/wharf|$T|g" "$D$INI" >"$T/example.ini"
out=$("$WHARF" --config "$T/example.ini" --test 2>&1)
ok $? "the example wharf.ini passes --test"

# the man page is generated from docs/configuration.md
python3 "$SRCDIR/tools/config-man.py" "$SRCDIR/docs/configuration.md" >"$T/wharf.ini.5"
cmp -s "$T/wharf.ini.5" "$SRCDIR/docs/wharf.ini.5"
ok $? "docs/wharf.ini.5 is up to date with docs/configuration.md (tools/config-man.py)"
if command -v groff >/dev/null; then
    # every warning but "break": a long JSON example cannot be broken, which is only cosmetic
    warn=$(LC_ALL=C groff -man -Tutf8 -ww -Wbreak -z "$SRCDIR/docs/wharf.ini.5" 2>&1)
    is "$warn" "" "wharf.ini(5) renders without a groff warning"
fi

finish
