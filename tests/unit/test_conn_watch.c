/* conn_watch: which phases have deadlines, and that the sweep really cuts the socket. */
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn_watch.h"
#include "tap.h"

#define HEADER_MS 200
#define IDLE_MS 300

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Has our end of the pair been shut down? The peer then reads end-of-file. */
static bool is_cut(int peer)
{
    char c;
    return recv(peer, &c, 1, MSG_DONTWAIT) == 0;
}

int main(void)
{
    int head[2], busy[2], idle[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, head) || socketpair(AF_UNIX, SOCK_STREAM, 0, busy) ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, idle))
        return 99;
    conn_watch_configure(HEADER_MS, IDLE_MS);
    struct conn_watch *wh = conn_watch_add(head[0]);
    struct conn_watch *wb = conn_watch_add(busy[0]);
    struct conn_watch *wi = conn_watch_add(idle[0]);
    conn_watch_reading_head(wh);
    conn_watch_reading_head(wb);
    conn_watch_busy(wb); /* head complete: a handler owns it, however long it takes */

    is_int(conn_watch_sweep(), 0, "nothing is cut before a deadline");
    ok(!is_cut(head[1]) && !is_cut(busy[1]) && !is_cut(idle[1]), "every socket still open");

    sleep_ms(HEADER_MS + 100);
    is_int(conn_watch_sweep(), 1, "a head still incomplete after header_timeout is cut");
    ok(is_cut(head[1]), "its socket is shut down");
    ok(!is_cut(busy[1]), "a busy request has no deadline");
    ok(!is_cut(idle[1]), "a waiting connection gets idle + header time");
    is_int(conn_watch_sweep(), 0, "a cut connection is not counted twice");

    sleep_ms(IDLE_MS);
    is_int(conn_watch_sweep(), 1, "a connection that never sent a request line is cut later");
    ok(is_cut(idle[1]), "after idle_timeout + header_timeout");
    ok(!is_cut(busy[1]), "the busy one is still untouched");

    conn_watch_idle(wb); /* response done: waiting again, with a fresh clock */
    is_int(conn_watch_sweep(), 0, "going idle restarts the clock");

    conn_watch_remove(wh);
    conn_watch_remove(wb);
    conn_watch_remove(wi);
    conn_watch_remove(NULL);
    is_int(conn_watch_sweep(), 0, "removed watches are forgotten");
    return done_testing();
}
