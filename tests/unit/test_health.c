#include <string.h>

#include "buf.h"
#include "health.h"
#include "tap.h"

int main(void)
{
    struct buf b;
    buf_init(&b, 0);
    struct health_check ok2[] = {{"listeners", NULL, true, NULL}, {"git", "blog", true, NULL}};
    ok(health_ready(LIFECYCLE_SERVING, ok2, 2, &b), "serving and every check passed: ready");
    is_str(b.data, "{\"ready\":true,\"phase\":\"serving\",\"not_ready\":[]}\n", "ready JSON");

    buf_reset(&b);
    ok(!health_ready(LIFECYCLE_DRAINING, ok2, 2, &b), "draining: not ready, whatever the checks");
    is_str(b.data,
           "{\"ready\":false,\"phase\":\"draining\",\"not_ready\":[{\"check\":\"lifecycle\","
           "\"site\":null,\"detail\":\"draining\"}]}\n",
           "draining is named");
    buf_reset(&b);
    lifecycle_set(LIFECYCLE_SERVING);
    ok(health_ready(lifecycle_get(), ok2, 2, &b), "the process's phase, serving: ready");
    lifecycle_set(LIFECYCLE_DRAINING); /* what SIGTERM does */
    ok(lifecycle_draining(), "SIGTERM's phase is draining");
    buf_reset(&b);
    ok(!health_ready(lifecycle_get(), ok2, 2, &b),
       "the process's phase, draining: not ready (503)");
    buf_reset(&b);
    ok(!health_ready(LIFECYCLE_STARTING, ok2, 2, &b), "starting: not ready");
    buf_reset(&b);
    ok(health_ready(LIFECYCLE_RELOADING, ok2, 2, &b), "reloading keeps serving: ready");

    buf_reset(&b);
    struct health_check bad[] = {
        {"listeners", NULL, true, NULL},
        {"fastcgi", "sh\"op", false, "no upstream up (1 marked down)"},
        {"git", "blog", false, "no live release yet"},
    };
    ok(!health_ready(LIFECYCLE_SERVING, bad, 3, &b), "a failed check: not ready");
    is_str(b.data,
           "{\"ready\":false,\"phase\":\"serving\",\"not_ready\":["
           "{\"check\":\"fastcgi\",\"site\":\"sh\\\"op\",\"detail\":\"no upstream up (1 marked "
           "down)\"},{\"check\":\"git\",\"site\":\"blog\",\"detail\":\"no live release yet\"}]}\n",
           "each failed check listed with its site, JSON-escaped; passed ones left out");
    buf_dispose(&b);
    return done_testing();
}
