/*
 * test_track.c - the per-segment state machine of analytics/track.c.
 *
 * Table-driven: each case is a run of observations (offsets in seconds from
 * T0, state) and, for every observation, the exact events it must emit.
 * Each case is its own cmocka test; inside a case every mismatch is printed
 * and counted, and the case fails if the count is not zero.  Time is only
 * ever the injected mdate: nothing sleeps or reads a clock.
 *
 * A property test then feeds seeded random sequences and checks the event
 * stream against invariants and against a batch recomputation of the
 * episodes from the whole sequence.
 */
#include "core/compat.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "analytics/track.h"
#include "model/trafi.h"

#define T0   ((bch_time)1766048400) /* 2025-12-18T09:00:00Z */
#define NO   BCH_TIME_NONE
#define STOP INT64_MAX /* ends a case's list of steps */

#define INC BCH_STATE_INCONNU
#define FLU BCH_STATE_FLUIDE
#define DEN BCH_STATE_DENSE
#define EMB BCH_STATE_EMBOUTEILLE
#define PAR BCH_STATE_PARALYSE

/*
 * Expected events, times relative to T0 (NO stays NO).  Field order of
 * struct bch_track_event: kind, start, end, last, state, peak, left_censored,
 * right_censored.  Jam events carry the state of the observation that
 * emitted them.  JCR is the JAM_CLOSE of an end nobody saw (right-censored).
 */
/* clang-format off */
#define COV(s, e, st)            {BCH_EV_COVERAGE, s, e, NO, st, INC, false}
#define ICL(s, e, st)            {BCH_EV_INTERVAL_CLOSE, s, e, NO, st, INC, false}
#define IOP(s, st)               {BCH_EV_INTERVAL_OPEN, s, NO, NO, st, INC, false}
#define JOP(s, st, lc)           {BCH_EV_JAM_OPEN, s, NO, s, st, st, lc}
#define JUP(s, l, st, pk, lc)    {BCH_EV_JAM_UPDATE, s, NO, l, st, pk, lc}
#define JCL(s, e, l, st, pk, lc) {BCH_EV_JAM_CLOSE, s, e, l, st, pk, lc, false}
#define JCR(s, e, l, st, pk, lc) {BCH_EV_JAM_CLOSE, s, e, l, st, pk, lc, true}
#define JRE(s, l, st, pk, lc)    {BCH_EV_JAM_REOPEN, s, NO, l, st, pk, lc}
/* clang-format on */

#define MAX_STEPS 12

struct step {
    int64_t dt; /* mdate - T0; STOP ends the list */
    int state;
    struct bch_track_event ev[BCH_TRACK_MAX_EVENTS]; /* kind 0 ends the list */
};

struct track_case {
    const char *name;
    int64_t stale_s, hysteresis_s; /* both 0: the defaults */
    /* Expected jam fields of the track after the last step (relative). */
    int64_t final_jam_start, final_jam_end;
    struct step steps[MAX_STEPS];
};

/* name, stale_s, hysteresis_s (both 0: defaults), final jam_start, final jam_end */
#define CASE(name, stale, hyst, fstart, fend) name, stale, hyst, fstart, fend
/* mdate - T0, state */
#define OBS(dt, state) dt, state

