/*
 * test_deploy_event: the notify body (exact bytes), a history line and its parse back, and
 * the status history built from a file's text (newest first, bad and cut lines skipped).
 */
#include <stdlib.h>

#include "deploy_event.h"
#include "tap.h"

int main(void)
{
    struct deploy_event ev = {
        .event = "deploy",
        .site = "blog",
        .result = "failed",
        .trigger = "webhook",
        .commit = "1a2b3c",
        .previous = "",
        .error = "git_then failed (exit status 2)\n\"x\"",
        .after_error = NULL,
        .host = "h1",
        .time = 1795376700,
        .duration_ms = 1234,
    };
    struct buf b;
    buf_init(&b, 0);
    deploy_event_json(&ev, &b);
    is_str(b.data,
           "{\"time\":\"2026-11-22T19:45:00Z\",\"event\":\"deploy\",\"site\":\"blog\","
           "\"result\":\"failed\",\"trigger\":\"webhook\",\"commit\":\"1a2b3c\","
           "\"previous_commit\":null,\"duration_ms\":1234,"
           "\"error\":\"git_then failed (exit status 2)\\n\\\"x\\\"\",\"after_error\":null,"
           "\"host\":\"h1\"}",
           "notify body: every field, escaped, empty as null");
    buf_reset(&b);
    deploy_event_line(&ev, &b);
    is_str(b.data,
           "1795376700\tdeploy\twebhook\tfailed\t1a2b3c\t-\t1234\tgit_then failed (exit status "
           "2) \"x\"\t-\n",
           "history line: tab-separated, '-' for empty, control characters as spaces");
    char *line = strdup(b.data);
    line[strlen(line) - 1] = '\0';
    struct deploy_event back;
    is_int(deploy_event_parse_line(line, &back), 0, "history line parses back");
    is_str(back.result, "failed", "parsed: result");
    is_str(back.previous, "", "parsed: '-' is empty");
    is_int(back.duration_ms, 1234, "parsed: duration");
    is_int(back.time, 1795376700, "parsed: time");
    free(line);
    char cut[] = "1795376700\tdeploy\twebhook";
    is_int(deploy_event_parse_line(cut, &back), -1, "a cut line is refused");
    char extra[] = "1\tdeploy\tpoll\tlive\ta\tb\t5\t-\t-\textra";
    is_int(deploy_event_parse_line(extra, &back), -1, "a line with a tenth field is refused");
    char nodigits[] = "x\tdeploy\tpoll\tlive\ta\tb\t5\t-\t-";
    is_int(deploy_event_parse_line(nodigits, &back), -1, "a time that is not digits is refused");

    char text[] = "100\tdeploy\tstart\tlive\taaa\t-\t10\t-\t-\n"
                  "garbage\n"
                  "200\tdeploy\tcli\tfailed\tbbb\taaa\t20\tboom\t-\n"
                  "300\trollback\tcli\trolled_back\taaa\tbbb\t30\t-\t-\n"
                  "400\tdeploy\tpoll\tlive\tccc\taaa\t40\t-\tgit_after failed";
    buf_reset(&b);
    deploy_history_json(text, 2, &b);
    is_str(b.data,
           "[{\"time\":\"1970-01-01T00:05:00Z\",\"event\":\"rollback\","
           "\"result\":\"rolled_back\",\"trigger\":\"cli\",\"commit\":\"aaa\","
           "\"previous_commit\":\"bbb\",\"duration_ms\":30,\"error\":null,\"after_error\":null},"
           "{\"time\":\"1970-01-01T00:03:20Z\",\"event\":\"deploy\","
           "\"result\":\"failed\",\"trigger\":\"cli\",\"commit\":\"bbb\","
           "\"previous_commit\":\"aaa\",\"duration_ms\":20,\"error\":\"boom\","
           "\"after_error\":null}]",
           "history: newest first, at most max, the cut last line and garbage skipped");
    char empty[] = "";
    buf_reset(&b);
    deploy_history_json(empty, 10, &b);
    is_str(b.data, "[]", "history: an empty file is []");
    buf_dispose(&b);
    return done_testing();
}
