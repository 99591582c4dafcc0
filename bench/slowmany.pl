#!/usr/bin/perl
# Many clients that never read: bench/run.sh's memory test.
#   slowmany.pl N PORT PATH HOLD
# Opens N HTTP/1.1 connections to 127.0.0.1:PORT, sends "GET PATH" on
# each, reads nothing, prints "ready N" on stdout once all are sent and
# keeps the connections open for HOLD seconds (or until it is killed).
# Receive buffers are kept small, so the server's sends stall at once and
# what it holds back stays in its own memory.
use strict;
use warnings;
use IO::Handle;
use Socket qw(AF_INET SOCK_STREAM SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in);

my ($n, $port, $path, $hold) = @ARGV;
die "usage: slowmany.pl N PORT PATH HOLD\n" unless $n && $port && $path && $hold;
$| = 1;
my @socks;
for my $i (1 .. $n) {
    socket(my $s, AF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
    # Before connect, so the window offered is small from the start.
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', 4096));
    connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1')))
        or die "connection $i: $!\n";
    $s->autoflush(1);
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n" or die "send $i: $!\n";
    push @socks, $s;
}
print "ready ", scalar(@socks), "\n";
sleep $hold;
close $_ for @socks;
