/*
 * test_shared_path: the rules for git_shared paths: what is refused (escapes from the
 * release, .git, control characters), how a path names a file or a directory, the '?' and
 * '/' suffixes, and the depth used for the relative link.
 */
#include "shared_path.h"
#include "tap.h"

static void refused(const char *spec, const char *name)
{
    struct shared_path sp;
    is_int(shared_path_parse(spec, &sp), -1, name);
}

int main(void)
{
    struct shared_path sp;

    refused("", "refused: empty");
    refused("/etc", "refused: absolute");
    refused("/", "refused: the root");
    refused("..", "refused: ..");
    refused("../x", "refused: leading ..");
    refused("a/../../x", "refused: .. inside");
    refused("a/..", "refused: trailing ..");
    refused("./a", "refused: a . segment");
    refused("a//b", "refused: an empty segment");
    refused(".git", "refused: .git");
    refused("a/.git/config", "refused: a .git segment");
    refused("a\nb", "refused: a newline");
    refused("a\\b", "refused: a backslash");
    refused("a?b", "refused: '?' inside");
    refused("?", "refused: only '?'");
    refused("/?", "refused: only '/?'");
    refused("a//", "refused: two trailing slashes");

    is_int(shared_path_parse("storage", &sp), 0, "storage: ok");
    is_str(sp.path, "storage", "storage: path");
    ok(!sp.is_file && !sp.optional, "storage: a directory, not optional");
    is_int(shared_path_parse(".env", &sp), 0, ".env: ok (dot names are allowed)");
    ok(sp.is_file, ".env: a file (a '.' in the last segment)");
    is_int(shared_path_parse(".env.local", &sp), 0, ".env.local: ok");
    ok(sp.is_file, ".env.local: a file");
    is_int(shared_path_parse("wp-content/uploads", &sp), 0, "wp-content/uploads: ok");
    ok(!sp.is_file, "wp-content/uploads: a directory");
    is_int(shared_path_depth(sp.path), 1, "wp-content/uploads: depth 1");
    is_int(shared_path_parse("a.d/b", &sp), 0, "a.d/b: ok");
    ok(!sp.is_file, "a.d/b: a directory (only the last segment counts)");
    is_int(shared_path_parse("conf.d/", &sp), 0, "conf.d/: ok");
    is_str(sp.path, "conf.d", "conf.d/: the slash is dropped");
    ok(!sp.is_file, "conf.d/: a trailing slash means a directory");
    is_int(shared_path_parse("wp-config.php?", &sp), 0, "wp-config.php?: ok");
    is_str(sp.path, "wp-config.php", "wp-config.php?: the '?' is dropped");
    ok(sp.is_file && sp.optional, "wp-config.php?: an optional file");
    is_int(shared_path_parse("cache/?", &sp), 0, "cache/?: ok");
    ok(!sp.is_file && sp.optional, "cache/?: an optional directory");
    is_int(shared_path_parse("a/b/c/LocalSettings.php", &sp), 0, "deep: ok");
    is_int(shared_path_depth(sp.path), 3, "deep: depth 3");
    is_int(shared_path_depth("x"), 0, "depth 0");
    is_int(shared_path_parse("...", &sp), 0, "'...' is a name, not an escape");
    return done_testing();
}