static const struct track_case cases[] = {
    {CASE("first observation opens an interval, no coverage", 0, 0, NO, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}}, {STOP}}},
    {CASE("first observation INCONNU is an interval too", 0, 0, NO, NO),
     {{OBS(0, INC), {IOP(0, INC)}}, {STOP}}},
    {CASE("steady state: coverage only", 0, 0, NO, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, FLU), {COV(0, 60, FLU)}},
      {OBS(120, FLU), {COV(60, 120, FLU)}},
      {STOP}}},
    {CASE("state change closes and opens intervals", 0, 0, NO, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, DEN), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, DEN)}},
      {OBS(120, INC), {COV(60, 120, DEN), ICL(60, 120, DEN), IOP(120, INC)}},
      {OBS(180, FLU), {COV(120, 180, INC), ICL(120, 180, INC), IOP(180, FLU)}},
      {STOP}}},
    {CASE("DENSE is not congested", 0, 0, NO, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, DEN), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, DEN)}},
      {OBS(120, DEN), {COV(60, 120, DEN)}},
      {OBS(180, FLU), {COV(120, 180, DEN), ICL(60, 180, DEN), IOP(180, FLU)}},
      {STOP}}},
    {CASE("jam opens, extends and closes", 0, 0, 60, 180),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(120, EMB), {COV(60, 120, EMB), JUP(60, 120, EMB, EMB, false)}},
      {OBS(180, FLU),
       {COV(120, 180, EMB), ICL(60, 180, EMB), IOP(180, FLU), JCL(60, 180, 120, FLU, EMB, false)}},
      {OBS(240, FLU), {COV(180, 240, FLU)}},
      {STOP}}},
    {CASE("jam on the first observation is left-censored", 0, 0, 0, 120),
     {{OBS(0, EMB), {IOP(0, EMB), JOP(0, EMB, true)}},
      {OBS(60, EMB), {COV(0, 60, EMB), JUP(0, 60, EMB, EMB, true)}},
      {OBS(120, FLU),
       {COV(60, 120, EMB), ICL(0, 120, EMB), IOP(120, FLU), JCL(0, 120, 60, FLU, EMB, true)}},
      {STOP}}},
    {CASE("jam after a gap above stale is left-censored", 0, 0, 1000, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(1000, EMB), {COV(0, 900, FLU), ICL(0, 1000, FLU), IOP(1000, EMB), JOP(1000, EMB, true)}},
      {STOP}}},
    {CASE("a gap of exactly stale is not censored", 0, 0, 900, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(900, EMB), {COV(0, 900, FLU), ICL(0, 900, FLU), IOP(900, EMB), JOP(900, EMB, false)}},
      {STOP}}},
    {CASE("a jam right after INCONNU is left-censored", 0, 0, 60, NO),
     {{OBS(0, INC), {IOP(0, INC)}},
      {OBS(60, EMB), {COV(0, 60, INC), ICL(0, 60, INC), IOP(60, EMB), JOP(60, EMB, true)}},
      {STOP}}},
    {CASE("flicker within the hysteresis is one episode", 0, 0, 60, 480),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(120, FLU),
       {COV(60, 120, EMB), ICL(60, 120, EMB), IOP(120, FLU), JCL(60, 120, 60, FLU, EMB, false)}},
      {OBS(180, FLU), {COV(120, 180, FLU)}},
      /* 420 - 120 = 300 = hysteresis: still the same episode */
      {OBS(420, EMB),
       {COV(180, 420, FLU), ICL(120, 420, FLU), IOP(420, EMB), JRE(60, 60, EMB, EMB, false),
        JUP(60, 420, EMB, EMB, false)}},
      {OBS(480, DEN),
       {COV(420, 480, EMB), ICL(420, 480, EMB), IOP(480, DEN), JCL(60, 480, 420, DEN, EMB, false)}},
      {STOP}}},
    {CASE("congested again beyond the hysteresis is a new episode", 0, 0, 361, NO),
     {{OBS(0, EMB), {IOP(0, EMB), JOP(0, EMB, true)}},
      {OBS(60, FLU),
       {COV(0, 60, EMB), ICL(0, 60, EMB), IOP(60, FLU), JCL(0, 60, 0, FLU, EMB, true)}},
      /* 361 - 60 = 301 > 300; the gap 301 < stale, so not censored */
      {OBS(361, EMB), {COV(60, 361, FLU), ICL(60, 361, FLU), IOP(361, EMB), JOP(361, EMB, false)}},
      {STOP}}},
    {CASE("non-congested beyond the hysteresis finalizes silently", 0, 0, NO, NO),
     {{OBS(0, EMB), {IOP(0, EMB), JOP(0, EMB, true)}},
      {OBS(60, FLU),
       {COV(0, 60, EMB), ICL(0, 60, EMB), IOP(60, FLU), JCL(0, 60, 0, FLU, EMB, true)}},
      {OBS(300, FLU), {COV(60, 300, FLU)}},
      {OBS(361, FLU), {COV(300, 361, FLU)}},
      {STOP}}},
    {CASE("after a silent finalization a jam opens anew", 0, 0, 420, NO),
     {{OBS(0, EMB), {IOP(0, EMB), JOP(0, EMB, true)}},
      {OBS(60, FLU),
       {COV(0, 60, EMB), ICL(0, 60, EMB), IOP(60, FLU), JCL(0, 60, 0, FLU, EMB, true)}},
      {OBS(400, DEN), {COV(60, 400, FLU), ICL(60, 400, FLU), IOP(400, DEN)}},
      {OBS(420, EMB),
       {COV(400, 420, DEN), ICL(400, 420, DEN), IOP(420, EMB), JOP(420, EMB, false)}},
      {STOP}}},
    {CASE("INCONNU inside a jam ends it, right-censored, subject to the hysteresis", 0, 0, 60, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(120, INC),
       {COV(60, 120, EMB), ICL(60, 120, EMB), IOP(120, INC), JCR(60, 120, 60, INC, EMB, false)}},
      /* the reopen clears the censoring with the end */
      {OBS(180, EMB),
       {COV(120, 180, INC), ICL(120, 180, INC), IOP(180, EMB), JRE(60, 60, EMB, EMB, false),
        JUP(60, 180, EMB, EMB, false)}},
      {STOP}}},
    {CASE("INCONNU for longer than the hysteresis splits the jam", 0, 0, 600, NO),
     {{OBS(0, EMB), {IOP(0, EMB), JOP(0, EMB, true)}},
      {OBS(60, INC),
       {COV(0, 60, EMB), ICL(0, 60, EMB), IOP(60, INC), JCR(0, 60, 0, INC, EMB, true)}},
      {OBS(600, EMB), {COV(60, 600, INC), ICL(60, 600, INC), IOP(600, EMB), JOP(600, EMB, true)}},
      {STOP}}},
    {CASE("PARALYSE is the peak and survives a reopen", 0, 0, 60, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(120, PAR),
       {COV(60, 120, EMB), ICL(60, 120, EMB), IOP(120, PAR), JUP(60, 120, PAR, PAR, false)}},
      {OBS(180, EMB),
       {COV(120, 180, PAR), ICL(120, 180, PAR), IOP(180, EMB), JUP(60, 180, EMB, PAR, false)}},
      {OBS(240, DEN),
       {COV(180, 240, EMB), ICL(180, 240, EMB), IOP(240, DEN), JCL(60, 240, 180, DEN, PAR, false)}},
      {OBS(300, EMB),
       {COV(240, 300, DEN), ICL(240, 300, DEN), IOP(300, EMB), JRE(60, 180, EMB, PAR, false),
        JUP(60, 300, EMB, PAR, false)}},
      {STOP}}},
    {CASE("a jam opening on PARALYSE has peak PARALYSE", 0, 0, 60, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, PAR), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, PAR), JOP(60, PAR, false)}},
      {OBS(120, EMB),
       {COV(60, 120, PAR), ICL(60, 120, PAR), IOP(120, EMB), JUP(60, 120, EMB, PAR, false)}},
      {STOP}}},
    {CASE("coverage is capped at stale", 0, 0, NO, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(2000, FLU), {COV(0, 900, FLU)}},
      {OBS(2900, FLU), {COV(2000, 2900, FLU)}},
      {OBS(2901, DEN), {COV(2900, 2901, FLU), ICL(0, 2901, FLU), IOP(2901, DEN)}},
      {STOP}}},
    {CASE("a gap above stale ends an open jam at last + stale; a new left-censored one opens", 0, 0,
          1021, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(120, EMB), {COV(60, 120, EMB), JUP(60, 120, EMB, EMB, false)}},
      /* 1021 - 120 = 901 > 900: nobody saw 1020..1021; coverage and episode stop at 1020 */
      {OBS(1021, EMB),
       {COV(120, 1020, EMB), JCR(60, 1020, 120, EMB, EMB, false), JOP(1021, EMB, true)}},
      {OBS(1081, EMB), {COV(1021, 1081, EMB), JUP(1021, 1081, EMB, EMB, true)}},
      {STOP}}},
    {CASE("a gap of exactly stale does not end an open jam", 0, 0, 0, NO),
     {{OBS(0, EMB), {IOP(0, EMB), JOP(0, EMB, true)}},
      {OBS(900, EMB), {COV(0, 900, EMB), JUP(0, 900, EMB, EMB, true)}},
      {OBS(1800, PAR),
       {COV(900, 1800, EMB), ICL(0, 1800, EMB), IOP(1800, PAR), JUP(0, 1800, PAR, PAR, true)}},
      {STOP}}},
    {CASE("years without data (2020-03-20 -> 2025-12-18) end the jam 900 s after", 0, 0, 181440000,
          NO),
     {{OBS(0, EMB), {IOP(0, EMB), JOP(0, EMB, true)}},
      {OBS(181440000, EMB),
       {COV(0, 900, EMB), JCR(0, 900, 0, EMB, EMB, true), JOP(181440000, EMB, true)}},
      {STOP}}},
    {CASE("a gap above stale then a clear observation: the end is last + stale, unseen", 0, 0, 2060,
          NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(2000, FLU),
       {COV(60, 960, EMB), ICL(60, 2000, EMB), IOP(2000, FLU), JCR(60, 960, 60, FLU, EMB, false)}},
      {OBS(2060, EMB),
       {COV(2000, 2060, FLU), ICL(2000, 2060, FLU), IOP(2060, EMB), JOP(2060, EMB, false)}},
      {STOP}}},
    {CASE("a gap above stale then INCONNU: one unseen end, at last + stale", 0, 0, NO, NO),
     {{OBS(0, EMB), {IOP(0, EMB), JOP(0, EMB, true)}},
      {OBS(1000, INC),
       {COV(0, 900, EMB), ICL(0, 1000, EMB), IOP(1000, INC), JCR(0, 900, 0, INC, EMB, true)}},
      {STOP}}},
    {CASE("a gap above stale is never bridged by the hysteresis (stale 120, hysteresis 600)", 120,
          600, 300, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(120, FLU),
       {COV(60, 120, EMB), ICL(60, 120, EMB), IOP(120, FLU), JCL(60, 120, 60, FLU, EMB, false)}},
      /* 300 - 120 = 180 <= 600 would reopen, but 180 > 120 went unobserved */
      {OBS(300, EMB), {COV(120, 240, FLU), ICL(120, 300, FLU), IOP(300, EMB), JOP(300, EMB, true)}},
      {STOP}}},
    {CASE("within stale the long hysteresis still reopens (stale 120, hysteresis 600)", 120, 600,
          60, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(120, FLU),
       {COV(60, 120, EMB), ICL(60, 120, EMB), IOP(120, FLU), JCL(60, 120, 60, FLU, EMB, false)}},
      {OBS(240, FLU), {COV(120, 240, FLU)}},
      {OBS(360, EMB),
       {COV(240, 360, FLU), ICL(120, 360, FLU), IOP(360, EMB), JRE(60, 60, EMB, EMB, false),
        JUP(60, 360, EMB, EMB, false)}},
      {STOP}}},
    {CASE("custom parameters: stale 120, no hysteresis (-1 reads as 0)", 120, -1, 400, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(60, EMB), {COV(0, 60, FLU), ICL(0, 60, FLU), IOP(60, EMB), JOP(60, EMB, false)}},
      {OBS(120, FLU),
       {COV(60, 120, EMB), ICL(60, 120, EMB), IOP(120, FLU), JCL(60, 120, 60, FLU, EMB, false)}},
      {OBS(121, EMB),
       {COV(120, 121, FLU), ICL(120, 121, FLU), IOP(121, EMB), JOP(121, EMB, false)}},
      {OBS(122, FLU),
       {COV(121, 122, EMB), ICL(121, 122, EMB), IOP(122, FLU),
        JCL(121, 122, 121, FLU, EMB, false)}},
      {OBS(400, EMB), {COV(122, 242, FLU), ICL(122, 400, FLU), IOP(400, EMB), JOP(400, EMB, true)}},
      {STOP}}},
    {CASE("not newer mdates are ignored", 0, 0, NO, NO),
     {{OBS(0, FLU), {IOP(0, FLU)}},
      {OBS(0, EMB), {{0}}},
      {OBS(-10, EMB), {{0}}},
      {OBS(60, FLU), {COV(0, 60, FLU)}},
      {STOP}}},
    {CASE("an out-of-range state reads as INCONNU", 0, 0, NO, NO),
     {{OBS(0, 9), {IOP(0, INC)}}, {OBS(60, -3), {COV(0, 60, INC)}}, {STOP}}},
};

