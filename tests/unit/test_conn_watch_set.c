/* conn_watch sets (one per worker): deadlines on the caller's clock, sets kept apart. */
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_watch.h"
#include "tap.h"
#include "util.h"

#define HEADER_MS 200
#define IDLE_MS 300

static bool is_cut(int peer)
{
    char c;
    return recv(peer, &c, 1, MSG_DONTWAIT) == 0;
}

int main(void)
{
    int a[2], b[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_STREAM, 0, b))
        return 99;
    conn_watch_configure(HEADER_MS, IDLE_MS);
    struct conn_watch_set *s1 = conn_watch_set_new(), *s2 = conn_watch_set_new();
    uint64_t t0 = clock_ms();
    struct conn_watch *wa = conn_watch_add_to(s1, a[0]);
    struct conn_watch *wb = conn_watch_add_to(s2, b[0]);
    conn_watch_reading_head(wa);
    conn_watch_reading_head(wb);
    is_int(conn_watch_sweep_set(s1, t0), 0, "nothing due at the start");
    /* a clock far enough ahead that both heads are late, whatever the real time took */
    uint64_t late = clock_ms() + HEADER_MS + 50;
    is_int(conn_watch_sweep_set(s1, late), 1, "set 1: its late head is cut");
    ok(is_cut(a[1]), "its socket is shut down");
    ok(!is_cut(b[1]), "the other set's connection is not touched by set 1's sweep");
    is_int(conn_watch_sweep_set(s1, late), 0, "not counted twice");
    is_int(conn_watch_sweep(), 0, "the global set holds neither");
    is_int(conn_watch_sweep_set(s2, late), 1, "set 2 cuts its own");
    ok(is_cut(b[1]), "its socket is shut down");
    conn_watch_remove(wa);
    conn_watch_remove(wb);
    is_int(conn_watch_sweep_set(s1, late + 100000), 0, "removed: empty");
    conn_watch_set_free(s1);
    conn_watch_set_free(s2);
    conn_watch_set_free(NULL);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    return done_testing();
}
