#include <string.h>

#include "sni.h"
#include "tap.h"

#define L(s) (s), strlen(s)

int main(void)
{
    struct sni_table t = {0};
    ok(sni_lookup(&t, L("a.test")) == -1, "empty table: no match");
    sni_add(&t, "a.test", 0);
    sni_add(&t, "WWW.A.test.", 0);
    sni_add(&t, "b.test", 1);
    sni_add(&t, "*.wild.test", 2);
    sni_add(&t, "exact.wild.test", 3);
    sni_add(&t, "a.test", 7); /* the first slot wins */
    sni_add(&t, "", 8);       /* ignored */
    sni_finish(&t);
    is_int(t.n, 5, "duplicates and empty names are not added");
    is_int(sni_lookup(&t, L("a.test")), 0, "exact");
    is_int(sni_lookup(&t, L("A.TEST")), 0, "case-insensitive");
    is_int(sni_lookup(&t, L("a.test.")), 0, "trailing dot");
    is_int(sni_lookup(&t, L("www.a.test")), 0, "stored name was lower-cased, dot dropped");
    is_int(sni_lookup(&t, L("b.test")), 1, "second slot");
    is_int(sni_lookup(&t, L("c.test")), -1, "unknown name");
    is_int(sni_lookup(&t, L("x.wild.test")), 2, "wildcard: one label");
    is_int(sni_lookup(&t, L("exact.wild.test")), 3, "exact wins over wildcard");
    is_int(sni_lookup(&t, L("wild.test")), -1, "wildcard: not the bare name");
    is_int(sni_lookup(&t, L("a.b.wild.test")), -1, "wildcard: not two labels");
    is_int(sni_lookup(&t, L(".wild.test")), -1, "wildcard: not an empty label");
    is_int(sni_lookup(&t, L("*.wild.test")), 2, "the wildcard text itself matches its entry");
    is_int(sni_lookup(&t, "a.test\0x", 8), -1, "an embedded NUL never matches");
    is_int(sni_lookup(&t, "a.testzzz", 6), 0, "length, not the NUL, ends the name");
    char big[300];
    memset(big, 'a', sizeof big);
    is_int(sni_lookup(&t, big, sizeof big), -1, "over 253 bytes: no match");
    is_int(sni_lookup(&t, "", 0), -1, "empty name");
    sni_dispose(&t);
    is_int(t.n, 0, "disposed");
    return done_testing();
}
