/* stat_memo: a path is stat()ed once per turn, the next turn sees changes, errors are kept with
 * their errno, paths never share a slot's answer, and a thread without turns gets plain stat(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stat_memo.h"
#include "tap.h"

static char dir[] = "/tmp/wharf-stat-memo.XXXXXX";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(99);
    }
    fputs(text, f);
    fclose(f);
}

int main(void)
{
    char a[256], b[256], gone[256], path[256];
    struct stat st;
    if (!mkdtemp(dir))
        return 99;
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(gone, sizeof gone, "%s/gone", dir);
    write_file(a, "1");
    write_file(b, "22");

    /* no turn yet: every call is a real stat() */
    is_int(stat_memo_stat(a, &st), 0, "before any turn: stat of a file");
    is_int(st.st_size, 1, "before any turn: its size");
    write_file(a, "333");
    stat_memo_stat(a, &st);
    is_int(st.st_size, 3, "before any turn: a change shows at once");

    /* within a turn: the first answer is kept */
    stat_memo_turn();
    stat_memo_stat(a, &st);
    is_int(st.st_size, 3, "turn 1: first stat sees the file");
    write_file(a, "4444");
    stat_memo_stat(a, &st);
    is_int(st.st_size, 3, "turn 1: a later stat of the same path reuses the answer");
    stat_memo_stat(b, &st);
    is_int(st.st_size, 2, "turn 1: another path gets its own answer");

    /* the next turn sees the change */
    stat_memo_turn();
    stat_memo_stat(a, &st);
    is_int(st.st_size, 4, "turn 2: the change shows");

    /* failures keep their errno within the turn, and the next turn looks again */
    errno = 0;
    is_int(stat_memo_stat(gone, &st), -1, "missing file: -1");
    is_int(errno, ENOENT, "missing file: ENOENT");
    write_file(gone, "55555");
    errno = 0;
    is_int(stat_memo_stat(gone, &st), -1, "missing file created in the turn: still -1");
    is_int(errno, ENOENT, "... with ENOENT again");
    stat_memo_turn();
    is_int(stat_memo_stat(gone, &st), 0, "next turn: the new file is found");
    is_int(st.st_size, 5, "next turn: its size");

    /* many paths (more than slots): each answer belongs to its own path */
    int wrong = 0;
    stat_memo_turn();
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof path, "%s/f%d", dir, i);
        char text[256];
        snprintf(text, sizeof text, "%*d", i + 1, i); /* i + 1 bytes */
        write_file(path, text);
        if (stat_memo_stat(path, &st) != 0 || st.st_size != i + 1)
            wrong++;
    }
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof path, "%s/f%d", dir, i);
        if (stat_memo_stat(path, &st) != 0 || st.st_size != i + 1)
            wrong++;
        unlink(path);
    }
    is_int(wrong, 0, "200 paths in one turn: every answer is its own path's");

    /* a path longer than a slot holds is never remembered */
    char sub[300], longp[600];
    int n = snprintf(sub, sizeof sub, "%s/", dir);
    memset(sub + n, 'd', 200);
    sub[n + 200] = '\0';
    mkdir(sub, 0700);
    snprintf(longp, sizeof longp, "%s/%0100d", sub, 0);
    stat_memo_turn();
    errno = 0;
    is_int(stat_memo_stat(longp, &st), -1, "long path: missing");
    write_file(longp, "666666");
    is_int(stat_memo_stat(longp, &st), 0,
           "long path created in the same turn: found (not remembered)");
    unlink(longp);
    rmdir(sub);

    /* off: plain stat() again */
    stat_memo_off();
    stat_memo_stat(a, &st);
    write_file(a, "7777777");
    stat_memo_stat(a, &st);
    is_int(st.st_size, 7, "after stat_memo_off: a change shows at once");

    unlink(a);
    unlink(b);
    unlink(gone);
    rmdir(dir);
    return done_testing();
}
