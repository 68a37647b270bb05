/*
 * track.h - per-segment detection: state intervals, jam episodes and hourly
 * coverage, as a pure state machine.
 *
 * bch_track_step() takes one observation of one segment and the segment's
 * current struct bch_seg_track, updates the track and emits events that the
 * caller (pipeline/loader.c) turns into warehouse rows.  It does no I/O,
 * reads no clock and allocates nothing: time only comes in as the
 * observation's mdate, so tests are tables of observations and expected
 * events.  Definitions are those of docs/CONGESTION_METRICS.md.
 *
 * Observations must arrive in strictly increasing mdate order per segment;
 * the caller deals with duplicates (same mdate: ignored) and late ones (an
 * older mdate: the caller rebuilds the segment from all its observations).
 */
#ifndef BCH_TRACK_H
#define BCH_TRACK_H

#include "core/compat.h"
#include "core/timeutil.h"

struct bch_track_params {
    /* An observation is trusted for at most this long after its mdate
     * (the "stale" limit, default 900 s).  It bounds hourly coverage and, as
     * a gap between two observations, ends an open jam at its last
     * congested mdate + stale_s (right-censored) and makes a jam that
     * begins after the gap left-censored. */
    int64_t stale_s;
    /* congested -> not congested -> congested within this many seconds is
     * one episode (default 300 s). */
    int64_t hysteresis_s;
};

#define BCH_TRACK_DEFAULT_STALE_S      900
#define BCH_TRACK_DEFAULT_HYSTERESIS_S 300

void bch_track_params_default(struct bch_track_params *p);

/* Detection state of one segment.  Plain data: persisted as segment_state. */
struct bch_seg_track {
    bch_time last_mdate;     /* BCH_TIME_NONE before the first observation */
    int last_state;          /* enum bch_state of the last observation */
    bch_time interval_start; /* start of the open state interval */
    bch_time jam_start;      /* open episode start, BCH_TIME_NONE if none */
    bch_time jam_end;        /* tentative end within hysteresis, else BCH_TIME_NONE */
    bch_time jam_last;       /* last congested mdate of the episode */
    int jam_peak;            /* most severe state of the episode */
    bool jam_left_censored;
    bool jam_right_censored; /* the tentative end was not seen (INCONNU) */
};

/* A fresh track: no observation yet. */
void bch_seg_track_init(struct bch_seg_track *t);

enum bch_track_event_kind {
    /* A state interval ended: [start, end) in state. */
    BCH_EV_INTERVAL_CLOSE = 1,
    /* A state interval began at start (end = BCH_TIME_NONE). */
    BCH_EV_INTERVAL_OPEN,
    /* The previous observation covered [start, end) in state: add to the
     * hourly layer.  end = min(this mdate, previous mdate + stale_s). */
    BCH_EV_COVERAGE,
    /* An episode began at start (left_censored, peak = state). */
    BCH_EV_JAM_OPEN,
    /* The open episode starting at start has a new last congested mdate
     * and/or peak (last, peak). */
    BCH_EV_JAM_UPDATE,
    /* The episode starting at start ended at end.  Either end is the first
     * non-congested mdate (right_censored when that observation is
     * INCONNU), and the episode may still be reopened within the
     * hysteresis; or the segment went unobserved for longer than stale_s:
     * end = last + stale_s, right_censored, and the episode is over for
     * good (a congested observation after the gap opens a new one). */
    BCH_EV_JAM_CLOSE,
    /* The episode starting at start was congested again within the
     * hysteresis, with no gap above stale_s since its end: its end is
     * cleared (end = BCH_TIME_NONE, right_censored false). */
    BCH_EV_JAM_REOPEN,
};

struct bch_track_event {
    enum bch_track_event_kind kind;
    bch_time start;
    bch_time end;
    bch_time last;
    int state;
    int peak;
    bool left_censored;
    /* JAM_CLOSE: the end was not seen as a known non-congested state (a gap
     * above stale_s, or an INCONNU observation); the jam may have lasted
     * longer. */
    bool right_censored;
};

/* Upper bound of events one step can emit. */
#define BCH_TRACK_MAX_EVENTS 8

/*
 * Applies the observation (mdate, state) to t.  mdate must be greater than
 * t->last_mdate.  Writes the events, in the order they must be applied, to
 * out (room for BCH_TRACK_MAX_EVENTS) and returns their count.
 *
 * Order: COVERAGE of the previous observation, INTERVAL_CLOSE, INTERVAL_OPEN,
 * then the jam events: the JAM_CLOSE of an episode ended by a gap above
 * stale_s comes first, then this observation's own (JAM_REOPEN is always
 * followed by JAM_UPDATE).  A gap above stale_s also ends, for good, an
 * episode waiting within its hysteresis: it is never reopened.  Fields
 * that do not apply are BCH_TIME_NONE / 0; jam events carry the episode's
 * start, end, last, peak and left_censored, and in state the state of this
 * observation.  An mdate not greater than t->last_mdate (or BCH_TIME_NONE)
 * is ignored: 0 events, t unchanged.  A state out of 0..4 reads as INCONNU;
 * p NULL means the defaults; negative limits read as 0.
 */
int bch_track_step(struct bch_seg_track *t, bch_time mdate, int state,
                   const struct bch_track_params *p, struct bch_track_event *out);

/*
 * How far the open episode of t counts when the data reaches instant at
 * (a snapshot instant, or the latest one at or before a report's end): up
 * to min(max(at, jam_last), jam_last + stale_s) -- never past the data,
 * never past the time its last congested observation is trusted, never
 * before that observation.  *ongoing (may be NULL) is true when the episode
 * is still going on at at (at - jam_last <= stale_s), false when it ended
 * unseen at jam_last + stale_s because the segment went silent: the value
 * the JAM_CLOSE of a gap would give once the segment is observed again.
 * Returns BCH_TIME_NONE (and *ongoing false) when t has no open episode
 * (none, or an end already observed, even within the hysteresis).  The
 * report's queries (report/report.c, report/api.c) apply the same rule to
 * the stored jam_episode.seen_until = last_congested + stale_s.
 */
bch_time bch_track_open_until(const struct bch_seg_track *t, bch_time at,
                              const struct bch_track_params *p, bool *ongoing);

#endif
