/*
 * test_stream: the shared stream's bounded buffers and status mapping:
 * the request ring buffer never holds more than its capacity and hands
 * bytes out in order across wrap-around (fed in odd-sized chunks);
 * a body that fits the buffer is kept after sending and can be rewound
 * for a resend, one that outgrows it cannot; response chunks are counted
 * against the high-water mark; failures map to 502/503/504 and a failure
 * is final; a handler waiting for a batch of response data is woken only
 * once the batch is there, or by anything else that is news; one waiting
 * for room in the request buffer, only while it waits for that.
 */
#include <sys/eventfd.h>
#include <unistd.h>

#include <apr_general.h>

#include "h2gw_stream.h"
#include "tap.h"

static void test_ring(void)
{
    h2gw_stream_t *st;
    char in[1000], out[1000];
    size_t fed = 0, got = 0, took;
    int wake, eof = 0, i, in_order = 1, bounded = 1;

    for (i = 0; i < (int)sizeof(in); ++i) {
        in[i] = (char)(i * 7 + 3);
    }
    tap_is_int(h2gw_stream_create(&st, 64), APR_SUCCESS, "stream created");
    while (got < sizeof(in)) {
        size_t want = sizeof(in) - fed < 37 ? sizeof(in) - fed : 37;
        uint8_t buf[23];
        size_t n;

        if (want > 0) {
            /* tick 1us: returns APR_TIMEUP once the ring is full */
            h2gw_stream_put_body(st, in + fed, want, 1, &took, &wake);
            fed += took;
            if (st->req_len + st->req_kept > st->req_cap) {
                bounded = 0;
            }
        }
        if (fed == sizeof(in)) {
            st->req_eos = 1;
        }
        n = h2gw_stream_get_body_locked(st, buf, sizeof(buf), &eof);
        memcpy(out + got, buf, n);
        got += n;
    }
    for (i = 0; i < (int)sizeof(in); ++i) {
        if (in[i] != out[i]) {
            in_order = 0;
        }
    }
    tap_ok(!st->req_replayable, "a body larger than the buffer is not "
           "replayable");
    tap_is_int(h2gw_stream_rewind_body_locked(st), 0,
               "... and cannot be rewound");
    tap_ok(bounded, "ring never exceeds its capacity");
    tap_ok(in_order, "bytes come out in order across wrap-around");
    tap_ok(eof, "eof after the last byte");
    tap_is_int((long)st->req_sent, (long)sizeof(in), "req_sent counts bytes");
    h2gw_stream_unref(st);
}

/* A body that fits the buffer: sent, rewound, sent again identically. */
static void test_replay(void)
{
    h2gw_stream_t *st;
    uint8_t buf[64];
    size_t took, n1, n2;
    int wake, eof = 0;

    h2gw_stream_create(&st, 64);
    h2gw_stream_put_body(st, "0123456789abcdefghij", 20, 1, &took, &wake);
    st->req_eos = 1;
    n1 = h2gw_stream_get_body_locked(st, buf, 7, &eof);
    n2 = h2gw_stream_get_body_locked(st, buf + n1, sizeof(buf) - n1, &eof);
    tap_ok(n1 + n2 == 20 && eof && !memcmp(buf, "0123456789abcdefghij", 20),
           "whole body sent");
    tap_ok(st->req_replayable && st->req_kept == 20,
           "a body within the buffer is kept after sending");
    tap_is_int(h2gw_stream_rewind_body_locked(st), 1, "it can be rewound");
    memset(buf, 0, sizeof(buf));
    eof = 0;
    n1 = h2gw_stream_get_body_locked(st, buf, sizeof(buf), &eof);
    tap_ok(n1 == 20 && eof && !memcmp(buf, "0123456789abcdefghij", 20),
           "the resend carries the same bytes, then eof");
    h2gw_stream_unref(st);
}

static void test_data(void)
{
    h2gw_stream_t *st;
    h2gw_chunk_t *head;
    size_t len;
    int eos;
    static const uint8_t a[100], b[50];

    h2gw_stream_create(&st, 0);
    st->state = H2GW_STREAM_ST_HEADERS;
    h2gw_stream_put_data_locked(st, a, sizeof(a));
    h2gw_stream_put_data_locked(st, b, sizeof(b));
    tap_is_int((long)st->buffered, 150, "buffered counts queued bytes");
    tap_is_int(h2gw_stream_take_data(st, &head, &len, &eos, 0), APR_SUCCESS,
               "take_data returns the chunks");
    tap_is_int((long)len, 150, "all bytes taken");
    tap_ok(head && head->next && !head->next->next, "two chunks in order");
    tap_ok(!eos, "no eos while the stream is open");
    h2gw_stream_free_chunks(head);
    tap_is_int((long)st->buffered, 0, "nothing buffered after take");
    h2gw_stream_put_data_locked(st, a, 10);
    tap_is_int((long)st->buffered_max, 150, "high-water mark kept");
    st->state = H2GW_STREAM_ST_CLOSED;
    h2gw_stream_take_data(st, &head, &len, &eos, 0);
    tap_ok(eos && len == 10, "eos with the last chunk after close");
    h2gw_stream_free_chunks(head);
    tap_is_int(h2gw_stream_take_data(st, &head, &len, &eos, 0), APR_SUCCESS,
               "closed and drained");
    tap_ok(eos && !head, "eos again, no data");
    h2gw_stream_unref(st);
}

