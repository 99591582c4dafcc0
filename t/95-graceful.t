# A child process that exits (here: a graceful restart) says GOAWAY on
# its upstream connections before closing them. Then a restart that does
# not wait (SIGHUP): the MPM closes the client sockets of busy workers, and
# a handler waiting on its upstream must see that its client is gone and
# let the child exit, on either frontend; else it waits for the upstream
# (here: never) until H2GWTimeout and the parent kills the child. Runs
# last: it replaces the child process.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use POSIX ();
use Time::HiRes qw(sleep);

plan tests => 3 + 3;

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

# Two requests the upstream holds for 60 s, one per frontend.
my $mark = error_log_mark();
my $tag = tag();
my %curl;
for my $fe (frontends()) {
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec 'curl', '-sS', '-o', '/dev/null', '--max-time', '60',
            $fe eq 'h2' ? '--http2-prior-knowledge' : '--http1.1',
            gw_url("/up/data?size=10&delay=60000&tag=$tag$fe")
            or POSIX::_exit(127);
    }
    $curl{$fe} = $pid;
}
my $seen = 0;
for (1 .. 100) {
    $seen = grep { up_stats("$tag$_")->{seen} } frontends();
    last if $seen == 2;
    sleep 0.05;
}
ok t_cmp($seen, 2, "both requests wait on the upstream");
kill 'HUP', $pid;     # restart now: the old child is stopped, then reaped
my $back = 0;
for (1 .. 300) {
    $back = req(proto => 'h1', url => gw_url('/up/data?size=1'))->{code} == 200;
    last if $back;
    sleep 0.1;
}
ok t_cmp($back ? 1 : 0, 1, "the new generation answers after the restart");
kill 'TERM', values %curl;
waitpid $_, 0 for values %curl;
my @stuck = error_log_since($mark) =~ /(AH0004[56]:[^\n]*)/g;
ok t_cmp(scalar(@stuck), 0,
         "the old child exited without being killed (@stuck)");
