#!/usr/bin/env bash
# Chaos benchmark: how the gateway lives through upstream failures, three
# scenarios, each with a throwaway Apache (MPM event, one child, 32
# threads, Protocols h2c http/1.1, H2Direct on) in front of t/h2up/h2up,
# only module defaults besides what a scenario names:
#
#   restart    one upstream behind `H2GWPass /gw/ h2c://127.0.0.1:P/`;
#              sequential GETs (1 KiB, 1 s timeout, 20 ms apart) for
#              --duration seconds while every 4 s the upstream is
#              SIGKILLed and a new one started on the same port 200 ms
#              later. Failed GETs, and per restart the time from the new
#              upstream accepting (its port file, written after listen())
#              to the end of the first GET that succeeds (median, max; a
#              restart without any success before the next kill counts
#              as not recovered).
#   blackhole  two upstreams, `H2GWUpstream u h2c://P1 h2c://P2`,
#              `H2GWPass /gw/ upstream://u/`, `H2GWTimeout 2`; GETs (5 s
#              client timeout, --bh-client-timeout) for --bh-duration s; halfway the
#              upstream that served more requests so far is frozen
#              (SIGSTOP, until the end): its connection stays open and
#              silent. Failed GETs after the freeze, and those that
#              started more than 10 s after it.
#   idle-drop  one upstream; 20 times: GET, 1 s pause, SIGKILL and a new
#              instance on the same port, then a GET at once: (a) once
#              the new instance accepts, (b) "race": while it starts (the
#              GET goes out right after the kill). Failures of the GET
#              after each restart (and of the one before it).
#
# Usage (from anywhere; needs perl and curl, Apache 2.4 with mod_http2):
#   bench/chaos.sh --module PATH/mod_h2gw.so [--duration S] [--bh-duration S]
#                  [--upstream PATH/h2up] [--only "restart blackhole idle-drop"]
#                  [--bh-client-timeout S] [--rounds N] [--keep]
# --upstream defaults to this tree's t/h2up/h2up; --rounds repeats the
# idle-drop loop count (default 20). --keep keeps the scratch directory
# (configs, each scenario's Apache error_log, the raw per-request logs).
# Every process the script starts is stopped on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
MODULE=""
DURATION=40
BH_DURATION=30
BH_CLIENT_TIMEOUT=5
ROUNDS=20
UPSTREAM="$TOP/t/h2up/h2up"
ONLY="restart blackhole idle-drop"
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
    --module) MODULE=${2:?}; shift ;;
    --duration) DURATION=${2:?}; shift ;;
    --bh-duration) BH_DURATION=${2:?}; shift ;;
    --bh-client-timeout) BH_CLIENT_TIMEOUT=${2:?}; shift ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --upstream) UPSTREAM=${2:?}; shift ;;
    --only) ONLY=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[[ "$BH_CLIENT_TIMEOUT" =~ ^[0-9]+$ ]] && [ "$BH_CLIENT_TIMEOUT" -ge 3 ] && [ "$BH_CLIENT_TIMEOUT" -le 60 ] ||
    { echo "chaos.sh: --bh-client-timeout: 3 to 60" >&2; exit 2; }
[ -n "$MODULE" ] || { echo "chaos.sh: --module PATH is required" >&2; exit 2; }
[ -r "$MODULE" ] || { echo "chaos.sh: $MODULE not readable" >&2; exit 1; }
[ -x "$UPSTREAM" ] || { echo "chaos.sh: $UPSTREAM not built (make)" >&2; exit 1; }
for n in "$DURATION" "$BH_DURATION" "$ROUNDS"; do
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 8 ] && [ "$n" -le 600 ] ||
        { echo "chaos.sh: durations and rounds: 8 to 600" >&2; exit 2; }
done
for t in perl curl apxs; do
    command -v "$t" >/dev/null || { echo "chaos.sh: $t missing" >&2; exit 1; }
done
MODS=$(apxs -q LIBEXECDIR)
HTTPD="$(apxs -q SBINDIR)/$(apxs -q TARGET)"
W=$(mktemp -d /tmp/h2gw-chaos.XXXXXX)
chmod 755 "$W"
# The module is copied: a rebuild meanwhile does not change the run.
cp "$MODULE" "$W/mod_h2gw.so"
cp "$UPSTREAM" "$W/h2up"

