# Upstream host names are looked up off the engine thread, with every
# address they resolve to: "localhost" (127.0.0.1, and ::1 where nothing
# listens) serves every request, however the addresses are ordered; a
# name that does not resolve gets 503 and a log line naming it, while
# requests to other upstreams go on meanwhile; resolve= looks names up
# again as time passes.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use POSIX ();
use Time::HiRes qw(sleep time);

plan tests => 7;

my $mark = error_log_mark();
my @codes = map { req(proto => 'h1', url => gw_url("/byname/data?size=10&n=$_"))->{code} } 1 .. 6;
ok t_cmp("@codes", join(' ', (200) x 6), 'a pass to localhost: every request answered');
my $log = error_log_since($mark);
ok t_cmp($log =~ /looking up localhost/ ? 1 : 0, 1, 'the name was looked up by the resolver thread');
my ($n) = $log =~ /localhost has (\d+) address/;
ok t_cmp(($n // 0) >= 1 ? 1 : 0, 1, 'the lookup found its addresses (' . ($n // 0) . ')');

# A name that does not resolve: 503, while another upstream answers.
$mark = error_log_mark();
pipe(my $r, my $w) or die;
my $pid = fork // die;
if (!$pid) {
    close $r;
    my $res = req(proto => 'h1', url => gw_url('/noname/data?size=10'), quiet => 1);
    print $w "$res->{code}\n";
    close $w;
    POSIX::_exit(0);
}
close $w;
my $other = req(proto => 'h1', url => gw_url('/up/data?size=10'));
ok t_cmp($other->{code}, 200, 'another upstream answers while the name is being looked up');
my $code = <$r>;
chomp($code //= '');
waitpid $pid, 0;
ok t_cmp($code, 503, 'a name that does not resolve: 503');
ok t_cmp(error_log_since($mark) =~ /H2GW00107: upstream h2c:\/\/no-such-host\.invalid\/: cannot resolve no-such-host\.invalid/ ? 1 : 0, 1,
         'the log names the upstream and the name');

# resolve=1: a second later the next request has the name looked up
# again in the background; it is answered over the addresses known.
sleep 1.2;
$mark = error_log_mark();
my $res = req(proto => 'h1', url => gw_url('/byname/data?size=10'));
sleep 0.2;
ok t_cmp($res->{code} == 200 && error_log_since($mark) =~ /looking up localhost/ ? 1 : 0, 1,
         'resolve=1: looked up again after a second, the request answered');
