# Sourced by bench/interactive.sh and bench/nghttpd.sh: a scratch
# directory that goes on exit with every process started (PIDS), and one
# throwaway Apache carrying both proxies side by side, mod_h2gw on /gw/
# and mod_proxy_http2 on /mp/, in front of one upstream. Needs apxs and
# curl, a built .libs/mod_h2gw.so, and KEEP (1: keep the scratch).
MODS=$(apxs -q LIBEXECDIR)
HTTPD="$(apxs -q SBINDIR)/$(apxs -q TARGET)"
PIDS=()

# scratch NAME: the directory W, removed on exit with what PIDS holds.
scratch() {
    W=$(mktemp -d "/tmp/h2gw-$1.XXXXXX")
    chmod 755 "$W"
    mkdir -p "$W/run" "$W/htdocs"
    trap cleanup EXIT
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept: $W" >&2; else rm -rf "$W"; fi
}
free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1",
        LocalPort => 0, Listen => 1)->sockport, "\n"'
}

# start_two_proxies UP_PORT [EXTRA_CONF]: sets AP_PORT and AP_PID once
# Apache answers. MPM event, one child of 64 threads, h2c and HTTP/1.1;
# the module is copied, so a rebuild cannot change it under the run.
start_two_proxies() {
    local up=$1 extra=${2:-} user_line="" i
    AP_PORT=$(free_port)
    [ "$(id -u)" -eq 0 ] && user_line=$'User nobody\nGroup nogroup'
    cp .libs/mod_h2gw.so "$W/mod_h2gw.so"
    cat > "$W/httpd.conf" <<CONF
ServerRoot "$W"
DefaultRuntimeDir "$W/run"
ServerName localhost
Listen 127.0.0.1:$AP_PORT
PidFile "$W/run/httpd.pid"
ErrorLog "$W/error_log"
LogLevel warn
$user_line
LoadModule mpm_event_module "$MODS/mod_mpm_event.so"
LoadModule authz_core_module "$MODS/mod_authz_core.so"
LoadModule http2_module "$MODS/mod_http2.so"
LoadModule proxy_module "$MODS/mod_proxy.so"
LoadModule proxy_http2_module "$MODS/mod_proxy_http2.so"
LoadModule h2gw_module "$W/mod_h2gw.so"
StartServers 1
ServerLimit 1
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 64
Protocols h2c http/1.1
H2Direct on
DocumentRoot "$W/htdocs"
<Directory />
    Require all granted
</Directory>
$extra
H2GWPass /gw/ h2c://127.0.0.1:$up/
ProxyPass /mp/ h2c://127.0.0.1:$up/ enablereuse=on
CONF
    # In a session of its own, as a daemon runs (see bench/run.sh).
    setsid "$HTTPD" -f "$W/httpd.conf" -DFOREGROUND < /dev/null > "$W/stdout" 2>&1 &
    AP_PID=$!
    PIDS+=($AP_PID)
    for i in $(seq 100); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$AP_PORT/" && return 0
        sleep 0.1
    done
    cat "$W/stdout" "$W/error_log" >&2 2>/dev/null || true
    echo "Apache did not start (config $W/httpd.conf)" >&2
    exit 1
}