AP_PID=""
DRIVER_PID=""
stop_apache() {
    [ -n "$AP_PID" ] || return 0
    kill -TERM "$AP_PID" 2>/dev/null || true
    local i
    for i in $(seq 100); do kill -0 "$AP_PID" 2>/dev/null || break; sleep 0.1; done
    # setsid made Apache the leader of its own process group: the group
    # is exactly its parent and child.
    kill -KILL -- "-$AP_PID" 2>/dev/null || true
    wait "$AP_PID" 2>/dev/null || true
    AP_PID=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$DRIVER_PID" ]; then
        kill -TERM "$DRIVER_PID" 2>/dev/null || true
        wait "$DRIVER_PID" 2>/dev/null || true
    fi
    stop_apache
    if [ "$KEEP" = 1 ]; then echo "kept: $W" >&2; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1",
        LocalPort => 0, Listen => 1)->sockport, "\n"'
}

# start_apache NAME "extra config lines": a fresh ServerRoot W/NAME.
start_apache() {
    local name=$1 extra=$2 d="$W/$1" user_line=""
    mkdir -p "$d/run" "$d/htdocs"
    chmod 755 "$d"
    AP_PORT=$(free_port)
    [ "$(id -u)" -eq 0 ] && user_line=$'User nobody\nGroup nogroup'
    cat > "$d/httpd.conf" <<CONF
ServerRoot "$d"
DefaultRuntimeDir "$d/run"
ServerName localhost
Listen 127.0.0.1:$AP_PORT
PidFile "$d/run/httpd.pid"
ErrorLog "$d/error_log"
LogLevel warn
$user_line
LoadModule mpm_event_module "$MODS/mod_mpm_event.so"
LoadModule authz_core_module "$MODS/mod_authz_core.so"
LoadModule http2_module "$MODS/mod_http2.so"
LoadModule h2gw_module "$W/mod_h2gw.so"
StartServers 1
ServerLimit 1
ThreadLimit 32
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 8
MaxSpareThreads 32
Protocols h2c http/1.1
H2Direct on
DocumentRoot "$d/htdocs"
<Directory />
    Require all granted
</Directory>
$extra
CONF
    "$HTTPD" -t -f "$d/httpd.conf" > "$d/configtest" 2>&1 ||
        { cat "$d/configtest" >&2; exit 1; }
    setsid "$HTTPD" -f "$d/httpd.conf" -DFOREGROUND < /dev/null > "$d/stdout" 2>&1 &
    AP_PID=$!
    local i
    for i in $(seq 100); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$AP_PORT/" && return 0
        kill -0 "$AP_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "chaos.sh: Apache did not start ($d/error_log)" >&2
    cat "$d/error_log" "$d/stdout" >&2 || true
    exit 1
}

# The driver: starts, kills and freezes the upstreams, runs the clients,
# prints the figures. It owns every upstream and client process; they
# also die with it (h2up --die-with-parent).
cat > "$W/driver.pl" <<'PERL'
use strict;
use warnings;
use Time::HiRes qw(time sleep);
use POSIX qw(WNOHANG);
use HTTP::Tiny;
use IO::Handle;

my ($scenario, $dir, $h2up, $ap_port, @rest) = @ARGV;
my %kids;    # pid => 1, everything forked here
sub reap_all {
    for my $pid (keys %kids) {
        kill 'KILL', $pid;    # SIGKILL also ends a SIGSTOPped process
        waitpid($pid, 0);
        delete $kids{$pid};
    }
}
$SIG{TERM} = $SIG{INT} = sub { reap_all(); exit 1 };
END { my $rc = $?; reap_all(); $? = $rc; }
alarm(900);    # bounded, whatever happens
$SIG{ALRM} = sub { print STDERR "driver: time limit\n"; reap_all(); exit 1 };

