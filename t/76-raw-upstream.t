# Frame-level misbehaviour of an upstream, scripted byte by byte: a raw
# TCP server answers the gateway's request with hand-made HTTP/2 frames.
# For each case the affected request gets a 502/504 or an aborted
# response (never a complete-looking one), the error log names the
# cause, a request to another upstream running at the same time is
# untouched, and Apache keeps serving.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

my $port = $ENV{H2GW_RAW_PORT};

# ---- frames -------------------------------------------------------------
sub frame {
    my ($type, $flags, $sid, $payload) = @_;
    $payload //= '';
    my $len = length $payload;
    return pack('C3 C C N', ($len >> 16) & 255, ($len >> 8) & 255, $len & 255, $type, $flags, $sid)
        . $payload;
}
use constant { DATA => 0, HEADERS => 1, RST => 3, SETTINGS => 4, PUSH => 5, PING => 6,
               GOAWAY => 7, WINDOW_UPDATE => 8, CONTINUATION => 9 };
use constant { ES => 1, EH => 4, ACK => 1 };
my $status200 = "\x88";
# A literal field without indexing, new name (RFC 7541 §6.2.2); string
# lengths are integers with a 7-bit prefix (§5.1).
sub hint {
    my ($n) = @_;
    return chr($n) if $n < 127;
    my $out = chr(127);
    $n -= 127;
    while ($n >= 128) { $out .= chr(($n & 127) | 128); $n >>= 7 }
    return $out . chr($n);
}
sub lit { my ($n, $v) = @_; "\x00" . hint(length $n) . $n . hint(length $v) . $v }

# ---- the scripted upstream ------------------------------------------------
# Serves one connection: sends its SETTINGS, waits for the gateway's
# request HEADERS, then writes what $script returns (a list of strings,
# an integer in it is a pause in ms), then holds the connection for
# $hold seconds (or until the gateway closes it).
sub scripted {
    my ($script, $hold) = @_;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                    Listen => 5, ReuseAddr => 1) or die "listen $port: $!";
    my $pid = fork // die;
    if ($pid) {
        close $srv;
        return $pid;
    }
    my $c = $srv->accept or exit 1;
    $c->autoflush(1);
    print $c frame(SETTINGS, 0, 0);
    my $buf = '';
    my $deadline = time + 5;
    # preface (24) then frames; look for a HEADERS frame
    while (time < $deadline) {
        my $n = sysread($c, $buf, 65536, length $buf) or last;
        my $off = 24;
        my $seen = 0;
        while (length($buf) >= $off + 9) {
            my ($l1, $l2, $l3, $type) = unpack('C4', substr($buf, $off, 4));
            my $len = ($l1 << 16) | ($l2 << 8) | $l3;
            $seen = 1 if $type == HEADERS;
            $off += 9 + $len;
        }
        last if $seen;
    }
    print $c frame(SETTINGS, ACK, 0);
    for my $part ($script->()) {
        if ($part =~ /^\d+$/) { sleep $part / 1000; next }
        print $c $part or last;
    }
    $c->blocking(0);
    my $end = time + ($hold // 3);
    while (time < $end) {
        my $n = sysread($c, my $junk, 65536);
        last if defined $n && $n == 0;
        sleep 0.05;
    }
    exit 0;
}

