# A child process that exits (here: a graceful restart) says GOAWAY on
# its upstream connections before closing them. Runs last: it replaces
# the child process.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use Time::HiRes qw(sleep);

plan tests => 3;

my $vars = Apache::Test::vars();
up_reset();
my $res = req(proto => 'h1', url => gw_url('/up/data?size=100'));
ok t_cmp($res->{code}, 200, "a request opened an upstream connection");
ok t_cmp(up_stats()->{goaway_recv}, 0, "no GOAWAY from the gateway while it runs");

open my $fh, '<', "$vars->{t_logs}/httpd.pid" or die "httpd.pid: $!";
chomp(my $pid = <$fh>);
kill 'USR1', $pid;    # graceful restart: the old child exits when idle
my $got = 0;
for (1 .. 100) {
    $got = up_stats()->{goaway_recv};
    last if $got;
    sleep 0.1;
}
ok t_cmp($got >= 1 ? 1 : 0, 1, "the exiting child sent GOAWAY upstream");
# Wait until the new generation answers before the suite stops it.
for (1 .. 100) {
    last if req(proto => 'h1', url => gw_url('/up/data?size=1'))->{code} == 200;
    sleep 0.1;
}
