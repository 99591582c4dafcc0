# Response conversion over both frontends: status codes pass through
# (200/204/304/404/500), repeated Set-Cookie stays repeated, Content-Type
# and Content-Length arrive, HEAD/204/304 carry no body, and response
# headers reach the client before the first DATA frame (a delayed body).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time);
use IO::Socket::INET;
use H2GW::Test;

plan tests => 2 * 20;

# Body bytes the gateway sends after a HEAD response's header block, seen
# on the wire: HTTP/1.1 on a raw socket (Connection: close, read to EOF),
# HTTP/2 as DATA frame payload reported by nghttp.
sub head_body_bytes {
    my ($fe, $path) = @_;
    if ($fe eq 'h1') {
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => Apache::Test::vars('port'))
            or die "connect: $!";
        print $sock "HEAD $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        local $/;
        my $all = <$sock> // '';
        my ($head, $rest) = split /\r\n\r\n/, $all, 2;
        return length($rest // '');
    }
    my $out = `nghttp -nv -H ':method: HEAD' '${\ gw_url($path)}' 2>&1`;
    my $bytes = 0;
    $bytes += $1 while $out =~ /recv DATA frame <length=(\d+)/g;
    return $bytes;
}

for my $fe (frontends()) {
    for my $status (404, 500) {
        my $res = req(proto => $fe, url => gw_url("/up/data?size=10&status=$status"));
        ok t_cmp($res->{code}, $status, "$fe: upstream $status passes through");
        ok t_cmp($res->{size}, 10, "$fe: the $status body passes through");
    }
    for my $status (204, 304) {
        my $res = req(proto => $fe, url => gw_url("/up/data?size=10&status=$status"));
        ok t_cmp($res->{code}, $status, "$fe: upstream $status passes through");
        ok t_cmp($res->{size}, 0, "$fe: $status has no body");
    }

    my $res = req(proto => $fe, url => gw_url('/up/data?size=5&cookies=3'));
    my @cookies = map { $_->[1] } grep { $_->[0] eq 'set-cookie' } @{ $res->{headers} };
    ok t_cmp("@cookies", "c1=v1 c2=v2 c3=v3", "$fe: repeated Set-Cookie stays three fields");

    $res = req(proto => $fe, url => gw_url('/up/data?size=1234&ctype=application/x-test'));
    ok t_cmp($res->{hdr}{'content-type'}, 'application/x-test', "$fe: Content-Type passes");
    ok t_cmp($res->{hdr}{'content-length'}, 1234, "$fe: Content-Length passes");
    ok t_cmp($res->{hdr}{'x-h2up-sha256'}, $res->{sha256}, "$fe: body digest matches");

    $res = req(proto => $fe, url => gw_url('/up/data?size=5000'), method => 'HEAD');
    ok t_cmp($res->{code}, 200, "$fe: HEAD is 200");
    ok t_cmp($res->{hdr}{'content-length'}, 5000, "$fe: HEAD keeps the upstream's Content-Length");
    ok t_cmp(head_body_bytes($fe, '/up/data?size=5000'), 0,
             "$fe: HEAD response carries no body bytes on the wire");

    $res = req(proto => $fe, url => gw_url('/up/data?size=3&hdr=x-extra:one&hdr=x-extra:two'));
    my @extra = map { $_->[1] } grep { $_->[0] eq 'x-extra' } @{ $res->{headers} };
    ok t_cmp(scalar(@extra) == 2 || "@extra" eq 'one, two' ? 1 : 0, 1,
             "$fe: repeated response fields are kept");

    # Headers before the first DATA: the body starts 1.5 s after the
    # headers; curl's time to the first header byte must be well before.
    $res = req(proto => $fe, url => gw_url('/up/data?size=100&drip=1500&piece=50'));
    ok t_cmp($res->{code}, 200, "$fe: drip response is 200");
    ok t_cmp($res->{size}, 100, "$fe: drip body complete");
    ok t_cmp($res->{ttfb} < $res->{total} - 1.0 ? 1 : 0, 1,
             "$fe: response headers reach the client before the delayed body "
             . "(first byte $res->{ttfb}s, total $res->{total}s)");
    ok t_cmp($res->{hdr}{'content-type'}, 'application/octet-stream', "$fe: default upstream type");
}
