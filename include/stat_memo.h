/*
 * stat_memo: one stat() per path per loop turn of a worker thread. The requests a turn answers
 * (with 64 busy keep-alive connections, ~25 per epoll_wait) mostly ask for the same few files,
 * and the static handler's identity check (file_cache) needs a fresh stat() of each: the path
 * walk was 14.5 % of wharf's CPU on a 1 KiB file (docs/benchmarks.md, issue 14). Within a turn
 * the first stat() of a path is remembered, result and errno alike, and the turn's later
 * requests for that path reuse it; the next turn starts empty.
 *
 * What this keeps of "edits show up at once": an edit is seen by every request answered in a
 * turn that starts after the edit completed. A request read in the same turn as an earlier
 * request for the same path may still get the version that turn saw (a window of one turn,
 * microseconds to a few milliseconds; lighttpd and nginx's open_file_cache revalidate once a
 * second). Threads that never call stat_memo_turn() (tests, the main thread) get a plain stat().
 */
#ifndef WHARF_STAT_MEMO_H
#define WHARF_STAT_MEMO_H

#include <sys/stat.h>

/** Start a new turn in this thread: forget every remembered result, and remember from now on. */
void stat_memo_turn(void);

/** stat(path, st): the result this thread remembered for path in this turn, else a real
 *  stat(), remembered. Returns 0, or -1 with errno set, exactly as stat() does. */
int stat_memo_stat(const char *path, struct stat *st);

/** Forget this thread's memo and stop remembering (its memory is freed). */
void stat_memo_off(void);

#endif
