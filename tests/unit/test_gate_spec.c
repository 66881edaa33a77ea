#include <string.h>

#include "gate_spec.h"
#include "tap.h"

static void parse(void)
{
    char path[GATE_SPEC_PATH_MAX];
    unsigned st = 99;
    const char *why = NULL;
    ok(gate_spec_parse("/health", path, sizeof path, &st, &why) == 0, "parse: a path alone");
    is_str(path, "/health", "parse: the path");
    is_int(st, 0, "parse: no status is any 2xx (0)");
    ok(gate_spec_parse("  /health.php?x=1   204 ", path, sizeof path, &st, &why) == 0,
       "parse: a path with a query and a status, spaces around");
    is_str(path, "/health.php?x=1", "parse: the query stays in the path");
    is_int(st, 204, "parse: the status");
    ok(gate_spec_parse("health", path, sizeof path, &st, &why) != 0 && why,
       "parse: refused: not starting with /");
    ok(gate_spec_parse("", path, sizeof path, &st, &why) != 0, "parse: refused: empty");
    ok(gate_spec_parse("/h 20", path, sizeof path, &st, &why) != 0, "parse: refused: 2 digits");
    ok(gate_spec_parse("/h 2000", path, sizeof path, &st, &why) != 0, "parse: refused: 4 digits");
    ok(gate_spec_parse("/h 600", path, sizeof path, &st, &why) != 0, "parse: refused: 600");
    ok(gate_spec_parse("/h 099", path, sizeof path, &st, &why) != 0, "parse: refused: 099");
    ok(gate_spec_parse("/h 200 x", path, sizeof path, &st, &why) != 0,
       "parse: refused: something after the status");
    ok(gate_spec_parse("/h 2x0", path, sizeof path, &st, &why) != 0, "parse: refused: not digits");
    ok(gate_spec_parse("/h\x01x", path, sizeof path, &st, &why) != 0,
       "parse: refused: a control character");
    ok(gate_spec_parse("/caf\xc3\xa9", path, sizeof path, &st, &why) != 0,
       "parse: refused: raw non-ASCII");
    char small[4];
    ok(gate_spec_parse("/abcd", small, sizeof small, &st, &why) != 0, "parse: refused: too long");
}

static void status(void)
{
    ok(gate_spec_status_ok(0, 200) && gate_spec_status_ok(0, 204) && gate_spec_status_ok(0, 299),
       "status: 2xx passes the default");
    ok(!gate_spec_status_ok(0, 301) && !gate_spec_status_ok(0, 500) && !gate_spec_status_ok(0, 0),
       "status: 3xx, 5xx and no response fail the default");
    ok(gate_spec_status_ok(204, 204) && !gate_spec_status_ok(204, 200),
       "status: an explicit status must match exactly");
    ok(gate_spec_status_ok(503, 503), "status: an explicit non-2xx status");
}

static void describe(void)
{
    struct buf b;
    buf_init(&b, 0);
    struct gate_spec_result r = {.status = 500,
                                 .body = "oops \"x\"\n\x01",
                                 .body_len = 10,
                                 .stderr_text = "PHP Fatal error: boom\nline 2"};
    gate_spec_describe("/health", 0, &r, &b);
    buf_append(&b, "", 1);
    is_str(b.data,
           "GET /health: status 500, expected 2xx; body: \"oops \\\"x\\\"\\n\\x01\"; stderr: PHP "
           "Fatal error: boom\\nline 2",
           "describe: status, escaped body and stderr");

    buf_reset(&b);
    char big[300];
    memset(big, 'a', sizeof big);
    struct gate_spec_result r2 = {.status = 200, .body = big, .body_len = sizeof big};
    gate_spec_describe("/h", 204, &r2, &b);
    buf_append(&b, "", 1);
    ok(strstr(b.data, "status 200, expected 204") != NULL, "describe: the expected status");
    ok(strlen(b.data) < 260 && strstr(b.data, "\"...") != NULL,
       "describe: a long body is cut to GATE_SPEC_BODY_SHOWN bytes and marked");
    ok(strstr(b.data, "stderr") == NULL, "describe: no stderr part without stderr");

    buf_reset(&b);
    struct gate_spec_result r3 = {.status = 0, .error = "Connection refused"};
    gate_spec_describe("/h", 0, &r3, &b);
    buf_append(&b, "", 1);
    is_str(b.data, "GET /h: no response (Connection refused)", "describe: no response");
    buf_dispose(&b);
}

int main(void)
{
    parse();
    status();
    describe();
    return done_testing();
}
