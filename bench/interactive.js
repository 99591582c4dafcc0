// The interactive case of bench/interactive.sh: one long request without
// Content-Length (a gRPC bidi call, a chat), a 100-byte message after a
// pause, and the time until its echo comes back; repeated, median and p90
// in milliseconds. HTTP/2 prior knowledge or HTTP/1.1 chunked.
// Usage: node bench/interactive.js h2|h1 URL PAUSE_MS ROUNDS
// Prints one JSON line: {"proto", "url", "pause_ms", "n", "median_ms", "p90_ms"}.
'use strict';
const http2 = require('http2');
const http = require('http');

const [proto, url, pauseArg, roundsArg] = process.argv.slice(2);
const pause = Number(pauseArg);
const rounds = Number(roundsArg);
const msg = Buffer.alloc(100, 'm');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function open() {
    const u = new URL(url);
    if (proto === 'h2') {
        const session = http2.connect(u.origin);
        const req = session.request({ ':method': 'POST', ':path': u.pathname + u.search,
                                      'content-type': 'application/octet-stream' });
        return { req, body: req, close: () => { req.end(); session.close(); } };
    }
    const agent = new http.Agent({ keepAlive: false });
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search,
                               method: 'POST', agent,
                               headers: { 'transfer-encoding': 'chunked',
                                          'content-type': 'application/octet-stream' } });
    req.flushHeaders();
    req.setNoDelay(true);
    let resolveBody;
    const body = new Promise((r) => { resolveBody = r; });
    req.on('response', (res) => resolveBody(res));
    return { req, body, close: () => { req.end(); } };
}

async function main() {
    const c = open();
    const times = [];
    let waiting = null;
    let got = 0;
    const onData = (d) => {
        got += d.length;
        if (waiting && got >= msg.length) {
            got -= msg.length;
            const w = waiting;
            waiting = null;
            w();
        }
    };
    // The first message opens the response (its headers, then the echo).
    const first = new Promise((r) => { waiting = r; });
    c.req.write(msg);
    const body = await c.body;
    if (proto === 'h2') { c.req.on('data', onData); } else { body.on('data', onData); }
    await first;
    for (let i = 0; i < rounds; i++) {
        await sleep(pause);
        const done = new Promise((r) => { waiting = r; });
        const t0 = process.hrtime.bigint();
        c.req.write(msg);
        await done;
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    c.close();
    times.sort((a, b) => a - b);
    const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
    console.log(JSON.stringify({ proto, url, pause_ms: pause, n: times.length,
                                 median_ms: q(0.5), p90_ms: q(0.9) }));
    process.exit(0);
}
main().catch((e) => { console.log(JSON.stringify({ proto, url, pause_ms: pause, error: String(e) })); process.exit(1); });
