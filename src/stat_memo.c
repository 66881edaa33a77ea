/*
 * stat_memo: see include/stat_memo.h. A small direct-mapped table per thread, allocated on its
 * first turn: a slot holds the turn it was filled in, the path (paths longer than a slot's
 * buffer are never remembered), and stat()'s result and errno. A slot from an older turn is
 * empty, so a new turn costs one increment, not a clear.
 */
#include "stat_memo.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define STAT_MEMO_SLOTS 64 /* power of two */
#define STAT_MEMO_PATH_MAX 240

struct slot {
    uint64_t turn; /* 0: never filled */
    uint64_t hash;
    int rc, err;
    struct stat st;
    size_t len;
    char path[STAT_MEMO_PATH_MAX];
};

static _Thread_local uint64_t turn; /* 0: this thread does not remember */
static _Thread_local struct slot *slots;

static uint64_t hash_path(const char *s, size_t *len)
{
    uint64_t h = 1469598103934665603ull;
    const char *p = s;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    *len = (size_t)(p - s);
    return h;
}

void stat_memo_turn(void)
{
    if (!slots)
        slots = xcalloc(STAT_MEMO_SLOTS, sizeof *slots);
    turn++;
}

void stat_memo_off(void)
{
    free(slots);
    slots = NULL;
    turn = 0;
}

int stat_memo_stat(const char *path, struct stat *st)
{
    if (!turn)
        return stat(path, st);
    size_t len;
    uint64_t h = hash_path(path, &len);
    if (len >= STAT_MEMO_PATH_MAX)
        return stat(path, st);
    struct slot *s = &slots[h & (STAT_MEMO_SLOTS - 1)];
    if (s->turn == turn && s->hash == h && s->len == len && memcmp(s->path, path, len) == 0) {
        if (s->rc == 0)
            *st = s->st;
        else
            errno = s->err;
        return s->rc;
    }
    int rc = stat(path, st);
    s->turn = turn;
    s->hash = h;
    s->rc = rc;
    s->err = rc == 0 ? 0 : errno;
    if (rc == 0)
        s->st = *st;
    s->len = len;
    memcpy(s->path, path, len);
    if (rc != 0)
        errno = s->err;
    return rc;
}