static void test_fail(void)
{
    h2gw_stream_t *st;
    h2gw_chunk_t *head;
    size_t len, took;
    int eos, wake;

    tap_is_int(h2gw_stream_fail_status(H2GW_FAIL_CONNECT), 503,
               "connect failure → 503");
    tap_is_int(h2gw_stream_fail_status(H2GW_FAIL_CONNECT_TIMEOUT), 503,
               "connect timeout → 503");
    tap_is_int(h2gw_stream_fail_status(H2GW_FAIL_TIMEOUT), 504,
               "header timeout → 504");
    tap_is_int(h2gw_stream_fail_status(H2GW_FAIL_RESET), 502, "reset → 502");
    tap_is_int(h2gw_stream_fail_status(H2GW_FAIL_CONN_LOST), 502,
               "connection lost → 502");
    tap_is_int(h2gw_stream_fail_status(H2GW_FAIL_PROTOCOL), 502,
               "protocol error → 502");

    tap_ok(h2gw_stream_method_idempotent("GET", 0)
           && h2gw_stream_method_idempotent("HEAD", 0)
           && h2gw_stream_method_idempotent("OPTIONS", 0)
           && h2gw_stream_method_idempotent("TRACE", 0)
           && h2gw_stream_method_idempotent("PUT", 0)
           && h2gw_stream_method_idempotent("DELETE", 0),
           "GET HEAD OPTIONS TRACE PUT DELETE are idempotent");
    tap_ok(!h2gw_stream_method_idempotent("POST", 0)
           && !h2gw_stream_method_idempotent("PATCH", 0)
           && !h2gw_stream_method_idempotent("get", 0)
           && !h2gw_stream_method_idempotent(NULL, 0),
           "POST, PATCH, a lower-case get, no method: not idempotent");
    tap_ok(h2gw_stream_method_idempotent("POST", 1),
           "POST with an Idempotency-Key is");

    h2gw_stream_create(&st, 16);
    st->state = H2GW_STREAM_ST_HEADERS;
    h2gw_stream_put_data_locked(st, (const uint8_t *)"abc", 3);
    h2gw_stream_fail_locked(st, H2GW_FAIL_RESET, "x");
    tap_is_int(h2gw_stream_take_data(st, &head, &len, &eos, 0), APR_SUCCESS,
               "data received before a failure is still handed out");
    tap_ok(len == 3 && !eos, "... without eos");
    h2gw_stream_free_chunks(head);
    h2gw_stream_fail_locked(st, H2GW_FAIL_TIMEOUT, "y");
    tap_is_int(st->fail, H2GW_FAIL_RESET, "the first failure stays");
    tap_is_int(h2gw_stream_take_data(st, &head, &len, &eos, 0), APR_EGENERAL,
               "take_data reports the failure");
    tap_is_int(h2gw_stream_wait_headers(st, 0), APR_EGENERAL,
               "wait_headers reports the failure");
    tap_is_int(h2gw_stream_put_body(st, "abc", 3, 1, &took, &wake),
               APR_ECONNABORTED, "no more body after a failure");
    h2gw_stream_unref(st);
}

/* The failure keys are the metrics' cause label values: one per cause,
 * distinct, [a-z_] only (nothing to escape). */
static void test_fail_keys(void)
{
    int f, g, good = 1;

    for (f = H2GW_FAIL_NONE; f < H2GW_FAIL_NCAUSES; ++f) {
        const char *k = h2gw_stream_fail_key((h2gw_fail_t)f);

        good &= strspn(k, "abcdefghijklmnopqrstuvwxyz_") == strlen(k)
                && strcmp(k, "unknown") != 0;
        for (g = H2GW_FAIL_NONE; g < f; ++g) {
            good &= strcmp(k, h2gw_stream_fail_key((h2gw_fail_t)g)) != 0;
        }
    }
    tap_ok(good, "each failure cause has its own lowercase key");
    tap_is_str(h2gw_stream_fail_key(H2GW_FAIL_QUEUE_TIMEOUT), "queue_timeout",
               "queue timeout's key");
}