static bch_time abs_time(bch_time rel)
{
    return rel == NO ? NO : T0 + rel;
}

static const char *kind_name(int k)
{
    static const char *const names[] = {"(none)",    "INTERVAL_CLOSE", "INTERVAL_OPEN",
                                        "COVERAGE",  "JAM_OPEN",       "JAM_UPDATE",
                                        "JAM_CLOSE", "JAM_REOPEN"};

    return k >= 0 && (size_t)k < BCH_ARRAY_LEN(names) ? names[k] : "?";
}

/* For messages: seconds after T0, -999999 for BCH_TIME_NONE. */
static long long rel_of(bch_time t)
{
    return t == NO ? -999999 : (long long)(t - T0);
}

static void print_event(const char *what, const struct bch_track_event *e)
{
    print_error("    %s %s start=%lld end=%lld last=%lld state=%d peak=%d lc=%d rc=%d\n", what,
                kind_name((int)e->kind), rel_of(e->start), rel_of(e->end), rel_of(e->last),
                e->state, e->peak, (int)e->left_censored, (int)e->right_censored);
}

/* The expected event with absolute times. */
static struct bch_track_event absolute(const struct bch_track_event *rel)
{
    struct bch_track_event e = *rel;

    e.start = abs_time(rel->start);
    e.end = abs_time(rel->end);
    e.last = abs_time(rel->last);
    return e;
}

