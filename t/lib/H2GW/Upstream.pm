package H2GW::Upstream;
# Starts and stops the C test upstream (t/h2up/h2up) for the suite and
# for the demo, and picks free loopback ports.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
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
# port file, returns { pid, port }. P may be a port an older instance
# still listens on (h2up binds with SO_REUSEPORT): from then on the kernel
# shares new connections between both until the older one is stopped.
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
        # A failed start (port taken, bad option) need not be waited out.
        die "h2up exited at once (status $?): @cmd\n"
            if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    open my $fh, '<', $pf or die "h2up did not start ($pf)\n";
    chomp(my $port = <$fh>);
    return { pid => $pid, port => $port };
}

# stop($up or $pid, ...): SIGTERM, the graceful stop (listener closed,
# GOAWAY, the in-flight streams finish; h2up gives up after 10 s), then
# waits; what is still there after 15 s gets SIGKILL. Several are stopped
# side by side.
sub stop {
    my @pids = grep { $_ } map { ref $_ ? $_->{pid} : $_ } @_;
    kill 'TERM', @pids;
    for (1 .. 300) {
        @pids = grep { is_running($_) } @pids;
        return unless @pids;
        sleep 0.05;
    }
    kill 'KILL', @pids;
    waitpid($_, 0) for @pids;    # SIGKILL is prompt; not ours: returns -1
}

# Reaps pid if it is a child of ours. One that is not (after a re-exec of
# the test runner) is gone once it is no process or only a zombie left
# for its own parent.
sub is_running {
    my ($pid) = @_;
    my $r = waitpid($pid, WNOHANG);
    return 0 if $r == $pid;
    return 1 if $r == 0;
    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';    # empty once the process has gone
    my ($state) = $stat =~ /\)\s+(\S)/;
    return ($state // 'Z') ne 'Z';
}

1;
