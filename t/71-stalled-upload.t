# A client that stalls its upload: it sends part of a request body, then
# nothing. After the pass's timeout (timeout=1 on /slow/) the upstream
# stream is reset (CANCEL), while the client is still connected; other
# requests are untouched. Both frontends.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use IO::Handle;
use Time::HiRes qw(sleep time);

plan tests => 2 * 4;

for my $fe (frontends()) {
    my $tag = tag();
    # curl uploads from a pipe we control: 4000 bytes, then silence.
    pipe(my $r, my $w) or die;
    my $pid = fork // die;
    if (!$pid) {
        close $w;
        open STDIN, '<&', $r or die;
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec 'curl', '-sS', $fe eq 'h2' ? '--http2-prior-knowledge' : '--http1.1',
            '-T', '-', '-X', 'POST', '--max-time', '20', gw_url("/slow/upload?tag=$tag");
        exit 127;
    }
    close $r;
    $w->autoflush(1);
    print $w 'x' x 4000;
    my $t0 = time;
    my $st = {};
    for (1 .. 100) {
        $st = up_stats($tag);
        last if $st->{rst_recv};
        sleep 0.1;
    }
    my $waited = time - $t0;
    ok t_cmp($st->{seen}, 1, "$fe: the stalled upload reached the upstream");
    ok t_cmp($st->{rst_code}, 8, "$fe: its upstream stream was reset (CANCEL) after the timeout");
    ok t_cmp(kill(0, $pid) ? 1 : 0, 1, "$fe: ... while the client was still connected (after ${\ sprintf '%.1f', $waited} s)");
    my $res = req(proto => $fe, url => gw_url('/up/data?size=1000'));
    ok t_cmp($res->{code}, 200, "$fe: other requests are untouched");
    close $w;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}
