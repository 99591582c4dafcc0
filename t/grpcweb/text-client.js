// gRPC-Web *text* client for t/39-grpc-web.t, written here because the
// connect-node transport speaks only binary gRPC-Web: a base64 request
// (application/grpc-web-text+proto), a base64 response decoded as it
// streams, 4 characters at a time (padding may end any piece), split
// into frames, the trailer frame parsed. Node's own http and http2
// modules, no library.
//
//   node text-client.js BASEURL 1.1|2 METHOD TEXT [RELEASE_TAG]
// With RELEASE_TAG, once the first message frame arrived the client calls
// Release(RELEASE_TAG) (binary gRPC-Web) before reading on: the server
// holds the stream until then (see t/grpc/grpc_server.py, Count).
// Prints one JSON object: status, headers, messages (count, first, last,
// "hold-expired" seen), the trailer frame's fields, whether every piece
// of base64 came padded at frame ends.
"use strict";
const http = require("node:http");
const http2 = require("node:http2");

function msg(text) {
    const t = Buffer.from(text);
    return Buffer.concat([Buffer.from([0x0a, t.length]), t]);
}

function frame(body) {
    const h = Buffer.alloc(5);
    h.writeUInt32BE(body.length, 1);
    return Buffer.concat([h, body]);
}

function pbText(b) {
    return b.length ? b.subarray(2, 2 + b[1]).toString() : "";
}

// POST over HTTP/1.1 or HTTP/2 (prior knowledge); calls onData with each
// piece of the response body as it arrives. Resolves {status, headers}.
function post(url, version, headers, body, onData) {
    return new Promise((resolve, reject) => {
        const u = new URL(url);
        if (version === "2") {
            const session = http2.connect(u.origin);
            session.on("error", reject);
            const req = session.request(Object.assign({
                ":method": "POST", ":path": u.pathname }, headers));
            let head;
            req.on("response", (h) => { head = h; });
            req.on("data", (d) => onData(d));
            req.on("end", () => {
                session.close();
                resolve({ status: head[":status"], headers: head });
            });
            req.on("error", reject);
            req.end(body);
            return;
        }
        const req = http.request(u, { method: "POST", headers,
                                      agent: false }, (res) => {
            res.on("data", (d) => onData(d));
            res.on("end", () => resolve({ status: res.statusCode,
                                          headers: res.headers }));
        });
        req.on("error", reject);
        req.end(body);
    });
}

async function main() {
    const [base, version, method, text, tag] = process.argv.slice(2);
    const out = { count: 0, expired: false, trailer: null,
                  paddedAtFrameEnds: true, released: false };
    let chars = "";   // base64 not yet decoded (less than 4)
    out.leftover = 0;
    let bytes = Buffer.alloc(0);   // decoded, not yet a whole frame
    let pending = Promise.resolve();
    const onFrame = (flags, body) => {
        if (flags & 0x80) {
            out.trailer = {};
            for (const line of body.toString().split("\r\n")) {
                const i = line.indexOf(":");
                if (i > 0) {
                    out.trailer[line.slice(0, i)] = line.slice(i + 1).trim();
                }
            }
            return;
        }
        const t = pbText(body);
        if (t === "hold-expired") {
            out.expired = true;
            return;
        }
        if (out.count === 0) {
            out.first = t;
        }
        out.last = t;
        out.count++;
        if (out.count === 1 && tag) {
            pending = release(base, tag).then((r) => { out.released = r; });
        }
    };
    const onData = (d) => {
        chars += d.toString("latin1");
        const whole = chars.length - (chars.length % 4);
        for (let i = 0; i < whole; i += 4) {
            bytes = Buffer.concat([bytes,
                                   Buffer.from(chars.slice(i, i + 4),
                                               "base64")]);
        }
        chars = chars.slice(whole);
        for (;;) {
            if (bytes.length < 5) {
                break;
            }
            const len = bytes.readUInt32BE(1);
            if (bytes.length < 5 + len) {
                break;
            }
            onFrame(bytes[0], bytes.subarray(5, 5 + len));
            bytes = bytes.subarray(5 + len);
        }
        // The gateway pads at every frame's end: a piece that leaves
        // undecoded characters or bytes behind ended inside a frame,
        // which is allowed, but the last one must not.
        out.leftover = chars.length + bytes.length;
    };
    const body = Buffer.from(frame(msg(text)).toString("base64"));
    const res = await post(base + "/h2gw.test.Web/" + method, version, {
        "content-type": "application/grpc-web-text+proto",
        "accept": "application/grpc-web-text",
        "x-grpc-web": "1",
    }, body, onData);
    await pending;
    out.status = res.status;
    out.contentType = res.headers["content-type"];
    out.grpcStatus = res.headers["grpc-status"];
    out.paddedAtFrameEnds = out.leftover === 0;
    delete out.leftover;
    process.stdout.write(JSON.stringify(out) + "\n");
}

// Release(tag), binary gRPC-Web over HTTP/1.1.
function release(base, tag) {
    let got = Buffer.alloc(0);
    return post(base + "/h2gw.test.Web/Release", "1.1", {
        "content-type": "application/grpc-web+proto",
    }, frame(msg(tag)), (d) => { got = Buffer.concat([got, d]); })
        .then(() => got.length > 5 && pbText(got.subarray(5, 5 +
                                                got.readUInt32BE(1)))
                                      === "released");
}

main().catch((e) => {
    process.stdout.write(JSON.stringify({ crashed: String(e && e.stack) })
                         + "\n");
    process.exit(1);
});
