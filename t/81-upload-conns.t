# Uploads and the upstream's connection window. The test upstream gives
# each connection a 64 KiB receive window, so request bodies on one
# connection wait for its WINDOW_UPDATEs. A new upload then goes to
# another connection (up to max-conns=3) rather than queue behind the
# others on the same window; every body still arrives intact. And with
# connections open, a new upload goes to the one with the fewest uploads
# in flight, not onto the first with a free stream slot.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use IO::Socket::INET;
use Digest::SHA qw(sha256_hex);

plan tests => 11;

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

# Spread over the open connections. Upload C (HTTP/1.1, half its body
# sent, the rest held back by this client) takes a connection; upload D,
# sent while C's body is incomplete, must go to another open connection,
# though C's still has free stream slots and window to spare.
my $open = gw_status('uploads')->{servers}[0]{conns_open} // 0;
ok t_cmp($open >= 2 ? 1 : 0, 1, "two connections or more are open ($open)");
my $half = 'c' x 1000;
my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => Apache::Test::vars('port'))
    or die "connect: $!";
print $c "POST /uploads/upload HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Length: 2000\r\n\r\n$half";
my $placed = 0;
for (1 .. 200) {
    $placed = gw_status('uploads')->{servers}[0]{streams_active} // 0;
    last if $placed >= 1;
    select undef, undef, undef, 0.02;
}
ok t_cmp($placed, 1, 'upload C is on a connection, its body incomplete');
my $d = req(proto => 'h2', method => 'POST', upload => $small,
            url => gw_url('/uploads/upload'));
print $c $half;
my ($chead, $cbody) = read_h1_response($c, 30);
my ($cconn) = ($chead // '') =~ /^x-h2up-conn:\s*(\d+)/mi;
my $dconn = $d->{hdr}{'x-h2up-conn'};
ok t_cmp($cbody, "size=2000\nsha256=" . sha256_hex('c' x 2000) . "\n",
         'upload C arrives intact');
ok t_cmp(defined $cconn && defined $dconn && $cconn != $dconn ? 1 : 0, 1,
         "upload D went to another connection than C's, which had an "
         . "upload in flight (C on " . ($cconn // '?') . ", D on "
         . ($dconn // '?') . ")");
