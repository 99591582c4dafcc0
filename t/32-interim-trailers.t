# Interim responses and trailers. A 103 Early Hints from the upstream
# reaches HTTP/1.1 and HTTP/2 clients before the final response (not
# HTTP/1.0 clients, which cannot take it); response trailers reach HTTP/2
# clients as trailing HEADERS (HTTP/1.1 clients get the body intact); a
# trailers-only response (one HEADERS frame with END_STREAM, as gRPC
# sends for errors) arrives with its fields and no body. Request trailers
# (HTTP/2 trailing HEADERS, HTTP/1.1 chunked trailers) reach the upstream
# after the body.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 15;

# curl -D keeps every header block: the 103 and then the final one.
sub blocks {
    my ($proto, $url) = @_;
    my @opt = $proto eq 'h2' ? ('--http2-prior-knowledge') : $proto eq 'h1.0' ? ('--http1.0') : ('--http1.1');
    my $out = `curl -sS @opt -D - -o /dev/null '$url'`;
    return [ grep { /\S/ } split /\r?\n\r?\n/, $out ];
}

for my $fe ('h1', 'h2') {
    my $b = blocks($fe, gw_url('/up/data?size=10&early=1&delay=200'));
    ok t_cmp(scalar(@$b), 2, "$fe: two header blocks: the interim and the final response");
    ok t_cmp(($b->[0] // '') =~ /^HTTP\/[\d.]+ 103\b/ && $b->[0] =~ /^link: <\/hint1\.css>; rel=preload\r?$/mi ? 1 : 0, 1,
             "$fe: 103 Early Hints with the upstream's Link field comes first");
    ok t_cmp(($b->[1] // '') =~ /^HTTP\/[\d.]+ 200\b/ && $b->[1] !~ /hint1/ ? 1 : 0, 1,
             "$fe: then the 200, without the hint's fields");
}
my $b = blocks('h1.0', gw_url('/up/data?size=10&early=1'));
ok t_cmp(scalar(@$b) == 1 && $b->[0] =~ /^HTTP\/1\.[01] 200/ ? 1 : 0, 1,
         "HTTP/1.0: no interim response, just the 200");

# Trailers: nghttp -v shows the trailing HEADERS frame.
my $url = gw_url('/up/data?size=1000&trailers=1');
my $out = `nghttp -v '$url' 2>&1`;
ok t_cmp($out =~ /recv HEADERS frame <length=\d+, flags=0x05, stream_id=13>.*?x-h2up-trailer: done/s
         || $out =~ /x-h2up-trailer: done/ && $out =~ /recv \(stream_id=13\) x-h2up-trailer: done/ ? 1 : 0, 1,
         "h2: the upstream's trailer arrives as trailing HEADERS");
ok t_cmp($out =~ /recv DATA frame <length=1000/ || $out =~ /recv DATA frame/ ? 1 : 0, 1, "h2: ... after the body");
my $res = req(proto => 'h1', url => $url);
ok t_cmp($res->{code} == 200 && $res->{size} == 1000 && $res->{sha256} eq $res->{hdr}{'x-h2up-sha256'} ? 1 : 0, 1,
         "h1: a response with trailers keeps its body intact");

# Trailers-only.
$res = req(proto => 'h2', url => gw_url('/up/data?nobody=1&hdr=grpc-status:7&hdr=grpc-message:denied'));
ok t_cmp($res->{code}, 200, "trailers-only: the status arrives");
ok t_cmp(($res->{hdr}{'grpc-status'} // '') . '/' . ($res->{hdr}{'grpc-message'} // ''), '7/denied',
         "trailers-only: with its fields");
# One HEADERS frame with END_STREAM, no DATA: gRPC clients take a split
# answer (HEADERS, then an empty DATA with END_STREAM) for a broken call.
my $frames = join "\n", map { `nghttp -v '${\ gw_url('/up/data?nobody=1&hdr=grpc-status:7')}' 2>&1` } 1 .. 20;
my @hf = $frames =~ /recv HEADERS frame <[^>]*flags=(0x0\d)/g;
ok t_cmp(scalar(grep { $_ eq '0x05' } @hf) . ' ' . scalar(() = $frames =~ /recv DATA frame/g), '20 0',
         "trailers-only to HTTP/2 clients: 20 of 20 as one HEADERS frame with END_STREAM, no DATA frame");

# Request trailers. The upstream's /headers lists the trailers it got.
my $file = make_file(3000);
my $h2 = `nghttp -d '$file' --trailer='x-req-trailer: from-h2' '${\ gw_url('/up/headers')}' 2>&1`;
ok t_cmp($h2 =~ /^\(trailer\) x-req-trailer: from-h2$/m ? 1 : 0, 1,
         "h2: the client's request trailer reaches the upstream after the body");
use IO::Socket::INET;
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => Apache::Test::vars('port'))
    or die "connect: $!";
print $sock "POST /up/headers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\n5\r\nhello\r\n0\r\nX-Req-Trailer: from-h1\r\n\r\n";
my $h1 = do { local $/; <$sock> } // '';
ok t_cmp($h1 =~ /^\(trailer\) x-req-trailer: from-h1$/m ? 1 : 0, 1,
         "h1: a chunked request's trailer reaches the upstream, name lowercased");
