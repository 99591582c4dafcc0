// gRPC-Web client for t/39-grpc-web.t, on a client library nobody here
// wrote: @connectrpc/connect-node's gRPC-Web transport (binary), over
// HTTP/1.1 or HTTP/2. Messages and the service are defined at run time
// (no generated code): h2gw.test.Msg { string text = 1; } and the
// methods of t/grpc/grpc_server.py.
//
//   node client.js suite BASEURL 1.1|2 TAG
//       unary call with metadata, an error with details, a server stream
//       of 10,000 messages that the server holds after the first until
//       this client calls Release (so the first must arrive while the
//       server is still sending), a stream that ends in an error
//   node client.js call BASEURL 1.1|2 SERVICE METHOD TEXT [TIMEOUT_MS]
//       one unary call, with a deadline (grpc-timeout) when given
// Prints one JSON object.
"use strict";
const { proto3, MethodKind } = require("@bufbuild/protobuf");
const { createPromiseClient, ConnectError, Code } =
    require("@connectrpc/connect");
const { createGrpcWebTransport } = require("@connectrpc/connect-node");

const Msg = proto3.makeMessageType("h2gw.test.Msg", [
    { no: 1, name: "text", kind: "scalar", T: 9 /* string */ },
]);

function service(typeName) {
    const m = (name, kind) => ({ name, I: Msg, O: Msg, kind });
    return {
        typeName,
        methods: {
            say: m("Say", MethodKind.Unary),
            count: m("Count", MethodKind.ServerStreaming),
            release: m("Release", MethodKind.Unary),
            countFail: m("CountFail", MethodKind.ServerStreaming),
            nap: m("Nap", MethodKind.Unary),
        },
    };
}

function client(baseUrl, httpVersion, typeName) {
    const transport = createGrpcWebTransport({ baseUrl, httpVersion });
    return createPromiseClient(service(typeName || "h2gw.test.Web"),
                               transport);
}

function failure(e) {
    const err = ConnectError.from(e);
    return {
        code: Code[err.code],
        message: err.rawMessage,
        details: err.findDetails(Msg).map((d) => d.text),
        meta: Object.fromEntries(err.metadata),
    };
}

async function unary(c) {
    const out = {};
    const res = await c.say({ text: "hello" }, {
        headers: { "x-h2gw-in": "meta-in" },
        onHeader: (h) => { out.header = h.get("x-h2gw-echo"); },
        onTrailer: (t) => { out.trailer = t.get("x-h2gw-trailer"); },
    });
    out.code = "OK";
    out.text = res.text;
    return out;
}

async function error(c) {
    try {
        await c.say({ text: "fail:no such widget" });
        return { code: "OK" };
    }
    catch (e) {
        return failure(e);
    }
}

// The server holds the stream after message 0 until Release(tag): this
// client releases it only once message 0 arrived, so a gateway that
// held back the response would leave the server waiting (it then sends
// "hold-expired").
async function stream(c, tag) {
    const out = { count: 0, inOrder: true, expired: false, released: false,
                  releasedAt: -1 };
    for await (const m of c.count({ text: "10000:" + tag }, {
        onTrailer: (t) => { out.trailer = t.get("x-h2gw-count"); },
    })) {
        if (m.text === "hold-expired") {
            out.expired = true;
            continue;
        }
        if (m.text !== String(out.count)) {
            out.inOrder = false;
        }
        out.count++;
        if (out.count === 1) {
            const r = await c.release({ text: tag });
            out.released = r.text === "released";
            out.releasedAt = out.count;
        }
    }
    out.code = "OK";
    return out;
}

async function streamFail(c) {
    const texts = [];
    try {
        for await (const m of c.countFail({ text: "x" })) {
            texts.push(m.text);
        }
        return { code: "OK", texts };
    }
    catch (e) {
        return Object.assign(failure(e), { texts });
    }
}

async function main() {
    const [mode, baseUrl, httpVersion, ...rest] = process.argv.slice(2);
    let out;
    if (mode === "suite") {
        const c = client(baseUrl, httpVersion);
        out = {
            unary: await unary(c),
            error: await error(c),
            stream: await stream(c, rest[0]),
            streamFail: await streamFail(c),
        };
    }
    else {
        const [typeName, method, text, timeoutMs] = rest;
        const c = client(baseUrl, httpVersion, typeName);
        try {
            const res = await c[method]({ text }, timeoutMs
                ? { timeoutMs: Number(timeoutMs) } : {});
            out = { code: "OK", text: res.text };
        }
        catch (e) {
            out = failure(e);
        }
    }
    process.stdout.write(JSON.stringify(out) + "\n");
}

main().then(() => process.exit(0), (e) => {
    process.stdout.write(JSON.stringify({ crashed: String(e && e.stack) })
                         + "\n");
    process.exit(1);
});
