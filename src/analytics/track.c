/*
 * track.c - per-segment state intervals, jam episodes and coverage.
 *
 * One call of bch_track_step() handles one observation in three independent
 * parts, whose events come out in this order:
 *   1. coverage of the previous observation (it is only bounded now);
 *   2. the state interval (close the old one, open the new one);
 *   3. the jam episode (close it if a gap above the stale limit went
 *      unobserved, then open, extend, close, reopen within the hysteresis).
 * Durations are compared as unsigned differences of a later and an earlier
 * instant, which cannot overflow whatever the two instants are.
 */
#include "core/compat.h"

#include "analytics/track.h"
#include "model/trafi.h"

void bch_track_params_default(struct bch_track_params *p)
{
    p->stale_s = BCH_TRACK_DEFAULT_STALE_S;
    p->hysteresis_s = BCH_TRACK_DEFAULT_HYSTERESIS_S;
}

void bch_seg_track_init(struct bch_seg_track *t)
{
    memset(t, 0, sizeof(*t));
    t->last_mdate = BCH_TIME_NONE;
    t->last_state = BCH_STATE_INCONNU;
    t->interval_start = BCH_TIME_NONE;
    t->jam_start = BCH_TIME_NONE;
    t->jam_end = BCH_TIME_NONE;
    t->jam_last = BCH_TIME_NONE;
    t->jam_peak = BCH_STATE_INCONNU;
    t->jam_left_censored = false;
    t->jam_right_censored = false;
}

/* later - earlier, for later >= earlier, without signed overflow. */
static uint64_t elapsed(bch_time earlier, bch_time later)
{
    return (uint64_t)later - (uint64_t)earlier;
}

/* A negative limit makes no sense; read it as 0. */
static uint64_t limit(int64_t s)
{
    return s > 0 ? (uint64_t)s : 0;
}

static struct bch_track_event *emit(struct bch_track_event *out, int *n,
                                    enum bch_track_event_kind kind, int state)
{
    struct bch_track_event *ev = &out[(*n)++];

    ev->kind = kind;
    ev->start = BCH_TIME_NONE;
    ev->end = BCH_TIME_NONE;
    ev->last = BCH_TIME_NONE;
    ev->state = state;
    ev->peak = BCH_STATE_INCONNU;
    ev->left_censored = false;
    ev->right_censored = false;
    return ev;
}

/* A jam event describing the current episode of t. */
static void emit_jam(const struct bch_seg_track *t, struct bch_track_event *out, int *n,
                     enum bch_track_event_kind kind, int state)
{
    struct bch_track_event *ev = emit(out, n, kind, state);

    ev->start = t->jam_start;
    ev->end = t->jam_end;
    ev->last = t->jam_last;
    ev->peak = t->jam_peak;
    ev->left_censored = t->jam_left_censored;
    ev->right_censored = t->jam_right_censored;
}

static void jam_forget(struct bch_seg_track *t)
{
    t->jam_start = BCH_TIME_NONE;
    t->jam_end = BCH_TIME_NONE;
    t->jam_last = BCH_TIME_NONE;
    t->jam_peak = BCH_STATE_INCONNU;
    t->jam_left_censored = false;
    t->jam_right_censored = false;
}

/*
 * The segment went unobserved for longer than the stale limit: nobody saw
 * the open episode go on, so it ends when its last congested observation
 * stops being trusted (the end of that observation's hourly coverage), as
 * right-censored.  An episode waiting within its hysteresis is over for
 * good as well: a dip cannot be bridged across time nobody observed.
 */
static void jam_gap(struct bch_seg_track *t, int state, uint64_t stale, struct bch_track_event *out,
                    int *n)
{
    if (t->jam_start == BCH_TIME_NONE) {
        return;
    }
    if (t->jam_end == BCH_TIME_NONE) {
        /* open: the last observation was congested, jam_last is it, and
         * jam_last + stale lies before this mdate: no overflow */
        t->jam_end = t->jam_last + (bch_time)stale;
        t->jam_right_censored = true;
        emit_jam(t, out, n, BCH_EV_JAM_CLOSE, state);
    }
    jam_forget(t);
}

/*
 * A congested observation.  unseen_before: the segment's state was not
 * known just before mdate (first observation, a gap above the stale limit,
 * or an INCONNU observation).
 */
