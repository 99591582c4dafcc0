#!/usr/bin/python3
"""A real gRPC server (grpcio) for the mod_h2gw suite: t/38-grpc.t and
t/39-grpc-web.t.

Messages are raw bytes (no protobuf schema: grpcio passes bytes through
when no serializer is given), so the four call kinds, status trailers and
cancellation are exercised without generated code. The same handlers
answer under three service names, h2gw.test.Echo and h2gw.test.Slow, which
the test configuration proxies with different timeouts, and h2gw.test.Web
(the gRPC-Web pass).

It also serves the standard health service, grpc.health.v1.Health/Check
(t/84-health-check.t checks it through mod_h2gw's health-check=grpc),
written by hand on raw protobuf bytes: Debian's python3-grpcio has no
grpc_health module. Every service starts SERVING; a unary call of
h2gw.test.HealthControl/Unary with "<service>=<STATUS>" (SERVING,
NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN; "" for the server as a whole)
changes what Check answers, and one with "<service>" alone answers how
many checks asked about it.

What the server saw is appended to the --events file, one line each:
"cancelled <tag>" when a call was cancelled by the client,
"bidi-done <tag> <n>" when a bidirectional call ended normally.

For the gRPC-Web test, every service also has protobuf methods on one
message, h2gw.test.Msg { string text = 1; } (encoded here by hand, no
generated code): Say (unary, metadata both ways, errors with details),
Count (server streaming that can hold after its first message until
Release is called with its tag), Release, CountFail (messages, then an
error in the trailers) and Nap (answers late).
"""
import argparse
import sys
import threading
import time
from concurrent import futures

import grpc

EVENTS = None
EVENTS_LOCK = threading.Lock()


def event(line):
    with EVENTS_LOCK:
        with open(EVENTS, "a") as f:
            f.write(line + "\n")


def meta(context, key):
    for k, v in context.invocation_metadata():
        if k == key:
            return v
    return ""


def unary(request, context):
    # "fail:<text>": an error status with a message, no response message.
    if request.startswith(b"fail:"):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      request[5:].decode())
    # "sleep:<ms>": answer after that long (no headers before it: a gRPC
    # server sends them with the first message).
    if request.startswith(b"sleep:"):
        time.sleep(int(request[6:]) / 1000.0)
    context.set_trailing_metadata((("x-h2gw-seen", str(len(request))),))
    return b"echo:" + request


def server_stream(request, context):
    # "<n>:<size>[:<gap ms>]": n messages of size bytes each, the gap
    # between two.
    parts = request.decode().split(":")
    n, size = int(parts[0]), int(parts[1])
    gap = int(parts[2]) / 1000.0 if len(parts) > 2 else 0
    for i in range(n):
        if gap and i:
            time.sleep(gap)
        yield bytes([65 + i % 26]) * size


def client_stream(request_iterator, context):
    count = total = 0
    for msg in request_iterator:
        count += 1
        total += len(msg)
    return ("%d:%d" % (count, total)).encode()


def bidi(request_iterator, context):
    tag = meta(context, "x-tag")
    n = 0
    for msg in request_iterator:
        n += 1
        yield b"re:" + msg
    event("bidi-done %s %d" % (tag, n))


def hold(request, context):
    # One message, then wait for the client to cancel (or 30 s).
    tag = meta(context, "x-tag")
    yield b"first"
    for _ in range(300):
        if not context.is_active():
            event("cancelled %s" % tag)
            return
        time.sleep(0.1)


def server_cancel(request, context):
    # Two messages, then the server cancels the call itself.
    yield b"one"
    yield b"two"
    time.sleep(0.2)
    context.cancel()


# ---- protobuf methods for the gRPC-Web test ----

def pb_msg(text):
    """h2gw.test.Msg { string text = 1; } as protobuf bytes."""
    data = text.encode()
    n, varint = len(data), b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            varint += bytes([b | 0x80])
        else:
            varint += bytes([b])
            break
    return b"\x0a" + varint + data if data else b""