static bool event_equal(const struct bch_track_event *want, const struct bch_track_event *got)
{
    return want->kind == got->kind && want->start == got->start && want->end == got->end &&
           want->last == got->last && want->state == got->state && want->peak == got->peak &&
           want->left_censored == got->left_censored && want->right_censored == got->right_censored;
}

static void run_case(void **state)
{
    const struct track_case *c = *state;
    struct bch_track_params p;
    struct bch_seg_track t;
    int fails = 0;

    bch_track_params_default(&p);
    if (c->stale_s || c->hysteresis_s) {
        p.stale_s = c->stale_s;
        p.hysteresis_s = c->hysteresis_s;
    }
    bch_seg_track_init(&t);
    for (size_t k = 0; k < MAX_STEPS && c->steps[k].dt != STOP; k++) {
        const struct step *st = &c->steps[k];
        struct bch_track_event out[BCH_TRACK_MAX_EVENTS], exp[BCH_TRACK_MAX_EVENTS];
        int want = 0, got;
        bool same;

        while (want < BCH_TRACK_MAX_EVENTS && st->ev[want].kind != 0) {
            exp[want] = absolute(&st->ev[want]);
            want++;
        }
        memset(out, 0, sizeof(out));
        got = bch_track_step(&t, T0 + st->dt, st->state, &p, out);
        same = got == want;
        for (int i = 0; same && i < want; i++) {
            same = event_equal(&exp[i], &out[i]);
        }
        if (!same) {
            fails++;
            print_error("  step %zu (t=%lld state=%d): want %d events, got %d\n", k,
                        (long long)st->dt, st->state, want, got);
            for (int i = 0; i < want; i++) {
                print_event("want", &exp[i]);
            }
            for (int i = 0; i < got && i < BCH_TRACK_MAX_EVENTS; i++) {
                print_event("got ", &out[i]);
            }
        }
    }
    if (t.jam_start != abs_time(c->final_jam_start) || t.jam_end != abs_time(c->final_jam_end)) {
        fails++;
        print_error("  final track: want jam_start=%lld jam_end=%lld, got %lld %lld\n",
                    (long long)c->final_jam_start, (long long)c->final_jam_end, rel_of(t.jam_start),
                    rel_of(t.jam_end));
    }
    if (fails) {
        fail_msg("case \"%s\": %d mismatches", c->name, fails);
    }
}

