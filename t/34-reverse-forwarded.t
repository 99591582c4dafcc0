# Reverse rewriting: Location, Content-Location and URI fields pointing
# into the upstream's URL space come back in the client's (the pass's
# prefix, the client's scheme and host), with and without a preserved
# Host; fields pointing elsewhere, and every field with reverse=off, are
# left alone. Forwarded (RFC 7239) and Via reach the upstream when asked
# for, and Via comes back on the response.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 11;

my $vars = Apache::Test::vars();
my $gw = "127.0.0.1:$vars->{port}";
my $up = "127.0.0.1:$ENV{H2GW_UP_PORT}";

sub loc {
    my ($path, $field, $value) = @_;
    my $res = req(proto => 'h1', url => gw_url("$path?size=1&hdr=$field:$value"));
    return $res->{hdr}{$field} // '';
}

ok t_cmp(loc('/up/data', 'location', "http://$up/x/y"), "http://$gw/up/x/y",
         "a Location naming the upstream comes back under the prefix, with the client's host");
ok t_cmp(loc('/loc/data', 'location', '/base/z?q=1'), '/loc/z?q=1',
         "a path under the pass's base path maps to the <Location> prefix");
ok t_cmp(loc('/loc/data', 'content-location', "http://$up/base/c"), "http://$gw/loc/c",
         "Content-Location is rewritten too");
ok t_cmp(loc('/up/data', 'uri', "http://$up/u"), "http://$gw/up/u", "and URI");
ok t_cmp(loc('/loc/data', 'location', '/elsewhere/z'), '/elsewhere/z',
         "a path outside the base path is left alone");
ok t_cmp(loc('/up/data', 'location', 'http://other.example/x'), 'http://other.example/x',
         "a Location naming another host is left alone");
ok t_cmp(loc('/ph/data', 'location', "http://$gw/q"), "http://$gw/ph/q",
         "with preserve-host, the upstream's Location carries the client's host: mapped back under the prefix");
ok t_cmp(loc('/up/data', 'location', "http://$gw/q"), "http://$gw/q",
         "without preserve-host, the client's host is not the upstream's: left alone");
ok t_cmp(loc('/norev/data', 'location', "http://$up/x"), "http://$up/x", "reverse=off leaves it alone");

my $res = req(proto => 'h2', url => gw_url('/fwd/headers'));
ok t_cmp($res->{body} =~ /^forwarded: for=127\.0\.0\.1;host="127\.0\.0\.1:$vars->{port}";proto=http$/m
         && $res->{body} =~ /^via: 2 \S+ \(mod_h2gw\)$/m ? 1 : 0, 1,
         "forwarded=on via=on: the upstream sees Forwarded and Via");
ok t_cmp(($res->{hdr}{via} // '') =~ /^2 \S+ \(mod_h2gw\)$/ ? 1 : 0, 1, "... and the client sees Via on the response");