def pb_text(raw):
    """Field 1 of an h2gw.test.Msg (other fields are not sent)."""
    if not raw:
        return ""
    if raw[0] != 0x0A:
        raise ValueError("not an h2gw.test.Msg")
    n, shift, i = 0, 0, 1
    while True:
        b = raw[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return raw[i:i + n].decode()


def pb_status(code, message, detail_text):
    """google.rpc.Status { code = 1; message = 2; repeated Any details = 3; }
    with one h2gw.test.Msg detail, for grpc-status-details-bin."""
    def field(num, data):
        return bytes([num << 3 | 2, len(data)]) + data
    any_ = field(1, b"type.googleapis.com/h2gw.test.Msg") \
        + field(2, pb_msg(detail_text))
    return bytes([0x08, code]) + field(2, message.encode()) + field(3, any_)


HOLDS = {}
HOLDS_LOCK = threading.Lock()


def hold_event(tag):
    with HOLDS_LOCK:
        return HOLDS.setdefault(tag, threading.Event())


def say(request, context):
    text = pb_text(request)
    seen = meta(context, "x-h2gw-in")
    # "fail:<text>": INVALID_ARGUMENT with a message and a detail, before
    # anything else: a trailers-only answer.
    if text.startswith("fail:"):
        context.set_trailing_metadata((
            ("grpc-status-details-bin",
             pb_status(3, text[5:], "detail:" + text[5:])),
            ("x-h2gw-trailer", "failed"),))
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, text[5:])
    if seen:
        # What arrived of the gRPC-Web request's own fields.
        saw = "x-grpc-web=%s x-user-agent=%s" % (
            meta(context, "x-grpc-web") or "none",
            meta(context, "x-user-agent") or "none")
        context.send_initial_metadata((("x-h2gw-echo", seen),
                                       ("x-h2gw-saw", saw)))
    context.set_trailing_metadata((("x-h2gw-trailer", "seen-" + seen),))
    return pb_msg("echo:" + text)


def count(request, context):
    # "<n>" messages "0" .. "n-1"; "<n>:<tag>": hold after the first
    # until Release(<tag>) (at most 20 s; then "hold-expired" goes out
    # in place of the second message, which the test takes as a failure).
    parts = pb_text(request).split(":")
    n = int(parts[0])
    tag = parts[1] if len(parts) > 1 else ""
    for i in range(n):
        if i == 1 and tag:
            if not hold_event(tag).wait(20):
                yield pb_msg("hold-expired")
        yield pb_msg(str(i))
    context.set_trailing_metadata((("x-h2gw-count", str(n)),))


def release(request, context):
    hold_event(pb_text(request)).set()
    return pb_msg("released")


def count_fail(request, context):
    # Two messages, then RESOURCE_EXHAUSTED with a message and metadata in
    # the trailers.
    yield pb_msg("a")
    yield pb_msg("b")
    context.set_trailing_metadata((("x-h2gw-trailer", "after-b"),))
    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota: " +
                  pb_text(request))


def nap(request, context):
    time.sleep(int(pb_text(request)) / 1000.0)
    return pb_msg("awake")


# grpc.health.v1.HealthCheckResponse.ServingStatus
SERVING_STATUS = {"UNKNOWN": 0, "SERVING": 1, "NOT_SERVING": 2,
                  "SERVICE_UNKNOWN": 3}
HEALTH = {"": 1, "h2gw.test.Echo": 1, "h2gw.test.Slow": 1}
HEALTH_ASKED = {}
HEALTH_LOCK = threading.Lock()


def varint(buf, i):
    """The varint at buf[i] and the index after it."""
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def health_check(request, context):
    # HealthCheckRequest { string service = 1; }: every other field is
    # skipped as protobuf says.
    service, i = "", 0
    while i < len(request):
        key, i = varint(request, i)
        if key & 7 == 2:
            n, i = varint(request, i)
            if key >> 3 == 1:
                service = request[i:i + n].decode()
            i += n
        elif key & 7 == 0:
            _, i = varint(request, i)
        else:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
    with HEALTH_LOCK:
        HEALTH_ASKED[service] = HEALTH_ASKED.get(service, 0) + 1
        status = HEALTH.get(service)
    if status is None:
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
    # HealthCheckResponse { ServingStatus status = 1; }; proto3 leaves
    # a 0 (UNKNOWN) out.
    return bytes([0x08, status]) if status else b""


def health_control(request, context):
    arg = request.decode()
    with HEALTH_LOCK:
        if "=" in arg:
            service, status = arg.split("=", 1)
            HEALTH[service] = SERVING_STATUS[status]
            return b"ok"
        return str(HEALTH_ASKED.get(arg, 0)).encode()


HANDLERS = {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
    "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    "Hold": grpc.unary_stream_rpc_method_handler(hold),
    "ServerCancel": grpc.unary_stream_rpc_method_handler(server_cancel),
    "Say": grpc.unary_unary_rpc_method_handler(say),
    "Count": grpc.unary_stream_rpc_method_handler(count),
    "Release": grpc.unary_unary_rpc_method_handler(release),
    "CountFail": grpc.unary_stream_rpc_method_handler(count_fail),
    "Nap": grpc.unary_unary_rpc_method_handler(nap),
}


def main():
    global EVENTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--events", required=True)
    args = ap.parse_args()
    EVENTS = args.events
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    for svc in ("h2gw.test.Echo", "h2gw.test.Slow", "h2gw.test.Web"):
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(svc, HANDLERS),))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health",
        {"Check": grpc.unary_unary_rpc_method_handler(health_check)}),))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "h2gw.test.HealthControl",
        {"Unary": grpc.unary_unary_rpc_method_handler(health_control)}),))
    if server.add_insecure_port("127.0.0.1:%d" % args.port) == 0:
        sys.exit("cannot listen on port %d" % args.port)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
