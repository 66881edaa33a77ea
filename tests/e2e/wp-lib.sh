# wp-lib.sh: WordPress for the e2e tests, sourced after lib.sh: Debian's wordpress package
# extracted once into the cache ($SRC: the tree of /usr/share/wordpress, links resolved by
# `cp -rL`), a private MariaDB (wp_start_db), a small PNG (wp_png) and request helpers
# (req, hdr, rbody, has, title, json). Skips when a tool or a package is missing (CI: fails).
# The wordpress package depends on apache2|httpd, so it is not installed: `apt-get download` and
# `dpkg-deb -x` into a cache ($WHARF_TEST_CACHE, the build tree's tests/cache), once per version;
# its other dependencies (php-mysql, libjs-underscore, ...) are installed by build.sh.
for t in apt-get apt-cache dpkg-deb php mariadb; do
    command -v "$t" >/dev/null || skip_all "$t is not installed"
done
MARIADBD=$(command -v mariadbd || command -v /usr/sbin/mariadbd) || skip_all "mariadbd is not installed (mariadb-server)"
INSTALL_DB=$(command -v mariadb-install-db || command -v /usr/bin/mariadb-install-db) ||
    skip_all "mariadb-install-db is not installed (mariadb-server)"
php -r 'exit(extension_loaded("mysqli") ? 0 : 1);' || skip_all "PHP's mysqli is not installed (php-mysql)"
for d in /usr/share/javascript/underscore /usr/share/javascript/cropper /usr/share/php/getid3; do
    [ -d "$d" ] || skip_all "$d is missing (libjs-underscore, libjs-cropper, php-getid3)"
done

# ---- WordPress from Debian's archive, extracted once into the cache --------------------------------
CACHE=${WHARF_TEST_CACHE:-$SRCDIR/tests/cache}
VER=$(apt-cache show --no-all-versions wordpress 2>/dev/null | sed -n 's/^Version: //p' | head -1)
[ -n "$VER" ] || VER=$(ls -d "$CACHE"/wordpress-*/.complete 2>/dev/null | sed 's#.*/wordpress-##; s#/.complete##' | tail -1)
[ -n "$VER" ] || skip_all "apt-cache knows no wordpress package (apt-get update?)"
WPC="$CACHE/wordpress-$VER" # the packages' file tree: $WPC/usr/share/wordpress
if [ ! -f "$WPC/.complete" ]; then
    mkdir -p "$CACHE" || bail "cannot create $CACHE"
    DL=$(mktemp -d "$CACHE/.dl.XXXXXX") || bail "cannot create a directory in $CACHE"
    chmod 755 "$DL" # apt-get download as root hands the file to the _apt user when it can
    if ! (cd "$DL" && apt-get download "wordpress=$VER" "wordpress-theme-twentytwentythree=$VER") >"$T/download.log" 2>&1; then
        rm -rf "$DL"
        cat "$T/download.log" >&2
        skip_all "apt-get download wordpress=$VER failed (no archive reachable?)"
    fi
    mkdir "$DL/root"
    for deb in "$DL"/*.deb; do
        dpkg-deb -x "$deb" "$DL/root" || bail "dpkg-deb -x $deb failed"
    done
    # Debian's tree links into other packages (wp-includes/js/underscore.min.js ->
    # ../../../javascript/underscore/, ID3/ -> ../../../php/getid3/): make those relative links
    # land on the installed packages, so that `cp -L` below resolves them. .htaccess links to
    # /etc/wordpress (Apache's rules, not used).
    ln -s /usr/share/javascript "$DL/root/usr/share/javascript"
    ln -s /usr/share/php "$DL/root/usr/share/php"
    rm -f "$DL/root/usr/share/wordpress/.htaccess"
    touch "$DL/root/.complete"
    mv -T "$DL/root" "$WPC" 2>/dev/null || [ -f "$WPC/.complete" ] || bail "cannot move the extracted tree to $WPC"
    rm -rf "$DL"
fi
SRC="$WPC/usr/share/wordpress"
[ -f "$SRC/wp-settings.php" ] || bail "$SRC/wp-settings.php missing (a broken cache? remove $WPC)"


# wp_start_db: a private MariaDB (its own datadir and socket $DBSOCK in $T, no network) with a
# database wp for the user wp (password wp-db-pass); sql [ARGS] runs the client as root.
wp_start_db() {
    DBSOCK="$T/db.sock"
    ROOT_USER=()
    [ "$(id -u)" -eq 0 ] && ROOT_USER=(--user=root)
    "$INSTALL_DB" --no-defaults --datadir="$T/db" --auth-root-authentication-method=normal --skip-test-db \
        "${ROOT_USER[@]}" >"$T/db-install.log" 2>&1 || {
        cat "$T/db-install.log" >&2
        bail "mariadb-install-db failed"
    }
    "$MARIADBD" --no-defaults --datadir="$T/db" --socket="$DBSOCK" --pid-file="$T/db.pid" --skip-networking \
        --log-error="$T/db.err" --innodb-buffer-pool-size=16M --skip-log-bin "${ROOT_USER[@]}" 2>>"$T/db.err" &
    DB_PID=$!
    PIDS+=("$DB_PID")
    sql() { mariadb --no-defaults -S "$DBSOCK" -uroot -N -B "$@"; }
    db_up() { kill -0 "$DB_PID" 2>/dev/null && sql -e 'SELECT 1' >/dev/null 2>&1; }
    wait_until 30000 db_up || {
        cat "$T/db.err" >&2
        bail "mariadbd did not start"
    }
    sql -e "CREATE DATABASE wp; CREATE USER wp@localhost IDENTIFIED BY 'wp-db-pass'; GRANT ALL ON wp.* TO wp@localhost;" ||
        bail "creating the database failed"
}

# wp_png FILE: a 64x64 red PNG (GD makes no thumbnail of it)
wp_png() {
    python3 -c 'import struct, sys, zlib
w = h = 64
raw = b"".join(b"\x00" + b"\xcc\x22\x11" * w for _ in range(h))
def ch(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    + ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))' >"$1"
}

mkdir -p "$T/resp"
JAR="$T/cookies.txt"
# req NAME PATH [curl args]: body to $T/resp/NAME.body, headers (no CRs) to NAME.hdr; prints the
# status. Cookies: $CJAR if set, else $JAR. No Accept-Encoding unless given.
req() {
    local name=$1 path=$2 jar=${CJAR:-$JAR}
    shift 2
    curl -s --max-time 60 --path-as-is -c "$jar" -b "$jar" -D "$T/resp/$name.hdr" -o "$T/resp/$name.body" \
        -w '%{http_code}' "$@" "$(URL "$path")"
    sed -i 's/\r$//' "$T/resp/$name.hdr"
}
hdr() { header_value "$2" <"$T/resp/$1.hdr"; }
rbody() { cat "$T/resp/$1.body"; }
has() { grep -qF -- "$2" "$T/resp/$1.body"; } # has NAME FIXED-STRING
title() { grep -o '<title>[^<]*</title>' "$T/resp/$1.body" | head -1; }
gunzip_sha() { gzip -dc <"$T/resp/$1.body" 2>/dev/null | sha; }
json() { # json NAME PYTHON-EXPR-OVER-d: evaluate over the parsed body
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/resp/$1.body" "$2" 2>&1
}
