# Tunable SETTINGS: what a pass configures (window, max-frame-size,
# header-table-size, max-header-list) is what the upstream receives in
# our SETTINGS; ENABLE_PUSH is 0 always; max-header-list is also the limit
# on the response header block (over it → 502, under it → 200).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 7;

my $port = $ENV{H2GW_UP2_PORT};
up_reset_at($port);
my $res = req(proto => 'h1', url => gw_url('/tuned/data?size=100'));
ok t_cmp($res->{code}, 200, "a request through the tuned pass");
my $s = up_stats_at($port);
ok t_cmp($s->{client_initial_window_size}, 100 * 1024, "window=100K: SETTINGS_INITIAL_WINDOW_SIZE as configured");
ok t_cmp($s->{client_max_frame_size}, 32 * 1024, "max-frame-size=32K: SETTINGS_MAX_FRAME_SIZE");
ok t_cmp($s->{client_header_table_size}, 8 * 1024, "header-table-size=8K: SETTINGS_HEADER_TABLE_SIZE");
ok t_cmp($s->{client_max_header_list_size}, 16 * 1024, "max-header-list=16K: SETTINGS_MAX_HEADER_LIST_SIZE");

$res = req(proto => 'h2', url => gw_url('/tuned/data?size=10&hdrsize=20000'));
ok t_cmp($res->{code}, 502, "a 20,000-byte response header block over max-header-list=16K → 502");
$res = req(proto => 'h2', url => gw_url('/tuned/data?size=10&hdrsize=8000'));
ok t_cmp($res->{code}, 200, "an 8,000-byte one passes");
