# A connection that goes silent without closing (a frozen server, a
# blackholed path) is found out: a request that times out waiting for
# headers makes the engine PING its connection; without an ACK within
# connect-timeout the connection is dropped and the server marked down,
# so later requests are not sent into it; once the server answers again,
# requests succeed. Counts, not timings.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(sleep);
use H2GW::Test;
use H2GW::Upstream;

plan tests => 9;

my $port = $ENV{H2GW_FROZEN_PORT};
my $up = H2GW::Upstream::start(name => 'frozen', port => $port);
END { if ($up) { kill 'CONT', $up->{pid}; H2GW::Upstream::stop($up->{pid}) } }

sub server { gw_status('frozen')->{servers}[0] }

my $first = req(proto => 'h1', url => gw_url('/frozen/data?size=10'));
ok t_cmp($first->{code}, 200, "the upstream answers while it runs");
my $before = server();

kill 'STOP', $up->{pid};
my $mark = error_log_mark();
my $res = req(proto => 'h1', url => gw_url('/frozen/data?size=10'), args => ['--max-time', '20']);
ok t_cmp($res->{code}, 504, "frozen upstream: no response headers within timeout=1 → 504");

# The PING goes out with the timeout; its deadline is connect-timeout.
my $sv;
for (1 .. 100) {
    $sv = server();
    last if $sv->{conns_failed} > $before->{conns_failed};
    sleep 0.1;
}
ok t_cmp($sv->{pings_sent} - $before->{pings_sent}, 1, "the timeout made the engine PING the connection");
ok t_cmp($sv->{conns_failed} - $before->{conns_failed}, 1, "no PING ACK: the server is counted as failed");
ok t_cmp($sv->{conns_open} + $sv->{conns_draining}, 0, "... and the silent connection is dropped");
my $log = error_log_since($mark);
ok t_cmp($log =~ /H2GW00313: no PING ACK.*\n(?s:.*)H2GW00105: upstream frozen: server h2c:\/\/127\.0\.0\.1:$port is down \(no response and no PING ACK\)/ ? 1 : 0, 1,
         "the log says the PING went unanswered and the server is down");

# While it stays frozen, requests fail without being sent into it.
my @codes = map { req(proto => 'h1', url => gw_url('/frozen/data?size=10'), args => ['--max-time', '20'])->{code} } 1 .. 4;
my $after = server();
ok t_cmp(scalar(grep { $_ == 200 } @codes), 0, "frozen: 4 more requests fail (@codes)");
ok t_cmp($after->{requests} - $sv->{requests}, 0, "... none of them was sent to the frozen upstream");

# Thawed: the next requests get through (on a new connection).
kill 'CONT', $up->{pid};
my $ok;
for (1 .. 40) {
    $res = req(proto => 'h1', url => gw_url('/frozen/data?size=10'), args => ['--max-time', '20']);
    last if $ok = $res->{code} == 200;
    sleep 0.25;
}
ok t_cmp($ok && $res->{hdr}{'x-h2up-conn'} ne $first->{hdr}{'x-h2up-conn'} ? 1 : 0, 1,
         "thawed: requests succeed again, on a new connection");
H2GW::Upstream::stop($up->{pid});
$up = undef;