my @cases = (
    ['uppercase response header name',
     sub { frame(HEADERS, EH | ES, 1, $status200 . lit('X-Upper', 'v')) },
     qr/H2GW00203: upstream h2c:\/\/127\.0\.0\.1:$port\/: .*(PROTOCOL_ERROR|invalid|protocol)/i],
    ['CR/LF in a response header value',
     sub { frame(HEADERS, EH | ES, 1, $status200 . lit('x-bad', "a\r\nb: c")) },
     qr/H2GW00203: .*(PROTOCOL_ERROR|invalid|protocol)/i],
    ['NUL in a response header value',
     sub { frame(HEADERS, EH | ES, 1, $status200 . lit('x-bad', "a\0b")) },
     qr/H2GW00203: .*(PROTOCOL_ERROR|invalid|protocol)/i],
    ['DATA before HEADERS',
     sub { frame(DATA, ES, 1, 'early') },
     qr/H2GW00203: .*(protocol|PROTOCOL_ERROR|STREAM_CLOSED|invalid)/i],
    ['PUSH_PROMISE though push is off',
     sub { frame(PUSH, EH, 1, pack('N', 2) . $status200) },
     qr/H2GW00203: .*(protocol|PROTOCOL_ERROR)/i],
    ['CONTINUATION flood (header block grows without end)',
     sub { (frame(HEADERS, 0, 1, $status200),
            map { frame(CONTINUATION, 0, 1, lit("x-f$_", 'y' x 200)) } 1 .. 2000) },
     qr/H2GW00203: .*(header block too large|protocol|too large)/i],
    ['WINDOW_UPDATE overflowing the window',
     sub { (frame(WINDOW_UPDATE, 0, 0, pack('N', 0x7fffffff)), frame(WINDOW_UPDATE, 0, 0, pack('N', 0x7fffffff))) },
     qr/H2GW00203: .*(FLOW_CONTROL|flow control|protocol)/i],
    ['SETTINGS flood',
     sub { ((map { frame(SETTINGS, 0, 0, pack('nN', 4, 65535 + $_)) } 1 .. 5000),
            frame(HEADERS, EH | ES, 1, $status200)) },
     qr/H2GW00203: .*(flood|protocol)/i],
    ['PING flood',
     sub { ((map { frame(PING, 0, 0, pack('NN', $_, $_)) } 1 .. 5000),
            frame(HEADERS, EH | ES, 1, $status200)) },
     qr/H2GW00203: .*(flood|protocol)/i],
    ['RST_STREAM flood on streams never opened',
     sub { map { frame(RST, 0, 2 * $_ + 1, pack('N', 0)) } 1 .. 1000 },
     qr/H2GW00203: .*(protocol|PROTOCOL_ERROR)/i],
    ['half a frame, then silence',
     sub { substr(frame(HEADERS, EH | ES, 1, $status200 . lit('x-a', 'b' x 50)), 0, 20) },
     qr/H2GW00203: .*(response timed out|no response headers)/i],
    ['a response that never ends',
     sub { (frame(HEADERS, EH, 1, $status200), frame(DATA, 0, 1, 'x' x 100)) },
     qr/H2GW00203: .*(stalled|timed out).*response aborted/i],
);

plan tests => 4 * @cases;

for my $case (@cases) {
    my ($label, $script, $log_re) = @$case;
    my $pid = scripted($script, 4);
    my $mark = error_log_mark();
    # Another upstream, at the same time.
    my $other = fork // die;
    if (!$other) {
        my $r = req(proto => 'h1', url => gw_url('/up/data?size=50000&delay=300'));
        exit($r->{code} == 200 && $r->{sha256} eq $r->{hdr}{'x-h2up-sha256'} ? 0 : 1);
    }
    my $res = req(proto => 'h2', url => gw_url('/raw/x'), quiet => 1, args => ['--max-time', '15']);
    my $complete = $res->{code} == 200 && $res->{curl_exit} == 0;
    ok t_cmp($complete ? 0 : 1, 1,
             "$label: no complete response reaches the client (status $res->{code}, curl exit $res->{curl_exit})");
    waitpid $other, 0;
    ok t_cmp($? >> 8, 0, "$label: a request to another upstream meanwhile is untouched");
    my $log = error_log_since($mark);
    my ($line) = $log =~ /^(.*H2GW00203.*)$/m;
    ok t_cmp($log =~ $log_re ? 1 : 0, 1, "$label: the error log names the cause (" . ($line // 'no H2GW00203 line') . ")");
    kill 'TERM', $pid;
    waitpid $pid, 0;
    my $next = req(proto => 'h1', url => gw_url('/up/data?size=10'));
    ok t_cmp($next->{code}, 200, "$label: Apache keeps serving");
}
