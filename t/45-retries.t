# Safe retries (RFC 9113 §8.7): a request the upstream provably did not
# process (REFUSED_STREAM, above a GOAWAY's last-stream-id) is sent again,
# up to retries= (default 1), and succeeds; one the upstream may have
# processed (reset with another code) never runs twice. A request body is
# resent only while it is still wholly held in the request buffer. Both
# frontends.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 2 * 18;

for my $fe (frontends()) {
    my $tag = tag();
    my $res = req(proto => $fe, url => gw_url("/up/data?size=100&refuse_first=1&tag=$tag"));
    ok t_cmp($res->{code}, 200, "$fe: REFUSED_STREAM once → sent again → 200");
    ok t_cmp($res->{sha256}, $res->{hdr}{'x-h2up-sha256'}, "$fe: the resent request's body is intact");
    ok t_cmp(up_stats($tag)->{seen}, 2, "$fe: the upstream saw it twice (refused, then served)");
    my $line = access_log_line("tag=$tag");
    ok t_cmp($line =~ / retries=1 / ? 1 : 0, 1, "$fe: the access log notes one retry");
    ok t_cmp($line =~ / stream=\d+\/\d+ retries=1 header_us=\d+ server=h2c:\/\/127\.0\.0\.1:\d+\/$/ ? 1 : 0, 1,
             "$fe: ... the upstream connection/stream, the time to headers and the server");

    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/data?size=100&refuse_first=2&tag=$tag"));
    ok t_cmp($res->{code}, 502, "$fe: refused again after the one retry → 502");
    ok t_cmp(up_stats($tag)->{seen}, 2, "$fe: ... after exactly one resend");

    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/noretry/data?size=100&refuse_first=1&tag=$tag"));
    ok t_cmp($res->{code}, 502, "$fe: retries=0 → a refused request is a 502");
    ok t_cmp(up_stats($tag)->{seen}, 1, "$fe: ... and was sent once");

    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/data?size=100&goaway_first=1&tag=$tag"));
    ok t_cmp($res->{code}, 200, "$fe: above GOAWAY's last-stream-id → resent on a new connection → 200");
    ok t_cmp(up_stats($tag)->{seen}, 2, "$fe: the upstream saw it twice (left out by GOAWAY, then served)");

    # The resent request is timed like any other: refused, then silent →
    # 504 after timeout=1 (not a wait forever).
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/slow/data?stall=1&refuse_first=1&tag=$tag"),
               args => ['--max-time', '20']);
    ok t_cmp($res->{code}, 504, "$fe: a resent request that then hangs → 504");
    ok t_cmp(up_stats($tag)->{seen}, 2, "$fe: ... after one resend, never a third");

    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/data?reset=before&code=2&tag=$tag"));
    ok t_cmp($res->{code} == 502 && up_stats($tag)->{seen} == 1 ? 1 : 0, 1,
             "$fe: reset with INTERNAL_ERROR is not resent (502, seen once)");

    # The upstream refuses only after the whole body arrived. A body that
    # fits the request buffer (256K) is still held there: resent whole.
    $tag = tag();
    my $file = make_file(1000);
    $res = req(proto => $fe, url => gw_url("/up/upload?refuse_first=1&tag=$tag"),
               method => 'POST', upload => $file);
    ok t_cmp($res->{code}, 200, "$fe: a refused request whose 1000-byte body was sent is resent from the buffer");
    ok t_cmp($res->{body}, "size=1000\nsha256=" . sha256_file($file) . "\n",
             "$fe: ... and the upstream got the whole body again, intact");
    ok t_cmp(up_stats($tag)->{seen}, 2, "$fe: ... seen twice (refused, then served)");

    # A body larger than the buffer cannot be replayed: not resent.
    $tag = tag();
    $file = make_file(600 * 1024);
    $res = req(proto => $fe, url => gw_url("/up/upload?refuse_first=1&tag=$tag"),
               method => 'POST', upload => $file);
    ok t_cmp($res->{code} == 502 && up_stats($tag)->{seen} == 1 ? 1 : 0, 1,
             "$fe: a refused request whose 600K body outgrew the buffer is not resent (status $res->{code})");
}