/* The stream's life: the events move the state as the diagram in
 * h2gw_stream.h says, and an event that comes too late changes nothing. */
static void test_life(void)
{
    h2gw_stream_t *st;
    apr_array_header_t *t;

    h2gw_stream_create(&st, 0);
    h2gw_stream_on_submit(st, 1, "h2c://x", 1);
    tap_is_int(st->state, H2GW_STREAM_ST_INIT,
               "not submitted before it was queued");
    h2gw_stream_queue(st, 1);
    tap_ok(st->state == H2GW_STREAM_ST_QUEUED && st->pend_submit,
           "queue: QUEUED, the engine asked to place it");
    h2gw_stream_on_submit(st, 7, "h2c://x", 5);
    tap_ok(st->state == H2GW_STREAM_ST_OPEN && st->log_conn_id == 7
           && st->log_stream_id == 5, "on_submit: OPEN, logged where");
    tap_ok(h2gw_stream_retryable(st, 0), "open, nothing received: retryable");
    tap_ok(!h2gw_stream_response_begun(st), "no response begun while open");
    h2gw_stream_on_continue(st);
    tap_ok(!h2gw_stream_retryable(st, 1) && h2gw_stream_retryable(st, 0),
           "after 100 Continue: not when the upstream may have seen it");
    h2gw_stream_on_retry(st);
    tap_ok(st->state == H2GW_STREAM_ST_QUEUED && st->retried == 1,
           "on_retry: QUEUED again, counted");
    h2gw_stream_on_submit(st, 8, "h2c://y", 1);
    h2gw_stream_on_end(st);
    tap_is_int(st->state, H2GW_STREAM_ST_OPEN,
               "an end before the headers changes nothing");
    t = apr_array_make(st->pool, 1, sizeof(h2gw_field_t));
    st->resp_trailers = t;
    tap_ok(h2gw_stream_on_headers(st, 0) && st->resp_headers
           && st->state == H2GW_STREAM_ST_HEADERS, "on_headers: HEADERS");
    tap_ok(!h2gw_stream_retryable(st, 0), "not retryable after headers");
    tap_ok(h2gw_stream_response_begun(st),
           "the response has begun once its headers came (a failure's log "
           "line says so)");
    tap_ok(h2gw_stream_trailers(st) == NULL,
           "trailers are not the handler's before the end");
    h2gw_stream_on_end(st);
    tap_ok(st->state == H2GW_STREAM_ST_CLOSED
           && h2gw_stream_trailers(st) == t, "on_end: CLOSED, trailers out");
    h2gw_stream_fail(st, H2GW_FAIL_RESET, "late");
    tap_ok(st->state == H2GW_STREAM_ST_CLOSED && st->fail == H2GW_FAIL_NONE,
           "a failure after the end changes nothing");
    h2gw_stream_unref(st);

    h2gw_stream_create(&st, 0);
    h2gw_stream_queue(st, 0);
    tap_ok(!st->pend_submit, "a health check is queued by the engine itself");
    h2gw_stream_on_submit(st, 1, "h2c://x", 1);
    h2gw_stream_fail(st, H2GW_FAIL_CONN_LOST, "gone");
    tap_ok(!h2gw_stream_on_headers(st, 1) && !st->resp_headers
           && st->state == H2GW_STREAM_ST_FAILED,
           "headers after a failure do not count");
    h2gw_stream_on_retry(st);
    tap_is_int(st->state, H2GW_STREAM_ST_FAILED, "nor does a retry");
    {
        uint32_t rst = 99;

        st->rst_code = NGHTTP2_REFUSED_STREAM;
        h2gw_stream_failure(st, st->pool, NULL, &rst);
        tap_is_int((int)rst, 0, "the RST_STREAM code is read only with a "
                   "RESET failure (the engine writes it unlocked)");
    }
    h2gw_stream_unref(st);

    {
        uint32_t rst = 99;

        h2gw_stream_create(&st, 0);
        h2gw_stream_queue(st, 0);
        h2gw_stream_on_submit(st, 1, "h2c://x", 1);
        st->rst_code = NGHTTP2_REFUSED_STREAM;
        h2gw_stream_fail(st, H2GW_FAIL_RESET, "reset");
        h2gw_stream_failure(st, st->pool, NULL, &rst);
        tap_is_int((int)rst, NGHTTP2_REFUSED_STREAM,
                   "a RESET failure gives its RST_STREAM code");
        h2gw_stream_unref(st);
    }

    h2gw_stream_create(&st, 0);
    h2gw_stream_queue(st, 1);
    h2gw_stream_on_submit(st, 1, "h2c://x", 1);
    tap_ok(h2gw_stream_on_headers(st, 1)
           && st->state == H2GW_STREAM_ST_CLOSED,
           "headers with END_STREAM: CLOSED at once");
    h2gw_stream_unref(st);
}

