# Misbehaving upstream responses never reach the client as valid ones,
# over both frontends: a Content-Length that the DATA contradicts (more or
# less) and connection-specific response fields. The affected request
# gets a 502 or an aborted response; the next request on the same
# upstream is untouched.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 2 * 5;

# Complete-looking: a 200 whose body arrived whole and ended cleanly.
sub looks_complete { my ($r, $size) = @_; $r->{code} == 200 && $r->{curl_exit} == 0 && $r->{size} == $size }

for my $fe (frontends()) {
    my $res = req(proto => $fe, url => gw_url('/up/data?size=10&cl=0&hdr=content-length:5'), quiet => 1);
    ok t_cmp(looks_complete($res, 10) || looks_complete($res, 5) ? 0 : 1, 1,
             "$fe: more DATA than content-length is no complete response "
             . "(status $res->{code}, curl exit $res->{curl_exit})");
    $res = req(proto => $fe, url => gw_url('/up/data?size=5&cl=0&hdr=content-length:10'), quiet => 1);
    ok t_cmp(looks_complete($res, 5) || looks_complete($res, 10) ? 0 : 1, 1,
             "$fe: less DATA than content-length is no complete response "
             . "(status $res->{code}, curl exit $res->{curl_exit})");

    $res = req(proto => $fe, url => gw_url('/up/data?size=10&hdr=connection:close'));
    ok t_cmp($res->{code}, 502, "$fe: a connection-specific response field → 502");
    $res = req(proto => $fe, url => gw_url('/up/data?size=10&hdr=transfer-encoding:chunked'));
    ok t_cmp($res->{code}, 502, "$fe: transfer-encoding in an HTTP/2 response → 502");

    $res = req(proto => $fe, url => gw_url('/up/data?size=1000'));
    ok t_cmp($res->{code} == 200 && $res->{sha256} eq $res->{hdr}{'x-h2up-sha256'} ? 1 : 0, 1,
             "$fe: the next request to the same upstream is untouched");
}
