/*
 * err.h - result codes and process exit codes.
 *
 * Library layers return 0 on success and a negative enum bch_err on failure;
 * BCH_RETRY (> 0) tells a caller the operation may succeed if tried again
 * (network, full queue).  Only src/main.c and src/cli/ turn these into
 * process exit codes, through bch_exit_code().
 */
#ifndef BCH_ERR_H
#define BCH_ERR_H

enum bch_err {
    BCH_OK = 0,
    BCH_RETRY = 1,      /* transient: try again later */
    BCH_ERR = -1,       /* generic failure, message already reported */
    BCH_ERR_USAGE = -2, /* bad command line */
    BCH_ERR_INPUT = -3, /* bad input data (file unreadable, malformed payload) */
    BCH_ERR_NET = -4,   /* network or HTTP failure after retries */
    BCH_ERR_DB = -5,    /* warehouse failure */
    BCH_ERR_NOMEM = -6, /* allocation failed */
};

/*
 * Exit codes of the bouchon binary (documented in docs/CLI.md):
 *   0 success; 1 internal error; 2 usage error; 3 bad input (some records or
 *   files were rejected; everything valid was still stored); 4 network
 *   failure; 5 warehouse error.
 */
enum bch_exit {
    BCH_EXIT_OK = 0,
    BCH_EXIT_INTERNAL = 1,
    BCH_EXIT_USAGE = 2,
    BCH_EXIT_INPUT = 3,
    BCH_EXIT_NET = 4,
    BCH_EXIT_DB = 5,
};

static inline int bch_exit_code(int err)
{
    switch (err) {
    case BCH_OK:
        return BCH_EXIT_OK;
    case BCH_ERR_USAGE:
        return BCH_EXIT_USAGE;
    case BCH_ERR_INPUT:
        return BCH_EXIT_INPUT;
    case BCH_ERR_NET:
    case BCH_RETRY:
        return BCH_EXIT_NET;
    case BCH_ERR_DB:
        return BCH_EXIT_DB;
    default:
        return BCH_EXIT_INTERNAL;
    }
}

#endif