/* Was the eventfd written to since the last look? (Empties it.) */
static int woken(int fd)
{
    uint64_t v;

    return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

/* A stream past its response headers whose handler waits on fd. */
static h2gw_stream_t *stream_waking(int fd)
{
    h2gw_stream_t *st;

    h2gw_stream_create(&st, 0);
    st->wake_fd = fd;
    st->state = H2GW_STREAM_ST_HEADERS;
    return st;
}

static void test_batch(void)
{
    h2gw_stream_t *st;
    h2gw_chunk_t *head;
    size_t len;
    int eos, fd = eventfd(0, EFD_NONBLOCK);
    static const uint8_t a[600];

    st = stream_waking(fd);
    tap_ok(!h2gw_stream_arm(st, 0, 1000), "arm for 1000 bytes: no news");
    h2gw_stream_put_data_locked(st, a, 500);
    h2gw_stream_wake_locked(st);
    tap_ok(!woken(fd) && st->handler_waiting,
           "500 bytes of a 1000-byte batch wake nobody");
    h2gw_stream_put_data_locked(st, a, 600);
    h2gw_stream_wake_locked(st);
    tap_ok(woken(fd) && !st->handler_waiting, "1100 bytes: woken, once");
    h2gw_stream_wake_locked(st);
    tap_ok(!woken(fd), "not again before it waits again");
    tap_ok(h2gw_stream_arm(st, 0, 1000), "arming with a full batch at hand: news");
    h2gw_stream_take_data(st, &head, &len, &eos, 0);
    h2gw_stream_free_chunks(head);
    tap_ok(!h2gw_stream_arm(st, 0, 1000), "after the take: waits again");
    h2gw_stream_put_data_locked(st, a, 10);
    h2gw_stream_on_end(st);
    h2gw_stream_wake_locked(st);
    tap_ok(woken(fd), "the end wakes a batch wait short of its batch");
    h2gw_stream_take_data(st, &head, &len, &eos, 0);
    h2gw_stream_free_chunks(head);
    h2gw_stream_unref(st);

    st = stream_waking(fd);
    tap_ok(!h2gw_stream_arm(st, 0, 0), "arm for any byte");
    h2gw_stream_put_data_locked(st, a, 1);
    h2gw_stream_wake_locked(st);
    tap_ok(woken(fd), "one byte wakes a wait for any byte");
    st->consume_batch = 100;
    tap_ok(!h2gw_stream_add_consumed(st, 0, 0, 0),
           "nothing untold: the engine is not told");
    tap_ok(!h2gw_stream_add_consumed(st, 40, 0, 1000),
           "40 of a 100-byte consume batch: not yet");
    tap_ok(h2gw_stream_add_consumed(st, 0, 0, 0),
           "told now (before a batch wait): what is untold goes");
    h2gw_stream_unref(st);
    close(fd);
}

/* A handler that waited for room in the request buffer is woken once
 * there is room; waiting for client input next, it is not woken by what
 * the engine takes out of the buffer after that. */
static void test_space(void)
{
    h2gw_stream_t *st;
    char in[64];
    uint8_t buf[64];
    size_t took;
    int wake, eof, fd = eventfd(0, EFD_NONBLOCK);

    memset(in, 'x', sizeof(in));
    h2gw_stream_create(&st, 64);
    st->wake_fd = fd;
    h2gw_stream_put_body(st, in, 64, 0, &took, &wake);
    tap_is_int(h2gw_stream_put_body(st, in, 1, 0, &took, &wake), APR_TIMEUP,
               "the request buffer is full");
    tap_ok(!h2gw_stream_arm(st, H2GW_WAIT_SPACE, 0), "arm for room: no news");
    h2gw_stream_get_body_locked(st, buf, 40, &eof);
    tap_ok(woken(fd), "room for a batch wakes it");
    tap_ok(!h2gw_stream_arm(st, 0, 0), "arm for client input: no news");
    h2gw_stream_get_body_locked(st, buf, 8, &eof);
    tap_ok(!woken(fd) && st->handler_waiting,
           "more room does not wake a wait for client input");
    h2gw_stream_unref(st);
    close(fd);
}

int main(void)
{
    apr_initialize();
    test_ring();
    test_replay();
    test_data();
    test_fail();
    test_fail_keys();
    test_life();
    test_batch();
    test_space();
    apr_terminate();
    return done_testing();
}
