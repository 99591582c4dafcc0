# Hostile clients on the HTTP/1.1 frontend: CONNECT is never tunnelled;
# an absolute-form target naming another host is routed by its path only
# (to the configured upstream, never to the named host); Content-Length
# with Transfer-Encoding and duplicate Content-Length cannot smuggle a
# request upstream (HTTP/2 framing carries exactly the body httpd parsed);
# a header field over LimitRequestFieldSize, more fields than
# LimitRequestFields, and a method that is no token are refused by httpd
# before anything reaches an upstream, while an unknown but valid method
# is proxied like any other.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET;
use H2GW::Test;

plan tests => 15;

# Sends raw bytes on a new connection, returns everything read until the
# server closes (or 5 s pass).
sub raw {
    my ($bytes) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => Apache::Test::vars('port'),
                                     Timeout => 5) or die "connect: $!";
    print $sock $bytes;
    my $all = '';
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 5;
    eval { while (sysread($sock, my $buf, 65536)) { $all .= $buf } };
    alarm 0;
    return $all;
}

up_reset();
my $res = raw("CONNECT 127.0.0.1:$ENV{H2GW_UP_PORT} HTTP/1.1\r\nHost: 127.0.0.1:$ENV{H2GW_UP_PORT}\r\n\r\n");
my ($status) = $res =~ /^HTTP\/1\.1 (\d+)/;
ok t_cmp(($status // 0) != 200 ? 1 : 0, 1, "CONNECT is refused (status " . ($status // 'none') . ")");
ok t_cmp(up_stats()->{requests} // 0, 0, "CONNECT reached no upstream");

$res = raw("GET http://evil.example/up/headers HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
ok t_cmp($res =~ /^HTTP\/1\.1 200/ ? 1 : 0, 1, "absolute-form under a pass prefix is proxied");
ok t_cmp($res =~ /^:authority: 127\.0\.0\.1:$ENV{H2GW_UP_PORT}$/m ? 1 : 0, 1,
         "... to the configured upstream, not to the host it names");
ok t_cmp($res =~ /^:path: \/headers$/m ? 1 : 0, 1, "... with the path mapped as usual");

$res = raw("GET http://127.0.0.1:$ENV{H2GW_UP_PORT}/headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
($status) = $res =~ /^HTTP\/1\.1 (\d+)/;
ok t_cmp($status, 404, "absolute-form naming the upstream but outside any prefix is not proxied");

# CL + TE: httpd takes the chunked body; the bytes after it must not
# become a second request upstream.
up_reset();
my $smuggle = "GET /up/data?tag=smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
$res = raw("POST /up/upload?tag=cltepost HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
           . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           . "5\r\nhello\r\n0\r\n\r\n" . $smuggle);
ok t_cmp(up_stats('cltepost')->{body_bytes_recv} // -1, 5,
         "CL+TE: the upstream got exactly the chunked body");
ok t_cmp(up_stats('smuggled')->{seen}, 0, "CL+TE: no smuggled request reached the upstream");

$res = raw("POST /up/upload?tag=dupcl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           . "Content-Length: 40\r\nConnection: close\r\n\r\nhello" . $smuggle);
($status) = $res =~ /^HTTP\/1\.1 (\d+)/;
ok t_cmp(($status // 0) == 400 && up_stats('dupcl')->{seen} == 0
         && up_stats('smuggled')->{seen} == 0 ? 1 : 0, 1,
         "conflicting Content-Length is a 400 and reaches no upstream (status "
         . ($status // 'none') . ")");

# Over httpd's limits, or malformed: 400, and the upstream sees nothing.
for my $case (['a header field of 10,000 bytes', "X-Big: " . ('a' x 10000) . "\r\n"],
              ['150 header fields', join('', map { "X-F$_: v\r\n" } 1 .. 150)]) {
    my ($label, $extra) = @$case;
    my $tag = tag();
    my $r = raw("GET /up/headers?tag=$tag HTTP/1.1\r\nHost: x\r\n$extra"
                . "Connection: close\r\n\r\n");
    my ($st) = $r =~ /^HTTP\/1\.1 (\d+)/;
    ok t_cmp($st // 0, 400, "$label: refused by httpd (400)");
    ok t_cmp(up_stats($tag)->{seen} // 0, 0, "$label: nothing reached the upstream");
}
my $tag = tag();
my $r = raw("G\@T /up/headers?tag=$tag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
my ($st) = $r =~ /^HTTP\/1\.1 (\d+)/;
ok t_cmp(($st // 0) >= 400 && ($st // 0) < 600 && (up_stats($tag)->{seen} // 0) == 0 ? 1 : 0, 1,
         "a method that is no token is refused (status " . ($st // 'none') . ") and not proxied");
$tag = tag();
$r = raw("FROB /up/headers?tag=$tag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
ok t_cmp($r =~ /^HTTP\/1\.1 200/ && $r =~ /^:method: FROB\r?$/m ? 1 : 0, 1,
         "an unknown but valid method is proxied as it is");
