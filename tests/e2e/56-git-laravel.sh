#!/usr/bin/env bash
# A Laravel application deployed by git push: tests/fixtures/laravel-app (Laravel 8 from
# Debian's php-laravel-framework, no Composer) with `fastcgi_preset = laravel` (shared: storage
# and .env) and `git_subdir = public`. git_then runs `php artisan config:cache` with
# git_env_file's variables, so the page shows a value php-fpm never had in its environment;
# shared/.env (written once, by hand) and shared/storage (a counter the application keeps) survive
# deploys; the env file is read again at each deploy; .env and the env file are never served;
# git_check = /up 204 gates each deploy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

[ -f /usr/share/php/Illuminate/autoload.php ] || skip_all "php-laravel-framework is not installed"
start_fpm laravel "$T/fpm.sock"

new_remote app main
cp -r "$SRCDIR/tests/fixtures/laravel-app/." "$T/app.work/" || bail "copying the fixture failed"
put app release.txt l1
push app "l1"

SECRET=laravel-hook-secret
printf '%s\n' '# secrets for the build step' 'WHARF_GREETING="hello from the env file"' >"$T/app.env"
new_port
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site app]
root = $T/app
git_subdir = public
fastcgi = unix:$T/fpm.sock
fastcgi_preset = laravel
git_repo = $T/app.git
git_interval = 1h
git_hook = /_hook
git_secret = $SECRET
git_status = /_status
git_env_file = $T/app.env
git_then = php artisan config:cache
git_check = /up 204
EOF
start_wharf_ini "$T/wharf.ini"
STATE=$(state_of "$T/app")
wait_until 60000 eval '[[ "$(body /)" == *"release=l1"* ]]'
is "$(body /)" "app=unnamed greeting=hello from the env file release=l1 cached=yes" \
    "l1: the page shows git_env_file's value, baked in by git_then's config:cache"
like "$(cat "$T/wharf.err")" "Configuration cached successfully" "git_then's artisan output is in the log"
like "$(cat "$T/wharf.err")" "git_check passed on ${SHA:0:12} before the switch" "l1 passed the gate (/up 204)"
REL=$(live_name "$T/app")
ok $([ -L "$STATE/releases/$REL/storage" ] && [ -L "$STATE/releases/$REL/.env" ] && echo 0 || echo 1) \
    "the release links storage and .env into shared/"
ok $([ -f "$STATE/shared/.env" ] && [ ! -s "$STATE/shared/.env" ] && echo 0 || echo 1) \
    "the first deploy created an empty shared/.env"
ok $([ -f "$STATE/shared/storage/logs/.gitignore" ] && echo 0 || echo 1) \
    "shared/storage was seeded from the commit's skeleton"
is "$(body /paths)" "$STATE/releases/$REL/storage/framework/views exists" \
    "config:cache ran at the release's final path: the paths it wrote down exist"
is "$(status /no-such-page)" 404 "an unknown page is Laravel's 404"
is "$(body /count)" 1 "the application counts in storage/app: 1"
is "$(body /count)" 2 "the application counts in storage/app: 2"

# ---- settings in shared/.env, a changed env file, two more deploys ------------------------------------
printf 'APP_NAME=SharedEnvApp\n' >"$STATE/shared/.env"
deploy_release() { # deploy_release N: release.txt = lN, push, webhook, wait until live
    put app release.txt "l$1"
    push app "l$1"
    [ "$(push_hook)" = 202 ] || bail "the push webhook was not accepted"
    wait_until 60000 eval "[[ \"\$(body /)\" == *\"release=l$1\"* ]]"
}
deploy_release 2
is "$(body /)" "app=SharedEnvApp greeting=hello from the env file release=l2 cached=yes" \
    "l2: config:cache read shared/.env through the release's link"
is "$(body /count)" 3 "l2: storage survived the deploy (the counter goes on: 3)"
printf '%s\n' 'WHARF_GREETING="a new greeting"' >"$T/app.env"
deploy_release 3
is "$(body /)" "app=SharedEnvApp greeting=a new greeting release=l3 cached=yes" \
    "l3: the env file is read again at each deploy"
is "$(body /count)" 4 "l3: the counter goes on: 4"
is "$(cat "$STATE/shared/.env")" "APP_NAME=SharedEnvApp" "shared/.env is untouched by the deploys"

# ---- never served -------------------------------------------------------------------------------------
is "$(status /.env)" 404 "/.env is 404"
is "$(status /../.env)" 404 "/../.env is 404"
is "$(status /storage/app/count.txt)" 404 "storage/ is outside the root (public/)"
grep -rqF "a new greeting" "$STATE/releases" --include='*.env' --include='app.env'
ok $((!$?)) "the env file is never copied into a release"
finish