static void test_defaults(void **state)
{
    struct bch_track_params p;
    struct bch_seg_track t;

    (void)state;
    bch_track_params_default(&p);
    assert_int_equal(p.stale_s, 900);
    assert_int_equal(p.hysteresis_s, 300);
    bch_seg_track_init(&t);
    assert_true(t.last_mdate == NO);
    assert_true(t.interval_start == NO);
    assert_true(t.jam_start == NO);
    assert_true(t.jam_end == NO);
    assert_true(t.jam_last == NO);
    assert_false(t.jam_left_censored);
    assert_false(t.jam_right_censored);
}

/* NULL parameters mean the defaults. */
static void test_null_params(void **state)
{
    struct bch_seg_track t;
    struct bch_track_event out[BCH_TRACK_MAX_EVENTS];

    (void)state;
    bch_seg_track_init(&t);
    assert_int_equal(bch_track_step(&t, T0, FLU, NULL, out), 1);
    assert_int_equal(bch_track_step(&t, T0 + 5000, FLU, NULL, out), 1);
    assert_int_equal(out[0].kind, BCH_EV_COVERAGE);
    assert_true(out[0].end == T0 + 900);
}

/* ---- the ongoing cap -------------------------------------------------- */

/*
 * bch_track_open_until(): how far an episode with no end counts when the
 * data reaches instant at.  Each row: a few observations (relative), the
 * instant at, and the expected (until, ongoing).
 */
struct until_case {
    const char *name;
    int64_t stale_s; /* 0: the default */
    int64_t obs[4][2];
    size_t nobs;
    int64_t at;
    int64_t until; /* NO: no open episode */
    bool ongoing;
};

static const struct until_case until_cases[] = {
    {"fresh: counts up to the snapshot", 0, {{0, FLU}, {60, EMB}, {120, EMB}}, 3, 600, 600, true},
    {"exactly stale: still ongoing", 0, {{0, EMB}, {60, EMB}}, 2, 960, 960, true},
    {"silent for 2 days: ended unseen at last + stale",
     0,
     {{0, EMB}, {60, EMB}},
     2,
     2 * 86400 + 60,
     960,
     false},
    {"one second past stale", 0, {{0, EMB}}, 1, 901, 900, false},
    {"at before the last congested mdate: that observation",
     0,
     {{0, EMB}, {600, EMB}},
     2,
     300,
     600,
     true},
    {"no data instant: the last congested mdate", 0, {{0, EMB}, {60, PAR}}, 2, INT64_MIN, 60, true},
    {"custom stale 120", 120, {{0, EMB}, {100, EMB}}, 2, 1000, 220, false},
    {"ended (observed): no open episode", 0, {{0, EMB}, {60, FLU}}, 2, 600, NO, false},
    {"within the hysteresis: no open episode", 0, {{0, EMB}, {60, DEN}}, 2, 90, NO, false},
    {"never congested", 0, {{0, FLU}}, 1, 600, NO, false},
};

