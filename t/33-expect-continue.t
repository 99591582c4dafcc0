# Expect: 100-continue end to end. The expectation goes upstream and the
# body waits for the upstream's verdict: an upstream that asks for it
# (100) gets it, and the client gets its "100 Continue" then; an upstream
# that answers first (413) never gets a body byte, and the client gets
# the 413 without a 100; an upstream that ignores Expect gets the body
# after a short wait. Both frontends.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 24;

my $file = make_file(300_000);
my $sha = sha256_file($file);

# curl waits up to 10 s for the 100 (its default is 1 s, the same as the
# gateway's wait for an upstream that ignores Expect).
sub upload {
    my ($proto, $query, @extra) = @_;
    my $out = `curl -sv ${\ ($proto eq 'h2' ? '--http2-prior-knowledge' : '--http1.1')} -X POST -T '$file' -H 'Expect: 100-continue' --expect100-timeout 10 -o - -w 'code=%{http_code}\\n' @extra '${\ gw_url("/up/upload?$query")}' 2>&1`;
    my %r = (out => $out);
    ($r{code}) = $out =~ /^code=(\d+)$/m;
    ($r{sha}) = $out =~ /^sha256=([0-9a-f]+)$/m;
    ($r{size}) = $out =~ /^size=(\d+)$/m;
    $r{continues} = () = $out =~ /^< HTTP\/1\.1 100 Continue/mg;
    return \%r;
}

for my $proto ('h1', 'h2') {
    # The upstream asks for the body.
    my $tag = tag();
    my $r = upload($proto, "tag=$tag");
    ok t_cmp($r->{code}, 200, "$proto: upstream sends 100: the upload succeeds");
    ok t_cmp($r->{sha} // '', $sha, "$proto: every body byte arrived");
    my $st = up_stats($tag);
    ok t_cmp($st->{expect}, 1, "$proto: the upstream saw expect: 100-continue");
    ok t_cmp($r->{continues}, $proto eq 'h1' ? 1 : 0,
             "$proto: the client got " . ($proto eq 'h1' ? 'one' : 'no HTTP/1.1')
             . " 100 Continue");

    # The upstream answers 413 on the headers.
    $tag = tag();
    if ($proto eq 'h1') {
        $r = upload($proto, "tag=$tag&status=413&reject=1");
        ok t_cmp($r->{code}, 413, "h1: the upstream's early 413 reaches the client");
        ok t_cmp($r->{continues}, 0, "h1: the client was not told to continue");
    }
    else {
        # nghttp sends the body at once, without waiting: the gateway
        # still passes none of it on.
        my $out = `nghttp -v -H 'expect: 100-continue' -d '$file' '${\ gw_url("/up/upload?tag=$tag&status=413&reject=1")}' 2>&1`;
        ok t_cmp($out =~ /recv \(stream_id=\d+\) :status: 413/ ? 1 : 0, 1,
                 "h2: the upstream's early 413 reaches the client");
        ok t_cmp($out =~ /recv HEADERS frame <[^>]*flags=0x05/ ? 1 : 0, 1,
                 "h2: as a complete response (END_STREAM)");
    }
    $st = up_stats($tag);
    ok t_cmp($st->{seen}, 1, "$proto: the rejected request reached the upstream");
    ok t_cmp($st->{body_bytes_recv}, 0,
             "$proto: no body byte was sent upstream after the 413");

    # The upstream ignores Expect: the body goes after the wait.
    $tag = tag();
    $r = upload($proto, "tag=$tag&nocontinue=1");
    ok t_cmp($r->{code}, 200, "$proto: upstream ignores Expect: the upload succeeds");
    ok t_cmp($r->{sha} // '', $sha, "$proto: every body byte arrived");

    # No Expect from the client: none invented upstream.
    $tag = tag();
    my $res = req(proto => $proto, method => 'POST', upload => $file,
                  headers => ['Expect:'], url => gw_url("/up/upload?tag=$tag"));
    ok t_cmp($res->{code}, 200, "$proto: an upload without Expect succeeds");
    ok t_cmp(up_stats($tag)->{expect}, 0, "$proto: and carries no Expect upstream");
}
