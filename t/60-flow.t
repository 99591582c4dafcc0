# End-to-end flow control: a client reading a 16 MiB body slowly holds
# the upstream back through the stream window (/small/ has window=64K):
# the upstream finds its window exhausted, and the bytes the module
# buffers for the request never exceed that window, whatever the body
# size. The bound is asserted, not a time. Both frontends.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 2 * 4;

my $window = 64 * 1024;
my $size = 16 * 1024 * 1024;

for my $fe (frontends()) {
    my $tag = "slow$fe$$";
    my $res = req(proto => $fe, url => gw_url("/small/data?size=$size&tag=$tag"),
                  args => ['--limit-rate', '4M']);
    ok t_cmp($res->{sha256}, $res->{hdr}{'x-h2up-sha256'}, "$fe: slow reader gets the whole body intact");
    my $st = up_stats($tag);
    ok t_cmp($st->{flow_blocked} > 0 ? 1 : 0, 1,
             "$fe: the upstream was held by flow control ($st->{flow_blocked} times)");
    my $line = access_log_line("tag=$tag");
    my ($max) = $line =~ /h2gw_buffered_max=(\d+)/;
    ok t_cmp(defined $max ? 1 : 0, 1, "$fe: the module reports its buffered bytes");
    ok t_cmp(($max // 1e9) <= $window ? 1 : 0, 1,
             "$fe: bytes buffered for the stream ($max) stay within the window ($window)");
}
