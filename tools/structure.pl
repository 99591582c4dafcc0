#!/usr/bin/env perl
# The shape of the module's sources, for a reviewer: lines per file, the
# functions over 100 lines, and the cycles in the graph of which file's
# header each file includes (a module is NAME.c with NAME.h).
#
#   tools/structure.pl [DIR]        (DIR: mod_h2gw, the default)
#   tools/structure.pl --rev REV    (the same, of a git revision)
use strict;
use warnings;

my ($dir, $rev) = ('mod_h2gw', undef);
while (@ARGV) {
    my $a = shift @ARGV;
    if ($a eq '--rev') { $rev = shift @ARGV; }
    else { $dir = $a; }
}

# name => text of every .c and .h file
my %src;
if (defined $rev) {
    for my $f (split /\n/, `git ls-tree --name-only $rev $dir/`) {
        next unless $f =~ m{([^/]+\.[ch])$};
        $src{$1} = `git show $rev:$f`;
    }
}
else {
    opendir(my $dh, $dir) or die "$dir: $!\n";
    for my $f (grep { /\.[ch]$/ } readdir $dh) {
        open(my $fh, '<', "$dir/$f") or die "$dir/$f: $!\n";
        local $/;
        $src{$f} = <$fh>;
    }
}

print "## Lines per file\n\n";
my $total = 0;
for my $f (sort { ($src{$b} =~ tr/\n//) <=> ($src{$a} =~ tr/\n//) } keys %src) {
    my $n = ($src{$f} =~ tr/\n//);
    $total += $n;
    printf "%6d %s%s\n", $n, $f, $n > 1000 ? "   (over 1000)" : "";
}
printf "%6d total\n", $total;

print "\n## Functions over 100 lines\n\n";
my @long;
for my $f (sort keys %src) {
    next unless $f =~ /\.c$/;
    my @l = split /\n/, $src{$f};
    my ($start, $name);
    for my $i (0 .. $#l) {
        if (!defined $start && $l[$i] =~ /^[A-Za-z_].*\b(\w+)\s*\(/
            && $l[$i] !~ /;\s*$/ && $l[$i] !~ /^(typedef|struct|#)/) {
            ($start, $name) = ($i, $1);
            next;
        }
        if (defined $start && $l[$i] =~ /^\}/) {
            my $len = $i - $start + 1;
            push @long, [$len, "$f:" . ($start + 1), $name] if $len > 100;
            undef $start;
        }
        elsif (defined $start && $l[$i] =~ /;\s*$/ && $i == $start) {
            undef $start;
        }
    }
}
if (@long) {
    printf "%6d %s %s\n", @$_ for sort { $b->[0] <=> $a->[0] } @long;
}
else {
    print "none\n";
}

# The include graph between modules.
my %edge;
# mod_h2gw.h is the common header (the module record, log macros), not
# mod_h2gw.c's interface: a node of its own.
sub module { my $f = shift; return $f eq 'mod_h2gw.h' ? $f : $f =~ s/\.[ch]$//r; }
for my $f (keys %src) {
    my $m = module($f);
    while ($src{$f} =~ /^#include "([\w]+\.h)"/mg) {
        my $to = module($1);
        next if $to eq $m;
        $edge{$m}{$to} = 1;
    }
    $edge{$m} //= {};
}
# Tarjan's strongly connected components: a component of more than one
# module is a cycle.
my ($index, @stack, %on, %idx, %low, @sccs) = (0);
my $visit;
$visit = sub {
    my $v = shift;
    $idx{$v} = $low{$v} = $index++;
    push @stack, $v;
    $on{$v} = 1;
    for my $w (sort keys %{ $edge{$v} }) {
        if (!exists $idx{$w}) {
            $visit->($w);
            $low{$v} = $low{$w} if $low{$w} < $low{$v};
        }
        elsif ($on{$w}) {
            $low{$v} = $idx{$w} if $idx{$w} < $low{$v};
        }
    }
    if ($low{$v} == $idx{$v}) {
        my @c;
        while (1) {
            my $w = pop @stack;
            delete $on{$w};
            push @c, $w;
            last if $w eq $v;
        }
        push @sccs, [sort @c] if @c > 1;
    }
};
for my $v (sort keys %edge) {
    $visit->($v) unless exists $idx{$v};
}
print "\n## Include cycles (modules that include each other's headers)\n\n";
if (@sccs) {
    for my $c (@sccs) {
        my %in = map { $_ => 1 } @$c;
        my @e;
        for my $v (@$c) {
            push @e, "$v->$_" for grep { $in{$_} } sort keys %{ $edge{$v} };
        }
        print join(', ', @$c), ": ", join(' ', @e), "\n";
    }
}
else {
    print "none\n";
}
