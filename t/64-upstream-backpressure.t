# An upstream that reads slowly: the gateway gathers request DATA frames
# into one buffer per connection and writes them at once; when the
# upstream's socket is full, a write stops half way and the rest goes out
# when the socket takes more. Here a relay between the gateway and a test
# upstream (16 MiB stream and connection windows, so HTTP/2 flow control
# holds nothing back) reads at about 1.6 MB/s per connection from a small
# receive buffer. Concurrent uploads must arrive byte for byte, and a GET
# on the same connection is answered meanwhile.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use H2GW::Upstream;
use Digest::SHA;
use IO::Select;
use POSIX ();
use Socket qw(SOL_SOCKET SO_RCVBUF SO_REUSEADDR AF_INET SOCK_STREAM INADDR_LOOPBACK
              pack_sockaddr_in inet_aton);

plan tests => 3 + 4;

my $window = 16 * 1024 * 1024;
my $up = H2GW::Upstream::start(name => 'bigwin',
                               args => ['--window', $window, '--conn-window', $window]);

# The relay: gateway -> upstream at most 8 KiB per connection every 5 ms,
# upstream -> gateway at once.
my $parent = $$;
my $relay = fork // die "fork: $!";
if (!$relay) {
    socket(my $l, AF_INET, SOCK_STREAM, 0) or POSIX::_exit(1);
    setsockopt($l, SOL_SOCKET, SO_REUSEADDR, 1);
    setsockopt($l, SOL_SOCKET, SO_RCVBUF, pack('i', 4096));   # accepted ones inherit it
    bind($l, pack_sockaddr_in($ENV{H2GW_SLOWREAD_PORT}, INADDR_LOOPBACK)) or POSIX::_exit(1);
    listen($l, 16) or POSIX::_exit(1);
    my $sel = IO::Select->new($l);
    my %peer;      # fileno -> the other socket
    my %from_gw;   # fileno of sockets that face the gateway
    my %sock;
    while (getppid() == $parent) {   # not left behind by a test that died
        for my $s ($sel->can_read(0.005)) {
            if ($s == $l) {
                accept(my $c, $l) or next;
                socket(my $u, AF_INET, SOCK_STREAM, 0) or next;
                connect($u, pack_sockaddr_in($up->{port}, inet_aton('127.0.0.1'))) or next;
                $peer{fileno $c} = $u;
                $peer{fileno $u} = $c;
                $from_gw{fileno $c} = 1;
                $sock{fileno $c} = $c;
                $sock{fileno $u} = $u;
                $sel->add($c, $u);
                next;
            }
            my $n = sysread($s, my $buf, $from_gw{fileno $s} ? 8192 : 262144);
            my $p = $peer{fileno $s};
            if (!$n) {
                $sel->remove($s, $p);
                close $s;
                close $p;
                next;
            }
            my $off = 0;
            while ($off < $n) {
                my $w = syswrite($p, $buf, $n - $off, $off);
                last unless defined $w;
                $off += $w;
            }
        }
        select(undef, undef, undef, 0.005);
    }
    POSIX::_exit(0);
}

sub stop_all {
    kill 'TERM', $relay;
    waitpid $relay, 0;
    H2GW::Upstream::stop($up);
}

my $size = 2 * 1024 * 1024;
my $file = make_file($size);
my $want = do {
    open my $fh, '<:raw', $file or die "$file: $!";
    Digest::SHA->new(256)->addfile($fh)->hexdigest;
};

my $n = 3;
# $n uploads at once from forked clients; returns how many arrived intact.
sub concurrent_uploads {
    my ($proto) = @_;
    my @kids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $res = req(proto => $proto, method => 'POST', upload => $file, quiet => 1,
                          url => gw_url("/slowread/upload?tag=bp$$"), args => ['--max-time', '60']);
            POSIX::_exit($res->{code} == 200 && $res->{body} =~ /size=$size\nsha256=$want\n/ ? 0 : 1);
        }
        push @kids, $pid;
    }
    return \@kids;
}
sub intact { my $ok = 0; for (@{ $_[0] }) { waitpid($_, 0); $ok++ if $? == 0 } return $ok }

my $kids = concurrent_uploads('h1');
# Meanwhile, on the same upstream connection(s), a response comes back.
sleep 1;
my $get = req(proto => 'h1', url => gw_url('/slowread/data?size=5000'), args => ['--max-time', '30']);
ok t_cmp(intact($kids), $n, "$n concurrent uploads of $size bytes through a slow-reading upstream socket arrive intact");
ok t_cmp($get->{code}, 200, "a GET on the same pass is answered while the uploads wait for the socket");
ok t_cmp(length($get->{body}), 5000, "... with its whole body");

# The same over an HTTP/2 frontend.
ok t_cmp(intact(concurrent_uploads('h2')), $n,
         "h2: $n concurrent uploads through the slow-reading socket arrive intact");
ok t_cmp(alive_when_idle(), '0/0', 'no stream or chunk left behind');
my $st = gw_status("h2c://127.0.0.1:$ENV{H2GW_SLOWREAD_PORT}");
ok t_cmp($st->{servers}[0]{conns_failed}, 0, 'no upstream connection failed');
ok t_cmp(($st->{servers}[0]{writes_blocked} // 0) > 0 ? 1 : 0, 1,
         "writes did stop half way: the status page counts $st->{servers}[0]{writes_blocked} blocked writes");
stop_all();
