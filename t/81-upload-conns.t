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

plan tests => 7;

my $file = make_file(4 * 1024 * 1024);
my $small = make_file(256 * 1024);
my $want = sub { "size=" . (-s $_[0]) . "\nsha256=" . sha256_file($_[0]) . "\n" };

# The state forced: upload A's connection has no window left. The
# upstream keeps A's bytes unconsumed (hold=), so the connection window
# stays shut, until a request with release= arrives on ANOTHER
# connection (or 10 s pass: hold_expired). Upload B is sent only once
# A filled the window; B releases A only if the gateway put it on a
# second connection.
up_reset();
my $hold = tag();
my $pid = fork // die "fork: $!";
if (!$pid) {
    my $r = req(proto => 'h2', method => 'POST', upload => $file,
                url => gw_url("/uploads/upload?hold=$hold"));
    exit($r->{code} == 200 && $r->{body} eq $want->($file) ? 0 : 1);
}
my $held = 0;
for (1 .. 100) {
    $held = up_stats()->{held} // 0;
    last if $held >= 65535;
    select undef, undef, undef, 0.05;
}
ok t_cmp($held, 65535, "upload A holds its connection's whole window");

my $b = req(proto => 'h2', method => 'POST', upload => $small,
            url => gw_url("/uploads/upload?release=$hold"));
ok t_cmp($b->{body}, $want->($small), 'upload B arrives intact');
waitpid $pid, 0;
ok t_cmp($?, 0, 'upload A arrives intact once released');
my $s = up_stats();
ok t_cmp("released=$s->{released} expired=$s->{hold_expired}",
         'released=1 expired=0',
         'upload B went on another connection than the one out of window');

# Under load: 4 clients, 24 uploads of 4 MiB, each client sending its
# next as soon as the last is answered.
my $before = gw_status('uploads') // {};
my $opened0 = $before->{servers}[0]{conns_opened} // 0;
my $out = `h2load -n 24 -c 4 -m 1 -d '$file' '${\ gw_url('/uploads/upload')}' 2>&1`;
my ($ok) = $out =~ /(\d+) succeeded/;
ok t_cmp($ok, 24, 'all 24 uploads succeeded');
my $st = gw_status('uploads');
ok t_cmp($st->{servers}[0]{conns_open} <= 3 ? 1 : 0, 1,
         "no more than max-conns=3 open ($st->{servers}[0]{conns_open})");

# Intact: one more upload's digest as the upstream computed it.
my $res = req(proto => 'h2', method => 'POST', upload => $file,
              url => gw_url('/uploads/upload'));
ok t_cmp($res->{body}, $want->($file), 'an upload through the pool arrives intact');