my $seq = 0;
# start_up(port, name): h2up on 127.0.0.1:port; returns {pid, up => the
# time its port file appeared (written after listen()), or undef}.
sub spawn_up {
    my ($port, $name) = @_;
    my $pf = "$dir/up-$name.port";
    unlink $pf;
    my $n = ++$seq;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        %kids = ();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/up-$name.out";
        open STDERR, '>&', \*STDOUT;
        exec $h2up, '--port', $port, '--port-file', $pf, '--quiet',
            '--die-with-parent', '--request-log', "$dir/up-$name.requests"
            or die "exec $h2up: $!";
    }
    $kids{$pid} = 1;
    return { pid => $pid, pf => $pf, name => $name, port => $port };
}
sub wait_up {
    my ($u) = @_;
    for (1 .. 2500) {    # 5 s
        if (-s $u->{pf}) { $u->{up} = time; return $u; }
        if (waitpid($u->{pid}, WNOHANG) == $u->{pid}) {
            delete $kids{$u->{pid}};
            die "h2up $u->{name} exited at once (status $?), see $dir/up-$u->{name}.out\n";
        }
        sleep 0.002;
    }
    die "h2up $u->{name} did not start\n";
}
sub start_up { wait_up(spawn_up(@_)) }
sub kill_up {
    my ($u, $sig) = @_;
    kill $sig // 'KILL', $u->{pid};
    waitpid($u->{pid}, 0);
    delete $kids{$u->{pid}};
}

