# Recovery when every server of an upstream is down: one request at a
# time still tries a connection (a probe) instead of failing for all of
# retry=, so a restarted upstream is used again by the first request;
# a probe that fails is a 503, and requests arriving while a probe is in
# flight wait for it without another connect (503 with it when it fails).
# retry=0 is allowed.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use H2GW::Upstream;

plan tests => 11;

my $port = $ENV{H2GW_FROZEN_PORT};
my $up = H2GW::Upstream::start(name => 'restart', port => $port);
END { H2GW::Upstream::stop($up->{pid}) if $up }

sub pool { gw_status('restart') }
sub opened { pool()->{servers}[0]{conns_opened} }

my $res = req(proto => 'h1', url => gw_url('/restart/data?size=10'));
ok t_cmp($res->{code}, 200, "the upstream answers");

H2GW::Upstream::stop($up->{pid});
$up = undef;
$res = req(proto => 'h1', url => gw_url('/restart/data?size=10'));
ok t_cmp($res->{code}, 503, "upstream stopped: connect refused → 503");
ok t_cmp(pool()->{servers}[0]{health}, 'down', "... and its only server is down (retry=30)");

my $before = pool();
$res = req(proto => 'h1', url => gw_url('/restart/data?size=10'));
my $after = pool();
ok t_cmp($res->{code}, 503, "every server down, the probe's connect refused → 503");
ok t_cmp($after->{servers}[0]{conns_opened} - $before->{servers}[0]{conns_opened}, 1,
         "... after one connect attempt (the probe)");
ok t_cmp($after->{probes} - $before->{probes}, 1, "the status page counts the probe");

$up = H2GW::Upstream::start(name => 'restart', port => $port);
$res = req(proto => 'h1', url => gw_url('/restart/data?size=10'));
ok t_cmp($res->{code}, 200, "restarted upstream: the first request gets through (not 503 for retry=30)");
ok t_cmp(pool()->{servers}[0]{health}, 'up', "... and the server is up again");

# A server that accepts TCP but never speaks HTTP/2: the probe waits for
# settings-timeout=2; the requests arriving meanwhile do not each open a
# connection.
H2GW::Upstream::stop($up->{pid});
req(proto => 'h1', url => gw_url('/restart/data?size=10'));    # marks it down
$up = H2GW::Upstream::start(name => 'restart', port => $port, args => ['--silent']);
$before = pool();
my @res = parallel_get(5, gw_url('/restart/data?size=10'));
$after = pool();
ok t_cmp(join(' ', sort map { $_->{code} } @res), '503 503 503 503 503',
         "5 requests while every server is down and the probe hangs: all 503 when it fails");
ok t_cmp($after->{servers}[0]{conns_opened} - $before->{servers}[0]{conns_opened}, 1,
         "... with one connection tried (the probe), not five");

# retry=0: a failed server is tried again by the next request.
$before = gw_status('retry0');
req(proto => 'h1', url => gw_url('/retry0/x')) for 1 .. 3;
$after = gw_status('retry0');
ok t_cmp($after->{servers}[0]{conns_opened} - $before->{servers}[0]{conns_opened}, 3,
         "retry=0: each of 3 requests tries the dead server");
