# The request body goes upstream in batches (64K, or a quarter of the
# request buffer), yet what the client has sent never waits for a batch to
# fill: when the client pauses, the bytes held so far go upstream before the
# gateway waits for more. A client declares a Content-Length, sends a few
# KiB, and pauses until the upstream has counted exactly those bytes; then
# it sends a second small piece, which must reach the upstream too while
# the client pauses again: once body was read, the next wait for a body
# of known length with a batch or more to come asks for a batch (HTTP/1.1:
# the socket's low-water mark, at most 2 ms; HTTP/2: a linger of 150
# microseconds to 1 ms after mod_http2 says input came, so that one read
# takes the client's whole burst, which the status page counts), and
# neither may hold what came. Then the rest, and the whole body arrives.
# Both frontends.
#
# While an HTTP/1.1 client pauses in a body of known length, the gateway
# waits for a batch of it (or all the rest) at once, through the socket's
# receive low-water mark. That mark must not outlive the body: after an
# upload whose last wait asked for the last few KiB, the next request on
# the same keep-alive connection, smaller than that, is still answered.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use IO::Handle;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

plan tests => 2 * 4 + 1 + 3;

my $first = 3000;       # well below a batch
my $second = 2000;      # so is this
my $total = 200_000;    # more than a batch once the rest follows

for my $fe (frontends()) {
    my $tag = tag();
    my ($pid, $w, $outr) = piped(
        'curl', '-sS', $fe eq 'h2' ? '--http2-prior-knowledge' : '--http1.1',
        '-T', '-', '-X', 'POST', '-H', "Content-Length: $total",
        '--max-time', '30', gw_url("/up/upload?tag=$tag"));
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
    my $l0 = gw_status()->{handler_lingers};
    print $w 'b' x $second;
    for (1 .. 100) {
        $st = up_stats($tag);
        last if ($st->{body_bytes_recv} // 0) >= $first + $second;
        sleep 0.05;
    }
    ok t_cmp($st->{body_bytes_recv} // 0, $first + $second,
             "$fe: a second piece, sent once body was read, reached the upstream too while the client pauses");
    if ($fe eq 'h2') {
        my $l = gw_status()->{handler_lingers} - $l0;
        ok t_cmp($l >= 1 ? 1 : 0, 1,
                 "h2: the handler lingered for the rest of that burst ($l times) before it read it");
    }
    print $w 'b' x ($total - $first - $second);
    close $w;
    my $out = do { local $/; <$outr> } // '';
    close $outr;
    waitpid $pid, 0;
    ok t_cmp($? >> 8, 0, "$fe: the upload completed");
    my ($size) = $out =~ /size=(\d+)/;
    ok t_cmp($size // -1, $total, "$fe: the upstream received all $total bytes");
}

# One HTTP/1.1 response off $sock (Content-Length bodies only): status and
# body, or undef when the connection ends first or nothing comes in 20 s.
sub read_response {
    my ($sock) = @_;
    my $sel = IO::Select->new($sock);
    my $buf = '';
    while (1) {
        if ($buf =~ /\A(HTTP\/1\.1 (\d{3})[^\r]*\r\n(.*?)\r\n\r\n)/s) {
            my ($head, $status, $fields) = ($1, $2, $3);
            my ($len) = $fields =~ /^content-length:\s*(\d+)/mi;
            $len //= 0;
            if (length($buf) >= length($head) + $len) {
                return ($status, substr($buf, length($head), $len));
            }
        }
        return unless $sel->can_read(20);
        my $n = sysread($sock, $buf, 65536, length $buf);
        return unless $n;
    }
}

{
    my $tag = tag();
    my ($len, $tail) = (100_000, 4000);
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => Apache::Test::vars('port'))
        or die "connect: $!";
    $sock->autoflush(1);
    print $sock "POST /up/upload?tag=$tag HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Content-Length: $len\r\n\r\n" . ('c' x ($len - $tail));
    # The gateway has sent all but the tail upstream: it is waiting for
    # the last $tail bytes.
    my $st = {};
    for (1 .. 100) {
        $st = up_stats($tag);
        last if ($st->{body_bytes_recv} // 0) >= $len - $tail;
        sleep 0.05;
    }
    sleep 0.2;
    print $sock 'd' x $tail;
    my ($status, $body) = read_response($sock);
    ok t_cmp(($body // '') =~ /size=(\d+)/ ? $1 : -1, $len,
             "h1 keep-alive: the upload that ended after a pause arrived whole");
    print $sock "GET /up/data?size=10 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ($status, $body) = read_response($sock);
    ok t_cmp($status // 'none', 200,
             "h1 keep-alive: a small request after it on the same connection is answered");
    ok t_cmp(length($body // ''), 10, "h1 keep-alive: with its whole body");
    close $sock;
}