static void test_open_until(void **state)
{
    int fails = 0;

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(until_cases); i++) {
        const struct until_case *c = &until_cases[i];
        struct bch_track_params p;
        struct bch_seg_track t;
        struct bch_track_event out[BCH_TRACK_MAX_EVENTS];
        bch_time at = c->at == INT64_MIN ? NO : T0 + c->at, until;
        bool ongoing = !c->ongoing;

        bch_track_params_default(&p);
        if (c->stale_s) {
            p.stale_s = c->stale_s;
        }
        bch_seg_track_init(&t);
        for (size_t k = 0; k < c->nobs; k++) {
            bch_track_step(&t, T0 + c->obs[k][0], (int)c->obs[k][1], &p, out);
        }
        until = bch_track_open_until(&t, at, &p, &ongoing);
        if (until != abs_time(c->until) || ongoing != c->ongoing) {
            fails++;
            print_error("  %s: want until=%lld ongoing=%d, got %lld %d\n", c->name,
                        (long long)c->until, (int)c->ongoing, rel_of(until), (int)ongoing);
        }
        /* *ongoing may be NULL */
        if (bch_track_open_until(&t, at, &p, NULL) != until) {
            fails++;
            print_error("  %s: a NULL ongoing changes the result\n", c->name);
        }
    }
    if (fails) {
        fail_msg("%d mismatches", fails);
    }
}

/* ---- property test ---------------------------------------------------- */

#define PROP_SEQS 400
#define PROP_LEN  80

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *s, unsigned n)
{
    return (unsigned)(rng_next(s) % n);
}

struct episode {
    bch_time start, end, last;
    int peak;
    bool lc, rc;
    size_t end_obs; /* index of the observation that ended it (batch only) */
};

/* Some gap between observations i and j (i < j) is above the stale limit. */
static bool gap_between(const bch_time *m, size_t i, size_t j, int64_t stale)
{
    for (size_t k = i + 1; k <= j; k++) {
        if (m[k] - m[k - 1] > stale) {
            return true;
        }
    }
    return false;
}

/*
 * Episodes computed from the whole sequence at once: maximal runs of
 * congested observations with no gap above the stale limit inside, each
 * ending at the next observation, or at its last mdate + stale when a gap
 * above stale follows it (right-censored, like an INCONNU end); then runs
 * merged left to right when the next run starts within the hysteresis of
 * the previous run's observed end with no gap above stale in between.
 */
static size_t batch_episodes(const bch_time *m, const int *s, size_t n, int64_t stale, int64_t hyst,
                             struct episode *ep)
{
    size_t ne = 0;

    for (size_t a = 0; a < n;) {
        size_t b;
        struct episode run;

        if (!bch_state_congested(s[a])) {
            a++;
            continue;
        }
        b = a;
        run.peak = s[a];
        while (b + 1 < n && bch_state_congested(s[b + 1]) && m[b + 1] - m[b] <= stale) {
            b++;
            run.peak = s[b] > run.peak ? s[b] : run.peak;
        }
        run.start = m[a];
        run.last = m[b];
        run.end_obs = b + 1;
        if (b + 1 >= n) {
            run.end = NO;
            run.rc = false;
        } else if (m[b + 1] - m[b] > stale) {
            run.end = m[b] + stale;
            run.rc = true;
        } else {
            run.end = m[b + 1];
            run.rc = s[b + 1] == BCH_STATE_INCONNU;
        }
        run.lc = a == 0 || m[a] - m[a - 1] > stale || s[a - 1] == BCH_STATE_INCONNU;
        if (ne > 0 && ep[ne - 1].end != NO && ep[ne - 1].end == m[ep[ne - 1].end_obs] &&
            m[a] - ep[ne - 1].end <= hyst && !gap_between(m, ep[ne - 1].end_obs, a, stale)) {
            struct episode *prev = &ep[ne - 1];

            prev->last = run.last;
            prev->end = run.end;
            prev->rc = run.rc;
            prev->end_obs = run.end_obs;
            prev->peak = run.peak > prev->peak ? run.peak : prev->peak;
        } else {
            ep[ne++] = run;
        }
        a = b + 1;
    }
    return ne;
}

struct prop_ctx {
    unsigned seq;
    int fails;
};

#define CHECK(ctx, cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if ((ctx)->fails < 20) {                                                               \
                print_error("  seq %u: %s: ", (ctx)->seq, #cond);                                  \
                print_error(__VA_ARGS__);                                                          \
                print_error("\n");                                                                 \
            }                                                                                      \
            (ctx)->fails++;                                                                        \
        }                                                                                          \
    } while (0)

