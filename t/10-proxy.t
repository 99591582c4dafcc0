# Proxying basics over both frontends (HTTP/1.1 and HTTP/2): status,
# request line and headers as the upstream sees them (:path byte-exact,
# :authority, X-Forwarded-*, hop-by-hop removal), <Location> form with a
# base path, preserve-host, and Apache itself as an h2c upstream.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 2 * 21 + 4;

# The upstream's /headers body: "name: value" lines as it received them.
sub seen {
    my ($res) = @_;
    my @f = map { /^([^:]+|:[^:]+): (.*)$/ ? [$1, $2] : () } split /\n/, $res->{body};
    return \@f;
}
sub field { my ($f, $n) = @_; my @v = map { $_->[1] } grep { $_->[0] eq $n } @$f; wantarray ? @v : $v[0] }

for my $fe (frontends()) {
    my $res = req(proto => $fe, url => gw_url('/up/headers/a%20b/%7Ec;x?q=1&r=%2F%zz'),
                  headers => ['X-Custom: Kept Value', 'Connection: X-Hop',
                              'X-Hop: gone', 'Keep-Alive: timeout=5',
                              'TE: trailers', 'Proxy-Connection: close']);
    ok t_cmp($res->{code}, 200, "$fe: GET through the gateway is 200");
    my $f = seen($res);
    ok t_cmp(field($f, ':path'), '/headers/a%20b/%7Ec;x?q=1&r=%2F%zz',
             "$fe: :path and query reach the upstream byte-exact");
    ok t_cmp(field($f, ':method'), 'GET', "$fe: :method");
    ok t_cmp(field($f, ':scheme'), 'http', "$fe: :scheme is http for h2c");
    ok t_cmp(field($f, ':authority'), "127.0.0.1:$ENV{H2GW_UP_PORT}",
             "$fe: :authority is the upstream's host:port by default");
    ok t_cmp(field($f, 'x-custom'), 'Kept Value', "$fe: end-to-end field forwarded, lowercased");
    # (curl sends no Connection over HTTP/2, so there X-Hop is an
    # ordinary field)
    my $hop = $fe eq 'h1' ? qr/^(connection|x-hop|keep-alive|proxy-connection|host|transfer-encoding|upgrade)$/
                          : qr/^(connection|keep-alive|proxy-connection|host|transfer-encoding|upgrade)$/;
    ok t_cmp(scalar(grep { $_->[0] =~ $hop } @$f),
             0, "$fe: hop-by-hop fields and those named by Connection removed");
    ok t_cmp(field($f, 'te'), 'trailers', "$fe: TE: trailers forwarded");
    ok t_cmp(field($f, 'x-forwarded-for'), '127.0.0.1', "$fe: X-Forwarded-For added");
    ok t_cmp(field($f, 'x-forwarded-host'), "127.0.0.1:" . Apache::Test::vars('port'),
             "$fe: X-Forwarded-Host is the client's Host");
    ok t_cmp(defined field($f, 'x-forwarded-server') ? 1 : 0, 1, "$fe: X-Forwarded-Server added");
    my @pseudo = grep { $f->[$_][0] =~ /^:/ } 0 .. $#$f;
    ok t_cmp("@pseudo", "0 1 2 3", "$fe: pseudo-headers come first");

    $res = req(proto => $fe, url => gw_url('/up/headers'),
               headers => ['X-Forwarded-For: 192.0.2.1']);
    ok t_cmp(field(seen($res), 'x-forwarded-for'), '192.0.2.1, 127.0.0.1',
             "$fe: X-Forwarded-For appended to the client's");

    # An HTTP/1.1 sender of TE names it in Connection (RFC 9110 10.1.4);
    # te: trailers still reaches the upstream (gRPC needs it).
    $res = req(proto => $fe, url => gw_url('/up/headers'),
               headers => ['Connection: TE', 'TE: trailers']);
    ok t_cmp(field(seen($res), 'te'), 'trailers',
             "$fe: TE: trailers forwarded when Connection names TE");

    $res = req(proto => $fe, url => gw_url('/loc/headers?z=1'));
    ok t_cmp(field(seen($res), ':path'), '/base/headers?z=1',
             "$fe: <Location> form maps onto the upstream base path");

    $res = req(proto => $fe, url => gw_url('/ph/headers'),
               headers => ['Host: client.example']);
    ok t_cmp(field(seen($res), ':authority'), 'client.example',
             "$fe: preserve-host=on sends the client's Host as :authority");

    $res = req(proto => $fe, url => gw_url('/up/headers'), method => 'PATCH');
    ok t_cmp(field(seen($res), ':method'), 'PATCH', "$fe: any method is proxied (PATCH)");
    $res = req(proto => $fe, url => gw_url('/up/headers'), method => 'MYMETHOD');
    ok t_cmp(field(seen($res), ':method'), 'MYMETHOD', "$fe: extension methods are proxied");

    $res = req(proto => $fe, url => gw_url('/apache/hello.txt'));
    ok t_cmp($res->{code}, 200, "$fe: Apache (mod_http2) as the h2c upstream answers 200");
    ok t_cmp($res->{body}, "hello from the Apache upstream\n", "$fe: its body arrives intact");
    $res = req(proto => $fe, url => gw_url('/apache/missing'));
    ok t_cmp($res->{code}, 404, "$fe: its 404 passes through");
}

# LogLevel h2gw:debug (as configured here): one line per milestone of a
# request, all naming the same stream; trace2 would add the frames.
my $mark = error_log_mark();
my $tag = tag();
my $res = req(proto => 'h1', method => 'POST', upload => make_file(3000),
              url => gw_url("/up/upload?tag=$tag"));
my $log = error_log_since($mark);
my ($id) = $log =~ /h2gw: stream (\d+): POST \/upload\?tag=\Q$tag\E submitted to /;
ok t_cmp(defined $id ? 1 : 0, 1, 'debug: a line when the request is submitted');
$id //= 'none';
ok t_cmp($log =~ /h2gw: stream $id: request body complete \(3000 bytes\)/ ? 1 : 0, 1,
         'debug: a line when its body is complete');
ok t_cmp($log =~ /h2gw: stream $id: response 200 from \S+ after \d+ us/ ? 1 : 0, 1,
         'debug: a line when its response headers came');
ok t_cmp($log =~ /h2gw: stream $id: done, complete, \d+ body bytes out, [\d.]+ ms, upstream stream \d+\/\d+ on h2c:/ ? 1 : 0, 1,
         'debug: a line when it is done, with what went out');