my $url = "http://127.0.0.1:$ap_port/gw/data?size=1024";
sub get {
    my ($timeout) = @_;
    my $t0 = time;
    my $r = HTTP::Tiny->new(timeout => $timeout, keep_alive => 0)->get($url);
    my $st = $r->{status};
    $st = 599 if $st == 200 && length($r->{content} // '') != 1024;
    return ($t0, time, $st, $st == 599 ? ($r->{content} // '') : '');
}
sub warmup {
    for (1 .. 50) {
        my (undef, undef, $st) = get(2);
        return if $st == 200;
        sleep 0.1;
    }
    die "no GET through the gateway succeeds (see the error_log)\n";
}
# Sequential GETs, 20 ms apart, until $until; one line each to $log.
sub client {
    my ($until, $timeout, $log) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        %kids = ();
        $SIG{TERM} = $SIG{INT} = 'DEFAULT';
        open my $fh, '>', $log or die "$log: $!";
        $fh->autoflush(1);
        while (time < $until) {
            my ($t0, $t1, $st, $why) = get($timeout);
            $why =~ s/\s+/ /g;
            printf $fh "%.6f %.6f %d %s\n", $t0, $t1, $st, substr($why, 0, 80);
            sleep 0.02;
        }
        POSIX::_exit(0);
    }
    $kids{$pid} = 1;
    return $pid;
}
sub count_lines {
    my ($f) = @_;
    open my $h, '<', $f or return 0;
    my $n = 0;
    $n++ while defined(my $l = <$h>);    # not $_: map aliases it
    return $n;
}
sub nap { my ($s) = @_; sleep($s) if $s > 0 }
sub wait_kid { my ($pid) = @_; waitpid($pid, 0); delete $kids{$pid}; }
sub read_log {
    my ($log) = @_;
    open my $fh, '<', $log or die "$log: $!";
    my @r;
    local $_;
    while (<$fh>) {
        my ($t0, $t1, $st, $why) = /^(\S+) (\S+) (\d+) ?(.*)$/ or next;
        push @r, { t0 => $t0, t1 => $t1, st => $st, why => $why };
    }
    return @r;
}
sub statuses {
    my %c;
    $c{$_->{st}}++ for grep { $_->{st} != 200 } @_;
    return join(', ', map { "$_: $c{$_}" } sort keys %c) || 'none';
}
sub median {
    my @s = sort { $a <=> $b } @_;
    return undef unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}
sub ms { defined $_[0] ? sprintf('%.0f', $_[0] * 1000) : 'n/a' }

if ($scenario eq 'restart') {
    my ($port, $duration) = @rest;
    my $up = start_up($port, 'r0');
    warmup();
    my $t_start = time;
    my $end = $t_start + $duration;
    my $cl = client($end, 1, "$dir/requests.log");
    my @restarts;    # { kill, up }
    for (my $k = 1; $t_start + 4 * $k <= $end - 2; $k++) {
        my $at = $t_start + 4 * $k;
        nap($at - time);
        my $tk = time;
        kill_up($up);
        nap($tk + 0.2 - time);
        $up = start_up($port, "r$k");
        push @restarts, { kill => $tk, up => $up->{up} };
    }
    wait_kid($cl);
    my @r = read_log("$dir/requests.log");
    my @fail = grep { $_->{st} != 200 } @r;
    my (@rec, $unrec);
    for my $i (0 .. $#restarts) {
        my $next = $i < $#restarts ? $restarts[$i + 1]{kill} : $end + 1;
        my ($first) = grep { $_->{st} == 200 && $_->{t1} > $restarts[$i]{up}
                             && $_->{t1} < $next } @r;
        if ($first) { push @rec, $first->{t1} - $restarts[$i]{up} }
        else { $unrec++ }
        $restarts[$i]{rec} = $first ? $first->{t1} - $restarts[$i]{up} : undef;
        $restarts[$i]{fails} = scalar grep {
            $_->{t0} >= $restarts[$i]{kill} && $_->{t0} < $next && $_->{st} != 200 } @r;
    }
    # The longest time without a successful GET.
    my ($gap, $last) = (0, $t_start);
    for (grep { $_->{st} == 200 } @r) { $gap = $_->{t1} - $last if $_->{t1} - $last > $gap; $last = $_->{t1} }
    $gap = $end - $last if $end - $last > $gap;
    printf "restart: duration %d s, %d restarts (kill -> new up: median %s ms)\n",
        $duration, scalar @restarts, ms(median(map { $_->{up} - $_->{kill} } @restarts));
    printf "restart: GETs sent %d, failed %d (%s)\n", scalar @r, scalar @fail, statuses(@r);
    printf "restart: recovery (new upstream up -> first 200) median %s ms, max %s ms, over %d restarts; not recovered before the next kill: %d\n",
        ms(median(@rec)), ms(@rec ? (sort { $b <=> $a } @rec)[0] : undef), scalar @rec, $unrec // 0;
    printf "restart: per restart recovery ms (failed GETs): %s\n",
        join(' ', map { (defined $_->{rec} ? ms($_->{rec}) : 'none') . "($_->{fails})" } @restarts);
    printf "restart: longest time without a successful GET: %s ms\n", ms($gap);
    printf "RESULT restart sent=%d failed=%d rec_median_ms=%s rec_max_ms=%s unrecovered=%d restarts=%d\n",
        scalar @r, scalar @fail, ms(median(@rec)),
        ms(@rec ? (sort { $b <=> $a } @rec)[0] : undef), $unrec // 0, scalar @restarts;
}
elsif ($scenario eq 'blackhole') {
    my ($p1, $p2, $duration, $ctimeout) = @rest;
    my @ups = (start_up($p1, 'b1'), start_up($p2, 'b2'));
    warmup();
    my $t_start = time;
    my $end = $t_start + $duration;
    my $cl = client($end, $ctimeout, "$dir/requests.log");
    nap($t_start + $duration / 2 - time);
    my @served = map { count_lines("$dir/up-$_->{name}.requests") } @ups;
    my $victim = $served[1] > $served[0] ? 1 : 0;
    my $t_freeze = time;
    kill 'STOP', $ups[$victim]{pid};
    wait_kid($cl);
    my @after_served = map { count_lines("$dir/up-$_->{name}.requests") } @ups;
    my @r = read_log("$dir/requests.log");
    my @fail = grep { $_->{st} != 200 } @r;
    my @fa = grep { $_->{t1} >= $t_freeze } @fail;
    my @late = grep { $_->{t0} > $t_freeze + 10 } @fail;
    my ($last_fail) = sort { $b <=> $a } map { $_->{t1} - $t_freeze } @fa;
    my @after = grep { $_->{t0} >= $t_freeze } @r;
    printf "blackhole: duration %d s, client timeout %d s, frozen at %.1f s: upstream %s (served %d, the other %d before the freeze)\n",
        $duration, $ctimeout, $t_freeze - $t_start, $ups[$victim]{name}, $served[$victim], $served[1 - $victim];
    printf "blackhole: GETs sent %d, failed %d (%s); after the freeze: sent %d, failed %d, started > 10 s after it: %d failed\n",
        scalar @r, scalar @fail, statuses(@r), scalar @after, scalar @fa, scalar @late;
    printf "blackhole: failures (s after the freeze when the GET ended: status, its duration s): %s\n",
        join(' ', map { sprintf('%.1f:%d/%.1f', $_->{t1} - $t_freeze, $_->{st}, $_->{t1} - $_->{t0}) } @fa) || 'none';
    printf "blackhole: requests served after the freeze: live upstream %d\n",
        $after_served[1 - $victim] - $served[1 - $victim];
    printf "RESULT blackhole sent=%d failed=%d failed_after_freeze=%d failed_late=%d last_fail_s=%s\n",
        scalar @r, scalar @fail, scalar @fa, scalar @late,
        defined $last_fail ? sprintf('%.1f', $last_fail) : 'n/a';
}
elsif ($scenario eq 'idle-drop') {
    my ($port, $rounds, $race) = @rest;
    my $v = $race ? 'idle-drop-race' : 'idle-drop';
    my $up = start_up($port, 'i0');
    warmup();
    my (@pre, @post);
    open my $lf, '>', "$dir/requests-$v.log" or die;
    for my $i (1 .. $rounds) {
        my @a = get(5);
        push @pre, \@a;
        sleep 1;
        kill_up($up);
        if ($race) {
            $up = spawn_up($port, "i$i");
            my @b = get(5);
            push @post, \@b;
            wait_up($up);
        } else {
            $up = start_up($port, "i$i");
            my @b = get(5);
            push @post, \@b;
        }
        printf $lf "%d pre %d %.0fms post %d %.0fms %s\n", $i, $pre[-1][2],
            ($pre[-1][1] - $pre[-1][0]) * 1000, $post[-1][2],
            ($post[-1][1] - $post[-1][0]) * 1000, $post[-1][3];
    }
    my @pf = grep { $_->[2] != 200 } @post;
    my @bf = grep { $_->[2] != 200 } @pre;
    my %c; $c{$_->[2]}++ for @pf;
    printf "%s: %d rounds; GET right after the restart failed %d (%s), max latency %s ms; GET before (1 s after the previous restart) failed %d\n",
        $v, $rounds, scalar @pf, join(', ', map { "$_: $c{$_}" } sort keys %c) || 'none',
        ms((sort { $b <=> $a } map { $_->[1] - $_->[0] } @post)[0]), scalar @bf;
    printf "RESULT %s rounds=%d post_failed=%d pre_failed=%d\n", $v, $rounds, scalar @pf, scalar @bf;
}
else { die "unknown scenario $scenario\n" }
PERL

run_driver() {
    perl "$W/driver.pl" "$@" &
    DRIVER_PID=$!
    local rc=0
    wait "$DRIVER_PID" || rc=$?
    DRIVER_PID=""
    return $rc
}
apache_log_summary() {  # the error_log's lines, message ids counted
    local log="$W/$1/error_log"
    [ -s "$log" ] || { echo "  (error_log empty)"; return; }
    echo "  error_log: $(wc -l < "$log") lines; by message:"
    sed -E 's/^\[[^]]*\] //; s/\[pid [^]]*\] //; s/\[client [^]]*\] //; s/\b[0-9]+(\.[0-9]+)*\b/N/g' "$log" |
        cut -c1-150 | sort | uniq -c | sort -rn | head -8 | sed 's/^/  /'
}

echo "chaos.sh: module $MODULE ($(md5sum < "$MODULE" | cut -c1-12)), upstream $UPSTREAM"
T0=$(date +%s)
for s in $ONLY; do
    case "$s" in
    restart)
        P=$(free_port)
        start_apache restart "H2GWPass /gw/ h2c://127.0.0.1:$P/"
        mkdir -p "$W/restart/drv"
        run_driver restart "$W/restart/drv" "$W/h2up" "$AP_PORT" "$P" "$DURATION"
        stop_apache
        apache_log_summary restart
        ;;
    blackhole)
        P1=$(free_port); P2=$(free_port)
        while [ "$P2" = "$P1" ]; do P2=$(free_port); done
        start_apache blackhole "H2GWTimeout 2
H2GWUpstream u h2c://127.0.0.1:$P1 h2c://127.0.0.1:$P2
H2GWPass /gw/ upstream://u/"
        mkdir -p "$W/blackhole/drv"
        run_driver blackhole "$W/blackhole/drv" "$W/h2up" "$AP_PORT" "$P1" "$P2" "$BH_DURATION" "$BH_CLIENT_TIMEOUT"
        stop_apache
        apache_log_summary blackhole
        ;;
    idle-drop)
        for race in 0 1; do
            n=idle-drop; [ "$race" = 1 ] && n=idle-drop-race
            P=$(free_port)
            start_apache "$n" "H2GWPass /gw/ h2c://127.0.0.1:$P/"
            mkdir -p "$W/$n/drv"
            run_driver idle-drop "$W/$n/drv" "$W/h2up" "$AP_PORT" "$P" "$ROUNDS" "$race"
            stop_apache
            apache_log_summary "$n"
        done
        ;;
    *) echo "chaos.sh: unknown scenario $s" >&2; exit 2 ;;
    esac
done
echo "chaos.sh: done in $(( $(date +%s) - T0 )) s"