static void check_sequence(struct prop_ctx *ctx, const bch_time *m, const int *s, size_t n,
                           const struct bch_track_params *p)
{
    struct bch_seg_track t;
    struct episode got_ep[PROP_LEN], want_ep[PROP_LEN];
    size_t ngot = 0, nwant;
    bch_time ivl_start = NO, cov_end = NO;
    int ivl_state = -1;
    size_t nintervals = 0, nchanges = 0;
    int64_t cov_total = 0, cov_want = 0;

    bch_seg_track_init(&t);
    for (size_t k = 0; k < n; k++) {
        struct bch_track_event out[BCH_TRACK_MAX_EVENTS + 4];
        int nev;
        size_t ncov = 0;

        for (size_t i = 0; i < BCH_ARRAY_LEN(out); i++) {
            out[i].kind = (enum bch_track_event_kind)99; /* canary */
        }
        nev = bch_track_step(&t, m[k], s[k], p, out);
        CHECK(ctx, nev >= 1 && nev <= BCH_TRACK_MAX_EVENTS, "step %zu: %d events", k, nev);
        CHECK(ctx, (int)out[BCH_TRACK_MAX_EVENTS].kind == 99, "step %zu wrote past the bound", k);
        if (nev < 0 || nev > BCH_TRACK_MAX_EVENTS) {
            return;
        }
        if (k > 0) {
            int64_t gap = m[k] - m[k - 1];

            cov_want += gap < p->stale_s ? gap : p->stale_s;
            nchanges += s[k] != s[k - 1];
        }
        for (int i = 0; i < nev; i++) {
            const struct bch_track_event *e = &out[i];
            struct episode *cur = ngot ? &got_ep[ngot - 1] : NULL;

            switch (e->kind) {
            case BCH_EV_COVERAGE:
                ncov++;
                CHECK(ctx, k > 0 && e->start == m[k - 1], "step %zu: coverage start", k);
                CHECK(ctx, e->end > e->start || (p->stale_s == 0 && e->end == e->start),
                      "step %zu: empty coverage", k);
                CHECK(ctx, e->end - e->start <= p->stale_s, "step %zu: coverage above stale", k);
                CHECK(ctx, e->end <= m[k], "step %zu: coverage past the next mdate", k);
                CHECK(ctx, cov_end == NO || e->start >= cov_end, "step %zu: coverage overlap", k);
                CHECK(ctx, k > 0 && e->state == s[k - 1], "step %zu: coverage state", k);
                CHECK(ctx, i == 0, "step %zu: coverage is not the first event", k);
                cov_end = e->end;
                cov_total += e->end - e->start;
                break;
            case BCH_EV_INTERVAL_CLOSE:
                CHECK(ctx, ivl_start != NO && e->start == ivl_start && e->state == ivl_state,
                      "step %zu: close of an interval that is not open", k);
                CHECK(ctx, e->end == m[k], "step %zu: interval end", k);
                CHECK(ctx, i + 1 < nev && out[i + 1].kind == BCH_EV_INTERVAL_OPEN,
                      "step %zu: close not followed by open", k);
                ivl_start = NO;
                break;
            case BCH_EV_INTERVAL_OPEN:
                CHECK(ctx, ivl_start == NO, "step %zu: interval opened twice (overlap)", k);
                CHECK(ctx, e->start == m[k] && e->state == s[k], "step %zu: interval open", k);
                ivl_start = e->start;
                ivl_state = e->state;
                nintervals++;
                break;
            case BCH_EV_JAM_OPEN:
                CHECK(ctx, !cur || cur->end != NO, "step %zu: open while an episode is open", k);
                CHECK(ctx, bch_state_congested(s[k]) && e->start == m[k], "step %zu: open", k);
                if (ngot < PROP_LEN) {
                    got_ep[ngot++] = (struct episode){e->start,         NO,    e->last, e->peak,
                                                      e->left_censored, false, 0};
                }
                break;
            case BCH_EV_JAM_UPDATE:
                CHECK(ctx, cur && cur->end == NO && cur->start == e->start,
                      "step %zu: update of no open episode", k);
                CHECK(ctx, e->last == m[k] && bch_state_congested(s[k]), "step %zu: update", k);
                if (cur) {
                    CHECK(ctx, e->peak >= cur->peak, "step %zu: peak went down", k);
                    cur->last = e->last;
                    cur->peak = e->peak;
                }
                break;
            case BCH_EV_JAM_CLOSE:
                CHECK(ctx, cur && cur->end == NO && cur->start == e->start,
                      "step %zu: close of no open episode", k);
                if (k > 0 && m[k] - m[k - 1] > p->stale_s) {
                    /* a gap: the end nobody saw, when the last observation expired */
                    CHECK(ctx,
                          e->right_censored && e->end == m[k - 1] + p->stale_s &&
                              e->last == m[k - 1],
                          "step %zu: close after a gap", k);
                } else {
                    CHECK(ctx, e->end == m[k] && !bch_state_congested(s[k]), "step %zu: close", k);
                    CHECK(ctx, e->right_censored == (s[k] == BCH_STATE_INCONNU),
                          "step %zu: right censoring of an observed end", k);
                }
                /* no figure claims congestion beyond what was observed */
                CHECK(ctx, e->end - e->last <= p->stale_s, "step %zu: end past last + stale", k);
                if (cur) {
                    cur->end = e->end;
                    cur->rc = e->right_censored;
                }
                break;
            case BCH_EV_JAM_REOPEN:
                CHECK(ctx, cur && cur->end != NO && cur->start == e->start,
                      "step %zu: reopen of no closed episode", k);
                CHECK(ctx, cur && m[k] - cur->end <= p->hysteresis_s,
                      "step %zu: reopen beyond the hysteresis", k);
                CHECK(ctx, k > 0 && m[k] - m[k - 1] <= p->stale_s, "step %zu: reopen over a gap",
                      k);
                CHECK(ctx, !e->right_censored, "step %zu: reopened but right-censored", k);
                CHECK(ctx, i + 1 < nev && out[i + 1].kind == BCH_EV_JAM_UPDATE,
                      "step %zu: reopen not followed by update", k);
                if (cur) {
                    cur->end = NO;
                }
                break;
            default:
                CHECK(ctx, false, "step %zu: unknown event kind %d", k, (int)e->kind);
                break;
            }
        }
        CHECK(ctx, ncov == (k > 0 ? 1u : 0u), "step %zu: %zu coverage events", k, ncov);
    }
    /* Intervals tile [m0, last): one per run of equal states, the last one open. */
    CHECK(ctx, nintervals == nchanges + 1, "%zu intervals for %zu changes", nintervals, nchanges);
    CHECK(ctx, ivl_start != NO && ivl_state == s[n - 1], "last interval not open");
    CHECK(ctx, cov_total == cov_want, "coverage %lld, want %lld", (long long)cov_total,
          (long long)cov_want);
    /* Every episode is closed, or open with the last observation congested. */
    if (ngot > 0) {
        CHECK(ctx, got_ep[ngot - 1].end != NO || bch_state_congested(s[n - 1]),
              "episode left open after a non-congested observation");
    }
    nwant = batch_episodes(m, s, n, p->stale_s, p->hysteresis_s, want_ep);
    CHECK(ctx, ngot == nwant, "%zu episodes from events, %zu from the batch", ngot, nwant);
    for (size_t i = 0; i < ngot && i < nwant; i++) {
        const struct episode *g = &got_ep[i], *w = &want_ep[i];

        CHECK(ctx,
              g->start == w->start && g->end == w->end && g->last == w->last &&
                  g->peak == w->peak && g->lc == w->lc && g->rc == w->rc,
              "episode %zu differs: got %lld..%lld last %lld peak %d lc %d rc %d, want %lld..%lld "
              "last %lld peak %d lc %d rc %d",
              i, rel_of(g->start), rel_of(g->end), rel_of(g->last), g->peak, (int)g->lc, (int)g->rc,
              rel_of(w->start), rel_of(w->end), rel_of(w->last), w->peak, (int)w->lc, (int)w->rc);
    }
}

