#!/usr/bin/perl
# The slow reader of bench/run.sh: runs curl with the given arguments
# (body to stdout) and reads that output at a steady BYTES_PER_SECOND, so
# curl blocks on the pipe, stops reading its socket and the server side
# sees a client that drains slowly. (curl --limit-rate alone reads a burst
# of megabytes, then stops for tens of seconds.) The bytes read so far are
# written to PROGRESS_FILE about ten times a second; at the end of the body
# the file gets "eof BYTES". SIGTERM stops curl and this reader.
#   slowread.pl BYTES_PER_SECOND PROGRESS_FILE curl-argument...
use strict;
use warnings;
use Time::HiRes qw(sleep time);

my ($rate, $progress, @curl) = @ARGV;
die "usage: slowread.pl BYTES_PER_SECOND PROGRESS_FILE curl-args...\n"
    unless $rate && $progress && @curl;
my $pid = open(my $in, '-|', 'curl', @curl) or die "curl: $!\n";
$SIG{TERM} = $SIG{INT} = sub { kill 'TERM', $pid; exit 0 };

sub report {
    my ($text) = @_;
    open my $fh, '>', "$progress.tmp" or return;
    print $fh "$text\n";
    close $fh;
    rename "$progress.tmp", $progress;
}

my $chunk = 4096;
my $interval = $chunk / $rate;
my ($total, $buf, $next, $last_report) = (0, '', time, 0);
report(0);
while (1) {
    my $n = sysread($in, $buf, $chunk);
    last unless $n;
    $total += $n;
    if (time - $last_report >= 0.1) { report($total); $last_report = time; }
    $next += $interval;
    my $wait = $next - time;
    sleep $wait if $wait > 0;
}
report("eof $total");
close $in;
exit 0;
