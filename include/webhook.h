/*
 * webhook: the pure part of the git-deploy push endpoint. Checks a forge's signature over the
 * raw request body (GitHub, Gitea, Forgejo, GitLab), pulls the pushed ref out of the payload
 * and classifies the event. No I/O, no clock, no state; the crypto (HMAC-SHA256 and the
 * constant-time compare) is GnuTLS's, never our own. Rate limiting and waking the git worker
 * belong to the caller.
 */
#ifndef WHARF_WEBHOOK_H
#define WHARF_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum webhook_verdict {
    WEBHOOK_OK = 0,
    WEBHOOK_NO_SIGNATURE,    /* no usable signature header */
    WEBHOOK_BAD_SIGNATURE,   /* the chosen header is malformed */
    WEBHOOK_WRONG_SIGNATURE, /* well-formed but does not match (or the secret is empty) */
};

/* Raw header values as received (NUL-terminated); NULL when the header is absent. */
struct webhook_headers {
    const char *hub_signature_256; /* X-Hub-Signature-256 (GitHub, Gitea, Forgejo): sha256=<hex> */
    const char *gitea_signature;   /* X-Gitea-Signature or X-Forgejo-Signature: bare 64 hex */
    const char *gitlab_token;      /* X-Gitlab-Token: the shared secret itself */
    const char *hub_signature;     /* X-Hub-Signature (HMAC-SHA1): never accepted on its own */
};

/**
 * Verify a delivery against the shared secret. Exactly one header is judged, the first present
 * of X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token; a later one never rescues an earlier
 * one. Signatures must be exactly "sha256=" + 64 hex digits (hub) or 64 hex digits (gitea), hex
 * in either case, else BAD; they are compared with HMAC-SHA256(secret, body) in constant time.
 * The GitLab token is compared through HMACs, so neither its bytes nor its length leak. Only
 * X-Hub-Signature (SHA-1), or nothing, gives NO_SIGNATURE. A NULL or empty secret never
 * verifies (WRONG), nor does a GnuTLS failure. body may be NULL when len is 0. Thread-safe.
 */
enum webhook_verdict webhook_verify(const struct webhook_headers *h, const void *body, size_t len,
                                    const char *secret);

/** A static lower-case phrase for logs ("ok", "wrong signature", ...); never NULL. */
const char *webhook_verdict_text(enum webhook_verdict v);

/**
 * Copy the top-level "ref" string of a push payload ("refs/heads/main") into out, NUL-terminated.
 * content_type "application/x-www-form-urlencoded" (parameters and case ignored) means the JSON
 * is the urlencoded "payload" field, as GitHub sends it; anything else, or NULL, means a JSON
 * body. The whole document is validated (strings, escapes, numbers, nesting up to 64 levels);
 * "ref" keys inside nested values are ignored. Returns 0, or -1 with out emptied (if cap > 0)
 * when the body is malformed or truncated, "ref" is missing, not a string, repeated, contains
 * NUL, or does not fit cap (including the NUL). May allocate (aborts on OOM); thread-safe.
 */
int webhook_push_ref(const char *content_type, const void *body, size_t len, char *out, size_t cap);

#define WEBHOOK_SIGNATURE_LEN 71 /* "sha256=" + 64 hex digits */

/** The signature of an outbound delivery (git_notify), in the form webhook_verify accepts in
 *  X-Hub-Signature-256 / X-Wharf-Signature-256: "sha256=" + hex HMAC-SHA256(secret, body),
 *  NUL-terminated into out. Returns 0, or -1 (out empty) for a NULL or empty secret or a GnuTLS
 *  failure. Thread-safe. */
int webhook_sign(const char *secret, const void *body, size_t len,
                 char out[WEBHOOK_SIGNATURE_LEN + 1]);

/** Whether ref is exactly "refs/heads/<branch>". False for NULL or an empty branch. */
bool webhook_ref_is_branch(const char *ref, const char *branch);

/**
 * Whether the delivery is a ping (X-GitHub-Event or X-Gitea-Event "ping") to be acknowledged
 * without deploying. GitLab has no ping (its test button sends a "Push Hook"), so gitlab_event
 * never makes this true. Arguments are raw header values or NULL; names compare case-blind.
 */
bool webhook_is_ping(const char *github_event, const char *gitea_event, const char *gitlab_event);

/**
 * Whether the delivery is a push: every event header present says so ("push" for GitHub and
 * Gitea/Forgejo, "Push Hook" for GitLab), and all absent counts as push. Anything else
 * (ping, tag push, issues, ...) must not deploy.
 */
bool webhook_is_push(const char *github_event, const char *gitea_event, const char *gitlab_event);

/* ---- peer notifications (git_peers) ----
 * The signature covers the body only, so the body itself says what it is and when it was
 * sent: a captured notification is refused once it is older than WEBHOOK_PEER_MAX_AGE_S, and a
 * body signed for another purpose (a git_notify event, signed with the same secret by default)
 * is never taken for one. Within the window a replay only queues a deploy of the branch's head
 * again, which finds nothing new. */
#define WEBHOOK_PEER_MAX_AGE_S 300  /* s; older: refused (the sender gives up sooner) */
#define WEBHOOK_PEER_MAX_AHEAD_S 60 /* s; dated further ahead: refused (clock skew) */

enum webhook_peer_verdict {
    WEBHOOK_PEER_OK = 0,
    WEBHOOK_PEER_MALFORMED, /* not {"event":"peer","ref":"...","sent":N,...} */
    WEBHOOK_PEER_STALE,     /* sent more than WEBHOOK_PEER_MAX_AGE_S before now */
    WEBHOOK_PEER_AHEAD,     /* sent more than WEBHOOK_PEER_MAX_AHEAD_S after now */
};

/** Append a peer notification's body to out:
 *  {"event":"peer","ref":REF,"from":FROM,"sent":NOW_S} (NOW_S in Unix seconds). Pure. */
void webhook_peer_body(const char *ref, const char *from, int64_t now_s, struct buf *out);

/**
 * Judge a peer notification's (already verified) body at now_s (Unix seconds): its top level
 * must be an object with "event":"peer", a string "ref" (copied into ref, NUL-terminated, when
 * it fits cap) and a non-negative integer "sent"; other members are validated and skipped, a
 * repeated one is refused. ref is emptied unless the body is well-formed. Pure; thread-safe.
 */
enum webhook_peer_verdict webhook_peer_check(const void *body, size_t len, int64_t now_s, char *ref,
                                             size_t cap);

/** A static lower-case phrase for logs and answers; never NULL. */
const char *webhook_peer_verdict_text(enum webhook_peer_verdict v);

#endif