static void test_property_random(void **state)
{
    static const int64_t gaps[] = {1,   30,  60,  60,  60,  60,  120, 299,
                                   300, 301, 600, 899, 900, 901, 3600};
    static const int64_t params[][2] = {{900, 300}, {120, 0}, {300, 900}, {60, 60}, {0, 0}};
    struct prop_ctx ctx = {0, 0};
    uint64_t rng = 20251218;

    (void)state;
    for (unsigned q = 0; q < PROP_SEQS; q++) {
        bch_time m[PROP_LEN];
        int s[PROP_LEN];
        struct bch_track_params p;
        size_t n = 1 + rng_below(&rng, PROP_LEN);

        ctx.seq = q;
        p.stale_s = params[q % BCH_ARRAY_LEN(params)][0];
        p.hysteresis_s = params[q % BCH_ARRAY_LEN(params)][1];
        m[0] = T0 + rng_below(&rng, 3600);
        s[0] = (int)rng_below(&rng, BCH_STATE_COUNT);
        for (size_t k = 1; k < n; k++) {
            m[k] = m[k - 1] + gaps[rng_below(&rng, BCH_ARRAY_LEN(gaps))];
            /* Mostly persistent states, with flickers in and out of congestion. */
            s[k] = rng_below(&rng, 10) < 6 ? s[k - 1] : (int)rng_below(&rng, BCH_STATE_COUNT);
        }
        check_sequence(&ctx, m, s, n, &p);
    }
    if (ctx.fails) {
        fail_msg("%d invariant violations over %d sequences", ctx.fails, PROP_SEQS);
    }
}

int main(void)
{
    struct CMUnitTest tests[BCH_ARRAY_LEN(cases) + 4];
    size_t n = 0;

    for (size_t i = 0; i < BCH_ARRAY_LEN(cases); i++) {
        tests[n++] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, (void *)&cases[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defaults);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_null_params);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_open_until);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_property_random);
    return cmocka_run_group_tests_name("track", tests, NULL, NULL);
}
