#!/usr/bin/python3
"""A real gRPC server (grpcio) for the mod_h2gw suite: t/38-grpc.t.

Messages are raw bytes (no protobuf schema: grpcio passes bytes through
when no serializer is given), so the four call kinds, status trailers and
cancellation are exercised without generated code. The same handlers
answer under two service names, h2gw.test.Echo and h2gw.test.Slow, which
the test configuration proxies with different timeouts.

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
}


def main():
    global EVENTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--events", required=True)
    args = ap.parse_args()
    EVENTS = args.events
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    for svc in ("h2gw.test.Echo", "h2gw.test.Slow"):
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
