# The request body goes upstream in batches (64K, or a quarter of the
# request buffer), yet what the client has sent never waits for a batch to
# fill: when the client pauses, the bytes held so far go upstream before the
# gateway waits for more. A client declares a Content-Length (HTTP/2 bodies
# with one are read with blocking reads), sends a few KiB, and pauses until
# the upstream has counted exactly those bytes; then it sends the rest and
# the whole body arrives. Both frontends.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use IO::Handle;
use POSIX ();
use Time::HiRes qw(sleep);

plan tests => 2 * 3;

my $first = 3000;       # well below a batch
my $total = 200_000;    # more than a batch once the rest follows

for my $fe (frontends()) {
    my $tag = tag();
    pipe(my $r, my $w) or die;
    pipe(my $outr, my $outw) or die;
    my $pid = fork // die;
    if (!$pid) {
        close $w;
        close $outr;
        open STDIN, '<&', $r or POSIX::_exit(126);
        open STDOUT, '>&', $outw or POSIX::_exit(126);
        open STDERR, '>', '/dev/null';
        exec 'curl', '-sS', $fe eq 'h2' ? '--http2-prior-knowledge' : '--http1.1',
            '-T', '-', '-X', 'POST', '-H', "Content-Length: $total",
            '--max-time', '30', gw_url("/up/upload?tag=$tag")
            or POSIX::_exit(127);
    }
    close $r;
    close $outw;
    $w->autoflush(1);
    # The request reaches the upstream first, so the gateway has already
    # found no body to send when the first bytes come.
    my $st = {};
    for (1 .. 100) {
        $st = up_stats($tag);
        last if $st->{seen};
        sleep 0.05;
    }
    print $w 'a' x $first;
    for (1 .. 100) {
        $st = up_stats($tag);
        last if ($st->{body_bytes_recv} // 0) >= $first;
        sleep 0.05;
    }
    ok t_cmp($st->{body_bytes_recv} // 0, $first,
             "$fe: while the client pauses, the $first bytes it sent reached the upstream");
    print $w 'b' x ($total - $first);
    close $w;
    my $out = do { local $/; <$outr> } // '';
    close $outr;
    waitpid $pid, 0;
    ok t_cmp($? >> 8, 0, "$fe: the upload completed");
    my ($size) = $out =~ /size=(\d+)/;
    ok t_cmp($size // -1, $total, "$fe: the upstream received all $total bytes");
}
