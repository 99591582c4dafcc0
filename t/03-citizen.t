# The module changes nothing it does not own: a request it does not proxy
# gets its <Location> sections merged once, as without the module, and a
# proxied one too; a virtual host that inherits the main server's passes
# applies its own H2GW* settings; a client cannot remove the fields the
# proxy adds; the :path carries no byte an origin would refuse.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET;
use H2GW::Test;

plan tests => 2 * 4 + 7 + 3 + 1;

sub seen {
    my ($res) = @_;
    my @f = map { /^([^:]+|:[^:]+): (.*)$/ ? [$1, $2] : () } split /\n/, $res->{body};
    return \@f;
}
sub field { my ($f, $n) = @_; my @v = map { $_->[1] } grep { $_->[0] eq $n } @$f; wantarray ? @v : $v[0] }
sub count_hdr { my ($res, $n) = @_; scalar grep { $_->[0] eq $n } @{ $res->{headers} } }

for my $fe (frontends()) {
    my $res = req(proto => $fe, url => gw_url('/static/a.txt'));
    ok t_cmp($res->{code}, 200, "$fe: a static file next to the module is served");
    ok t_cmp(count_hdr($res, 'x-dup'), 1,
             "$fe: its <Location> Header add applies once (no second location walk)");
    $res = req(proto => $fe, url => gw_url('/loc/headers'));
    ok t_cmp($res->{code}, 200, "$fe: the <Location> H2GWPass still proxies");
    ok t_cmp(count_hdr($res, 'x-loc-pass'), 1,
             "$fe: the proxied <Location>'s Header add applies once");
}

# ---- the request's virtual host decides ------------------------------------
{
    my $port = Apache::Test::config()->{vhosts}{h2gw_vhost}{port};
    my $vurl = "http://127.0.0.1:$port";
    my $res = req(proto => 'h1', url => "$vurl/up/headers", headers => ['Host: vhost.example']);
    my $f = seen($res);
    ok t_cmp($res->{code}, 200, "vhost: a pass inherited from the main server proxies");
    ok t_cmp(field($f, ':authority'), 'vhost.example',
             "vhost: its H2GWPreserveHost On applies to the inherited pass");
    ok t_cmp((field($f, 'forwarded') // '') =~ /^for=127\.0\.0\.1;host=vhost\.example;proto=http$/ ? 1 : 0, 1,
             "vhost: its H2GWForwarded On applies");
    ok t_cmp((field($f, 'via') // '') =~ /^1\.1 \S+ \(mod_h2gw\)$/ ? 1 : 0, 1, "vhost: its H2GWVia On applies");
    ok t_cmp(defined field($f, 'x-forwarded-for') ? 1 : 0, 0, "vhost: its H2GWAddHeaders Off applies");
    $res = req(proto => 'h1', url => "$vurl/up/data?size=10&delay=2500");
    ok t_cmp($res->{code}, 504, "vhost: its H2GWTimeout 1 applies to the inherited pass");
    $res = req(proto => 'h1', url => gw_url('/up/data?size=10&delay=1500'));
    ok t_cmp($res->{code}, 200, "main server: its own timeout (10 s) still applies there");
}

# ---- a client cannot strip what the proxy adds -----------------------------
{
    my $res = req(proto => 'h1', url => gw_url('/fwd/headers'),
                  headers => ['Connection: X-Forwarded-For, Forwarded, Via',
                              'X-Forwarded-For: 192.0.2.66', 'Via: 1.1 client-proxy']);
    my $f = seen($res);
    ok t_cmp(field($f, 'x-forwarded-for'), '127.0.0.1',
             "X-Forwarded-For named by Connection: the client's goes, the proxy's stays");
    ok t_cmp((field($f, 'forwarded') // '') =~ /^for=127\.0\.0\.1;/ ? 1 : 0, 1,
             "Forwarded named by Connection still reaches the upstream");
    ok t_cmp((field($f, 'via') // '') =~ /^1\.1 \S+ \(mod_h2gw\)$/ ? 1 : 0, 1,
             "Via named by Connection still reaches the upstream, the proxy's only");
}

# ---- the :path an origin receives ------------------------------------------
{
    my $port = Apache::Test::vars('port');
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10) or die $!;
    print $sock "GET /up/headers/a\\b{c}|d^e%41?x=\\y HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    local $/;
    my $raw = <$sock> // '';
    my ($path) = $raw =~ /^:path: (.*?)\r?$/m;
    ok t_cmp($path, '/headers/a%5Cb%7Bc%7D%7Cd%5Ee%41?x=%5Cy',
             "a raw '\\', '{', '}', '|', '^' go upstream percent-encoded, '%41' as sent");
}
