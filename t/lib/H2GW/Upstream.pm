package H2GW::Upstream;
# Starts and stops the C test upstream (t/h2up/h2up) for the suite and
# for the demo, and picks free loopback ports.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

my $top = File::Spec->rel2abs(dirname(__FILE__) . '/../../..');

sub binary { "$top/t/h2up/h2up" }

# A port nothing listens on right now (bound, read, released).
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "cannot bind a loopback port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# start(name => N, port => P, args => [...]): forks h2up, waits for its
# port file, returns { pid, port }.
sub start {
    my %o = @_;
    my $bin = binary();
    die "$bin is not built (run make)\n" unless -x $bin;
    my $dir = "$top/t/logs";
    mkdir $dir unless -d $dir;
    my $pf = "$dir/h2up-$o{name}.port";
    unlink $pf;
    my @cmd = ($bin, '--port', $o{port} // 0, '--port-file', $pf,
               '--quiet', '--die-with-parent', @{ $o{args} // [] });
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        exec @cmd or die "exec $bin: $!";
    }
    for (1 .. 200) {
        last if -s $pf;
        sleep 0.05;
    }
    open my $fh, '<', $pf or die "h2up did not start ($pf)\n";
    chomp(my $port = <$fh>);
    return { pid => $pid, port => $port };
}

1;
