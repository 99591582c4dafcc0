# Uploads and the upstream's connection window. The test upstream gives
# each connection a 64 KiB receive window, so request bodies on one
# connection wait for its WINDOW_UPDATEs. A new upload then goes to
# another connection (up to max-conns=3) rather than queue behind the
# others on the same window; every body still arrives intact.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 4;

my $file = make_file(4 * 1024 * 1024);
my $before = gw_status('uploads') // {};
my $opened0 = $before->{servers}[0]{conns_opened} // 0;

# 4 clients, 24 uploads of 4 MiB, each client sending its next as soon
# as the last is answered: uploads are always in flight when one starts.
my $out = `h2load -n 24 -c 4 -m 1 -d '$file' '${\ gw_url('/uploads/upload')}' 2>&1`;
my ($ok) = $out =~ /(\d+) succeeded/;
ok t_cmp($ok, 24, 'all 24 uploads succeeded');

my $st = gw_status('uploads');
my $opened = $st->{servers}[0]{conns_opened} - $opened0;
ok t_cmp($opened >= 2 ? 1 : 0, 1,
         "uploads held back by one connection's window opened another ($opened opened)");
ok t_cmp($opened <= 3 ? 1 : 0, 1, "no more than max-conns=3 ($opened)");

# Intact: one more upload's digest as the upstream computed it.
my $res = req(proto => 'h2', method => 'POST', upload => $file,
              url => gw_url('/uploads/upload'));
ok t_cmp($res->{body}, "size=" . (-s $file) . "\nsha256=" . sha256_file($file) . "\n",
         'an upload through the pool arrives intact');