static void jam_congested(struct bch_seg_track *t, bch_time mdate, int state, bool unseen_before,
                          uint64_t hysteresis, struct bch_track_event *out, int *n)
{
    if (t->jam_start != BCH_TIME_NONE && t->jam_end != BCH_TIME_NONE) {
        if (elapsed(t->jam_end, mdate) <= hysteresis) {
            /* A flicker: the episode goes on as if it had not ended. */
            t->jam_end = BCH_TIME_NONE;
            t->jam_right_censored = false;
            emit_jam(t, out, n, BCH_EV_JAM_REOPEN, state);
        } else {
            /* The previous episode is over for good; no event needed. */
            jam_forget(t);
        }
    }
    if (t->jam_start == BCH_TIME_NONE) {
        t->jam_start = mdate;
        t->jam_end = BCH_TIME_NONE;
        t->jam_last = mdate;
        t->jam_peak = state;
        t->jam_left_censored = unseen_before;
        emit_jam(t, out, n, BCH_EV_JAM_OPEN, state);
        return;
    }
    t->jam_last = mdate;
    if (state > t->jam_peak) {
        t->jam_peak = state;
    }
    emit_jam(t, out, n, BCH_EV_JAM_UPDATE, state);
}

/* A non-congested (FLUIDE, DENSE or INCONNU) observation. */
static void jam_clear(struct bch_seg_track *t, bch_time mdate, int state, uint64_t hysteresis,
                      struct bch_track_event *out, int *n)
{
    if (t->jam_start == BCH_TIME_NONE) {
        return;
    }
    if (t->jam_end == BCH_TIME_NONE) {
        t->jam_end = mdate;
        /* INCONNU: the feed stopped knowing, nobody saw the jam clear. */
        t->jam_right_censored = state == BCH_STATE_INCONNU;
        emit_jam(t, out, n, BCH_EV_JAM_CLOSE, state);
    } else if (elapsed(t->jam_end, mdate) > hysteresis) {
        jam_forget(t);
    }
}

int bch_track_step(struct bch_seg_track *t, bch_time mdate, int state,
                   const struct bch_track_params *p, struct bch_track_event *out)
{
    struct bch_track_params defaults;
    bool first = t->last_mdate == BCH_TIME_NONE;
    bool unseen_before = first, gap_unseen = false;
    uint64_t stale, hysteresis;
    int n = 0;

    if (!first && mdate <= t->last_mdate) {
        return 0; /* contract violation: not newer, ignored like a duplicate */
    }
    if (mdate == BCH_TIME_NONE) {
        return 0;
    }
    if (!p) {
        bch_track_params_default(&defaults);
        p = &defaults;
    }
    if (state < BCH_STATE_INCONNU || state >= BCH_STATE_COUNT) {
        state = BCH_STATE_INCONNU;
    }
    stale = limit(p->stale_s);
    hysteresis = limit(p->hysteresis_s);

    if (!first) {
        struct bch_track_event *cov = emit(out, &n, BCH_EV_COVERAGE, t->last_state);
        uint64_t gap = elapsed(t->last_mdate, mdate);

        cov->start = t->last_mdate;
        /* last + stale lies between last and mdate here: no overflow */
        cov->end = gap > stale ? t->last_mdate + (bch_time)stale : mdate;
        gap_unseen = gap > stale;
        /* INCONNU just before says nothing of when the jam began either. */
        unseen_before = gap_unseen || t->last_state == BCH_STATE_INCONNU;
    }

    if (first || state != t->last_state) {
        if (!first) {
            struct bch_track_event *cl = emit(out, &n, BCH_EV_INTERVAL_CLOSE, t->last_state);

            cl->start = t->interval_start;
            cl->end = mdate;
        }
        emit(out, &n, BCH_EV_INTERVAL_OPEN, state)->start = mdate;
        t->interval_start = mdate;
    }

    if (gap_unseen) {
        jam_gap(t, state, stale, out, &n);
    }
    if (bch_state_congested(state)) {
        jam_congested(t, mdate, state, unseen_before, hysteresis, out, &n);
    } else {
        jam_clear(t, mdate, state, hysteresis, out, &n);
    }

    t->last_mdate = mdate;
    t->last_state = state;
    return n;
}

bch_time bch_track_open_until(const struct bch_seg_track *t, bch_time at,
                              const struct bch_track_params *p, bool *ongoing)
{
    struct bch_track_params defaults;
    uint64_t stale;
    bch_time seen;

    if (ongoing) {
        *ongoing = false;
    }
    if (t->jam_start == BCH_TIME_NONE || t->jam_end != BCH_TIME_NONE ||
        t->jam_last == BCH_TIME_NONE) {
        return BCH_TIME_NONE;
    }
    if (!p) {
        bch_track_params_default(&defaults);
        p = &defaults;
    }
    stale = limit(p->stale_s);
    if (at == BCH_TIME_NONE || at <= t->jam_last) {
        if (ongoing) {
            *ongoing = true;
        }
        return t->jam_last;
    }
    if (elapsed(t->jam_last, at) <= stale) {
        if (ongoing) {
            *ongoing = true;
        }
        return at;
    }
    /* jam_last + stale lies between jam_last and at here: no overflow */
    seen = t->jam_last + (bch_time)stale;
    return seen;
}
