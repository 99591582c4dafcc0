# One response header field over 64 KiB breaks HPACK for the whole
# connection (nghttp2 answers GOAWAY COMPRESSION_ERROR): that request gets
# a 502 and is not resent (its answer is what broke the connection), but
# the unrelated idempotent requests in flight on the same connection are
# resent on a new one and succeed.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 5;

# One connection, already up, for all of them.
req(proto => 'h1', url => gw_url('/bigfield/data?size=10'));

my $bad = tag();
my @tags = map { tag() } 1 .. 9;
my $mark = error_log_mark();
# The nine innocent requests are answered after 1 s, the bad one after
# 0.3 s: they are in flight on the connection when it breaks.
my @res = parallel_get(10, sub {
    my ($i) = @_;
    return $i == 10
        ? gw_url("/bigfield/data?size=10&bigfield=100000&delay=300&tag=$bad")
        : gw_url("/bigfield/data?size=1000&delay=1000&tag=$tags[$i - 1]");
});
my $log = error_log_since($mark);
my $bad_res = pop @res;
ok t_cmp($bad_res->{code}, 502, "the response with a 100000-byte field (75000 bytes Huffman-coded) → 502");
ok t_cmp($log =~ /H2GW00314: upstream broke HTTP\/2: GOAWAY COMPRESSION_ERROR/ ? 1 : 0, 1,
         "the log says the connection died of COMPRESSION_ERROR");
ok t_cmp(up_stats($bad)->{seen}, 1, "... and that request was not sent again");
ok t_cmp(join(' ', map { $_->{code} } @res), join(' ', (200) x 9),
         "the 9 unrelated GETs in flight on the same connection succeed");
my $resent = grep { (up_stats($_)->{seen} // 0) == 2 } @tags;
ok t_cmp($resent >= 1 ? 1 : 0, 1, "... $resent of them resent after the connection broke");
