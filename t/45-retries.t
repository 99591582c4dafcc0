# Safe retries (RFC 9113 §8.7): a request the upstream provably did not
# process (REFUSED_STREAM, above a GOAWAY's last-stream-id) is sent again,
# up to retries= (default 1), and succeeds. One the upstream may have
# processed (reset with another code, its connection lost) is sent again
# only when idempotent (RFC 9110 §9.2.2: GET, PUT, ...; or with an
# Idempotency-Key) and retry-idempotent is on; a POST never runs twice. A
# request body is resent only while it is still wholly held in the
# request buffer. Both frontends.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 2 * 29;

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
    $res = req(proto => $fe, url => gw_url("/noidem/data?reset=before&code=2&tag=$tag"));
    ok t_cmp($res->{code} == 502 && up_stats($tag)->{seen} == 1 ? 1 : 0, 1,
             "$fe: retry-idempotent=off: a GET reset with INTERNAL_ERROR is not resent (502, seen once)");

    # Lost after the upstream saw it: idempotent requests are sent again.
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/data?size=100&reset_first=1&tag=$tag"));
    ok t_cmp($res->{code}, 200, "$fe: a GET reset (INTERNAL_ERROR) after the upstream saw it → resent → 200");
    ok t_cmp(up_stats($tag)->{seen}, 2, "$fe: ... seen twice");
    ok t_cmp(access_log_line("tag=$tag") =~ / retries=1 / ? 1 : 0, 1, "$fe: ... the access log notes the retry");

    # A reused idle connection dropped as the request arrives.
    req(proto => $fe, url => gw_url("/up/data?size=10"));
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/data?size=100&drop_first=1&tag=$tag"));
    ok t_cmp($res->{code}, 200, "$fe: a GET whose connection is dropped as it arrives → resent → 200");
    ok t_cmp(up_stats($tag)->{seen}, 2, "$fe: ... seen twice");

    my $small = make_file(1000);
    my $want = "size=1000\nsha256=" . sha256_file($small) . "\n";
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/upload?drop_first=1&tag=$tag"), method => 'PUT', upload => $small);
    ok t_cmp($res->{code} . ' ' . $res->{body}, "200 $want", "$fe: a PUT (idempotent) lost with its connection is resent whole");

    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/upload?drop_first=1&tag=$tag"), method => 'POST', upload => $small);
    ok t_cmp($res->{code} . ' ' . up_stats($tag)->{seen}, '502 1',
             "$fe: a POST lost with its connection after the upstream saw it is never resent (502, seen once)");
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/upload?reset_first=1&tag=$tag"), method => 'POST', upload => $small);
    ok t_cmp($res->{code} . ' ' . up_stats($tag)->{seen}, '502 1',
             "$fe: a POST reset after the upstream saw it is never resent (502, seen once)");
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/upload?drop_first=1&tag=$tag"), method => 'POST', upload => $small,
               headers => ["Idempotency-Key: $tag"]);
    ok t_cmp($res->{code} . ' ' . up_stats($tag)->{seen}, '200 2',
             "$fe: a POST with an Idempotency-Key lost with its connection is resent (200, seen twice)");

    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/noidem/data?size=100&drop_first=1&tag=$tag"));
    ok t_cmp($res->{code} . ' ' . up_stats($tag)->{seen}, '502 1',
             "$fe: retry-idempotent=off: a GET lost with its connection is not resent (502, seen once)");
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/noretry/data?size=100&drop_first=1&tag=$tag"));
    ok t_cmp($res->{code} . ' ' . up_stats($tag)->{seen}, '502 1',
             "$fe: retries=0: not resent either (502, seen once)");

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
