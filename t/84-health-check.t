# Active health checks: a failing check path takes a server out after
# health-fails checks (no request reaches it), fewer passes than
# health-passes keep it out; killed or frozen, a server is out by its checks
# before a request finds it; a gRPC health service flips its server.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(sleep);
use H2GW::Test;
use H2GW::Upstream;

my $py = '/usr/bin/python3';
system("$py -c 'import grpc' 2>/dev/null") == 0
    or die "python3-grpcio is not installed (tools/deps.sh installs it)\n";
plan tests => 41;

my $vars = Apache::Test::vars();
my ($p1, $p2, $pg) = @ENV{qw(H2GW_HC1_PORT H2GW_HC2_PORT H2GW_HC_GRPC_PORT)};
my %up = (hc1 => H2GW::Upstream::start(name => 'hc1', port => $p1),
          hc2 => H2GW::Upstream::start(name => 'hc2', port => $p2));
my ($gpid, $runner) = (0, $$);
END {
    if ($$ == $runner) {
        kill 'CONT', map { $_->{pid} } grep { $_ } values %up;
        H2GW::Upstream::stop(map { $_->{pid} } grep { $_ } values %up);
        kill 'TERM', $gpid if $gpid;
    }
}

# Server i (0: hc1, 1: hc2) of an upstream, from the status page.
sub server { gw_status($_[1] // 'hc')->{servers}[$_[0]] }

# Polls cond until it holds; the bound only guards against a hang (a
# check runs every 0.2 s here).
sub wait_for {
    my ($cond) = @_;
    for (1 .. 600) {
        return 1 if $cond->();
        sleep 0.05;
    }
    return 0;
}

sub in_rotation { my $s = server(@_); $s->{health} eq 'up' && $s->{health_check} eq 'up' }
sub seen { up_stats_at($_[0], $_[1])->{seen} // 0 }
sub set_switch {
    my ($port, $q) = @_;
    `curl -sS -o /dev/null --http2-prior-knowledge 'http://127.0.0.1:$port/ctl?switch=hc&$q'`;
}
sub get { req(proto => 'h1', url => gw_url("/hc/data?size=10&tag=$_[0]"))->{code} }

# ---- Both servers pass ----------------------------------------------------
ok t_cmp(wait_for(sub { in_rotation(0) && in_rotation(1) }), 1,
         "both servers pass their checks: in rotation");
my $s2 = server(1);
ok t_cmp($s2->{health_check_last}, 'passed', "the last check of hc2 passed");
ok t_cmp(seen($p2, 'hc') > 0 && $s2->{checks} > 0 ? 1 : 0, 1,
         "checks are counted on both sides (status page checks, upstream saw the check path)");
ok t_cmp($s2->{requests}, 0, "checks are not counted as requests");

my $t = tag();
my @codes = map { get($t) } 1 .. 10;
ok t_cmp(join(' ', @codes), join(' ', ('200') x 10), "10 requests: all 200");
ok t_cmp(seen($p1, $t) . '/' . seen($p2, $t), '5/5', "... spread over both servers (round robin)");

# ---- The check path fails: out after health-fails checks ------------------
my $mark = error_log_mark();
my $before = server(1);
set_switch($p2, 'switch_set=503');
ok t_cmp(wait_for(sub { server(1)->{health_check} eq 'down' }), 1,
         "hc2's check answers 503: out by health check");
$s2 = server(1);
ok t_cmp($s2->{checks_failed} - $before->{checks_failed} >= 2 ? 1 : 0, 1,
         "... after at least health-fails=2 failed checks");
ok t_cmp($s2->{health}, 'down', "... so the server is down on the status page");
ok t_cmp($s2->{health_check_last}, 'failed: status 503', "... the last check says why");
ok t_cmp(error_log_since($mark) =~ /H2GW00108: upstream hc: server h2c:\/\/127\.0\.0\.1:$p2 is down by health check \(status 503; 2 failed in a row\)/ ? 1 : 0, 1,
         "one log line: down by health check, with the reason and the count");
ok t_cmp(in_rotation(0) ? 1 : 0, 1, "hc1 stays in rotation");

$t = tag();
@codes = map { get($t) } 1 .. 20;
ok t_cmp(join(' ', @codes), join(' ', ('200') x 20), "20 requests while hc2 is out: all 200");
ok t_cmp(seen($p1, $t) . '/' . seen($p2, $t), '20/0', "... all on hc1, none reached hc2");
ok t_cmp(server(1)->{requests}, $before->{requests}, "... and the gateway sent none to hc2");

# ---- Fewer passes than health-passes=3 do not bring it back ---------------
# Two checks answered 200, then 503 again: hc2 must stay out, and no
# client request may reach it, however the checks and requests interleave.
$t = tag();
set_switch($p2, 'switch_set=200&switch_next=2');
my $seen0 = seen($p2, 'hc');
my $down_all_along = 1;
wait_for(sub {
    get($t);
    $down_all_along = 0 if server(1)->{health_check} ne 'down';
    # Four checks since: the two passes and two failures after them.
    seen($p2, 'hc') >= $seen0 + 4;
});
ok t_cmp($down_all_along, 1, "two passing checks (health-passes=3): hc2 stayed out");
ok t_cmp(server(1)->{health_check_last}, 'failed: status 503', "... and fails again after them");
ok t_cmp(seen($p2, $t), 0, "... no client request reached it meanwhile");

# ---- health-passes in a row bring it back --------------------------------
$mark = error_log_mark();
set_switch($p2, 'switch_set=200');
ok t_cmp(wait_for(sub { in_rotation(1) }), 1, "hc2's check answers 200 again: back in rotation");
ok t_cmp(error_log_since($mark) =~ /H2GW00109: upstream hc: server h2c:\/\/127\.0\.0\.1:$p2 is up again by health check \(3 passed in a row\)/ ? 1 : 0, 1,
         "one log line: up again after health-passes=3 passed checks");
$t = tag();
get($t) for 1 .. 10;
ok t_cmp(seen($p1, $t) . '/' . seen($p2, $t), '5/5', "requests reach both servers again");

# ---- A killed server is out before a request finds it ---------------------
$before = server(1);
kill 'KILL', $up{hc2}{pid};
waitpid($up{hc2}{pid}, 0);
delete $up{hc2};
ok t_cmp(wait_for(sub { my $s = server(1); $s->{health} eq 'down' && $s->{health_check} eq 'down' }), 1,
         "hc2 killed: its checks find it out, before any request was sent");
$s2 = server(1);
ok t_cmp($s2->{health_check_last} =~ /^failed: (connect failed \(Connection refused\)|upstream connection lost)/ ? 1 : 0, 1,
         "... the last check says why ($s2->{health_check_last})");
$t = tag();
@codes = map { get($t) } 1 .. 20;
ok t_cmp(join(' ', @codes), join(' ', ('200') x 20), "20 requests after the kill: all 200");
ok t_cmp(seen($p1, $t), 20, "... all answered by hc1");
ok t_cmp(server(1)->{requests}, $before->{requests}, "... none was tried on hc2");
$up{hc2} = H2GW::Upstream::start(name => 'hc2', port => $p2);
ok t_cmp(wait_for(sub { in_rotation(1) }), 1, "hc2 restarted: back in rotation by its checks (not retry=30)");

# ---- Status page and the leak check ----------------------------------------
my $html = `curl -sS '${\ gw_url('/h2gw-status')}'`;
ok t_cmp($html =~ /<th>health check<\/th>/ && $html =~ /<td>up: passed \(\d+ passed in a row\)<\/td>/ ? 1 : 0, 1,
         "the HTML status page shows each server's check state");
my $st = gw_status();
ok t_cmp($st->{checks_alive} <= 3 ? 1 : 0, 1, "at most one check in flight per checked server ($st->{checks_alive})");
ok t_cmp(alive_when_idle(), '0/0', "checks are not request streams: none alive when idle, no chunks");

# ---- gRPC: grpc.health.v1.Health/Check -------------------------------------
my $bin = "$vars->{serverroot}/grpc";
$gpid = open(my $gfh, '-|', $py, "$bin/grpc_server.py", '--port', $pg,
             '--events', "$vars->{t_logs}/grpc-hc-events")
    // die "cannot start the gRPC server: $!";
my $ready = <$gfh>;
die "the gRPC server did not start\n" unless ($ready // '') =~ /ready/;
sub grpc_control {
    my $out = `$py $bin/grpc_client.py 127.0.0.1:$pg h2gw.test.HealthControl unary '$_[0]' 2>&1`;
    return $out =~ /"response": "([^"]*)"/ ? $1 : "failed: $out";
}
ok t_cmp(wait_for(sub { in_rotation(0, 'hcgrpc') }), 1, "gRPC server SERVING: in rotation");
ok t_cmp(grpc_control('h2gw.test.Echo') =~ /^[1-9]\d*$/ ? 1 : 0, 1, "... the server was asked about h2gw.test.Echo");

$mark = error_log_mark();
grpc_control('h2gw.test.Echo=NOT_SERVING');
ok t_cmp(wait_for(sub { server(0, 'hcgrpc')->{health_check} eq 'down' }), 1, "NOT_SERVING: out by health check");
ok t_cmp(error_log_since($mark) =~ /H2GW00108: upstream hcgrpc: server h2c:\/\/127\.0\.0\.1:$pg is down by health check \(NOT_SERVING; 2 failed in a row\)/ ? 1 : 0, 1,
         "... logged with the reason");
my $gb = gw_status('hcgrpc');
my $res = req(proto => 'h1', url => gw_url('/hcgrpc/x'));
my $ga = gw_status('hcgrpc');
ok t_cmp($res->{code} == 503 && $ga->{all_down} - $gb->{all_down} == 1 ? 1 : 0, 1,
         "its only server out by check: a request gets 503 at once");
ok t_cmp($ga->{probes} - $gb->{probes}, 0, "... without a probe of it (its checks tell when it is back)");

grpc_control('h2gw.test.Echo=SERVING');
ok t_cmp(wait_for(sub { in_rotation(0, 'hcgrpc') }), 1, "SERVING again: back in rotation");

# ---- A server that stops answering: its checks time out ------------------
# (health-timeout: connect-timeout, H2GWConnectTimeout 3.)
$mark = error_log_mark();
$before = server(0);
kill 'STOP', $up{hc1}{pid};
ok t_cmp(wait_for(sub { server(0)->{health_check} eq 'down' }), 1,
         "hc1 frozen (SIGSTOP): out by health check");
# A check that timed out PINGs its connection; the next one waits for the
# ACK on it and is lost with it when none comes.
my $s1 = server(0);
ok t_cmp($s1->{pings_sent} > $before->{pings_sent}
         && $s1->{health_check_last} =~ /^failed: (timeout \(no complete answer within 3000 ms\)|upstream connection lost \(no PING ACK\))$/ ? 1 : 0, 1,
         "... its checks timed out, and its connection was PINGed ($s1->{health_check_last})");
ok t_cmp(error_log_since($mark) =~ /H2GW00108: upstream hc: server h2c:\/\/127\.0\.0\.1:$p1 is down by health check \(timeout \(no complete answer within 3000 ms\); 2 failed in a row\)/ ? 1 : 0, 1,
         "... logged with the reason");
kill 'CONT', $up{hc1}{pid};
ok t_cmp(wait_for(sub { in_rotation(0) }), 1, "thawed: back in rotation");

# Stopped here, not left to END: the pipe's implicit close waits for it.
kill 'TERM', $gpid;
close $gfh;
$gpid = 0;
