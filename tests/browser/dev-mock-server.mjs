#!/usr/bin/env node
// DEVELOPMENT ONLY: a stand-in for `bouchon serve`, so the dashboard can be built and looked at
// before the C server exists. CI never uses it: dashboard.test.mjs runs against the real binary
// unless BOUCHON_DEV_MOCK=1 is set, and CI never sets that variable.
//
// It serves the built page (build/web) at / and answers the API of docs/openapi.yaml with
// figures computed here from the real ci_trafi_l snapshots in shared/data/bordeaux (the two
// 2025-12-18 files: 694 segments; at 10:00 FLUIDE 432, INCONNU 224, EMBOUTEILLE 22, DENSE 16;
// congested 10.34 km of 164.70 km known, dense 5.49 km). The figures follow
// CONGESTION_METRICS.md closely enough to develop the page; they are not the reference.
//
// usage: node tests/browser/dev-mock-server.mjs [serve] [--listen 127.0.0.1:8080]
//          [--assets build/web] [--data DIR] [--fresh] [--step-seconds N]
//   --fresh            pretend "now" is 30 s after the newest snapshot (health "ok"),
//                      instead of the wall clock (the real data are old: health "stale")
//   --step-seconds N   start with only the first snapshot stored and store the next one every
//                      N seconds, sending the `snapshot` server-sent event (live refresh check)
//   --empty            store no snapshot at all (an empty database)
//   --db FILE          accepted and ignored, so the command line matches `bouchon serve`
//   --history-db FILE  answer the history routes (/api/v1/history*, /corridors*, /stations) from
//                      a warehouse with imported history, through `bouchon report --json` and the
//                      sqlite3 command line (read only); without it they answer "no history"

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

const STALE_LIMIT_S = 900;
const QUEUE_TOLERANCE_M = 15;
const EARTH_R = 6371008.8;
const STATES = ['FLUIDE', 'DENSE', 'EMBOUTEILLE', 'PARALYSE', 'INCONNU'];
const CONGESTED = new Set(['EMBOUTEILLE', 'PARALYSE']);
const WEIGHT = { FLUIDE: 0, DENSE: 0.5, EMBOUTEILLE: 1, PARALYSE: 1 };

function parseArgs(argv) {
    const o = {
        listen: '127.0.0.1:8080',
        assets: path.join(REPO, 'build', 'web'),
        data: process.env.BOUCHON_DATA_DIR || path.resolve(REPO, '..', 'shared', 'data', 'bordeaux'),
        fresh: false,
        step: 0,
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => {
            if (i + 1 >= argv.length) throw new Error(`missing value after ${a}`);
            return argv[++i];
        };
        if (a === 'serve') continue;
        else if (a === '--listen') o.listen = next();
        else if (a === '--assets') o.assets = path.resolve(next());
        else if (a === '--data') o.data = path.resolve(next());
        else if (a === '--db') next();
        else if (a === '--history-db') o.historyDb = path.resolve(next());
        else if (a === '--fresh') o.fresh = true;
        else if (a === '--empty') o.empty = true;
        else if (a === '--step-seconds') o.step = Number(next());
        else throw new Error(`unknown argument '${a}'`);
    }
    return o;
}

// ---------------------------------------------------------------- data

function parseCsv(text, sep) {
    const rows = [];
    let row = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quoted) {
            if (c === '"') {
                if (text[i + 1] === '"') {
                    field += '"';
                    i++;
                } else quoted = false;
            } else field += c;
        } else if (c === '"') quoted = true;
        else if (c === sep) {
            row.push(field);
            field = '';
        } else if (c === '\n') {
            row.push(field);
            rows.push(row);
            row = [];
            field = '';
        } else if (c !== '\r') field += c;
    }
    if (field !== '' || row.length) {
        row.push(field);
        rows.push(row);
    }
    return rows;
}

const rad = (d) => (d * Math.PI) / 180;
function distM(a, b) {
    const dLat = rad(b[1] - a[1]);
    const dLon = rad(b[0] - a[0]);
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a[1])) * Math.cos(rad(b[1])) * Math.sin(dLon / 2) ** 2;
    return 2 * EARTH_R * Math.asin(Math.min(1, Math.sqrt(h)));
}
const linesOf = (g) => (g.type === 'LineString' ? [g.coordinates] : g.coordinates);
function lengthM(g) {
    let s = 0;
    for (const l of linesOf(g)) for (let i = 1; i < l.length; i++) s += distM(l[i - 1], l[i]);
    return s;
}

const iso = (ms) => (ms == null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
const round = (x, n) => (x == null ? null : Math.round(x * 10 ** n) / 10 ** n);

function loadData(dir) {
    const files = fs
        .readdirSync(dir)
        .filter((f) => /^ci_trafi_l_.*\.csv$/.test(f))
        .sort();
    if (!files.length) throw new Error(`no ci_trafi_l_*.csv in ${dir}`);
    const segs = new Map(); // gid -> static properties
    const snapshots = []; // { at, rows: Map gid -> {state, mdate} }
    let observations = 0;
    for (const f of files) {
        const rows = parseCsv(fs.readFileSync(path.join(dir, f), 'utf8'), ';');
        const head = rows[0].map((h) => h.replace(/^\uFEFF/, ''));
        const idx = Object.fromEntries(head.map((h, i) => [h, i]));
        const snap = new Map();
        let at = 0;
        for (const r of rows.slice(1)) {
            if (r.length < head.length) continue;
            const gid = Number(r[idx.gid]);
            const mdate = Date.parse(r[idx.mdate]);
            at = Math.max(at, mdate);
            if (!segs.has(gid)) {
                const geometry = JSON.parse(r[idx.geo_shape]);
                segs.set(gid, {
                    gid,
                    ident: r[idx.ident],
                    typevoie: r[idx.typevoie],
                    commune: r[idx.commune],
                    code_commune: r[idx.code_commune],
                    origine: r[idx.origine],
                    geometry,
                    length_m: lengthM(geometry),
                });
            }
            snap.set(gid, { state: r[idx.etat], mdate });
            observations++;
        }
        snapshots.push({ at, rows: snap });
    }
    snapshots.sort((a, b) => a.at - b.at);
    // per-segment observation list, deduplicated on (gid, mdate)
    const obs = new Map();
    for (const s of snapshots) {
        for (const [gid, o] of s.rows) {
            const l = obs.get(gid) || [];
            if (!l.length || l[l.length - 1].mdate !== o.mdate) l.push(o);
            obs.set(gid, l);
        }
    }
    return { segs, snapshots, obs, observations };
}

// A view of the data as if only the first `n` snapshots were stored.
function makeView(data, n) {
    const snapshots = data.snapshots.slice(0, n);
    const last = snapshots[snapshots.length - 1];
    const lastAt = last ? last.at : null;
    const intervals = new Map(); // gid -> [{start,end,state}]
    const jams = []; // all jam episodes
    let stateChanges = 0;
    let observations = 0;
    for (const [gid, list] of data.obs) {
        const l = list.filter((o) => lastAt != null && o.mdate <= lastAt);
        observations += l.length;
        const iv = [];
        for (const o of l) {
            const cur = iv[iv.length - 1];
            if (cur && cur.state === o.state) continue;
            if (cur) {
                cur.end = o.mdate;
                stateChanges++;
            }
            iv.push({ start: o.mdate, end: null, state: o.state });
        }
        intervals.set(gid, iv);
        let jam = null;
        iv.forEach((v, i) => {
            if (CONGESTED.has(v.state)) {
                if (!jam) jam = { gid, start: v.start, end: null, left_censored: i === 0, peak_state: v.state };
                if (v.state === 'PARALYSE') jam.peak_state = 'PARALYSE';
                jam.end = v.end;
            } else if (jam) {
                jams.push(jam);
                jam = null;
            }
        });
        if (jam) jams.push(jam);
    }
    return { data, snapshots, lastAt, intervals, jams, stateChanges, observations };
}

// at: seen from this snapshot time (an episode that ended later is still ongoing then)
function jamItem(view, j, at = view.lastAt) {
    const s = view.data.segs.get(j.gid);
    const ended = j.end != null && j.end <= at;
    const end = ended ? j.end : at;
    return {
        gid: j.gid,
        ident: s.ident,
        start: iso(j.start),
        end: ended ? iso(j.end) : null,
        duration_s: Math.max(0, Math.round((end - j.start) / 1000)),
        left_censored: j.left_censored,
        peak_state: j.peak_state,
        length_m: round(s.length_m, 1),
        typevoie: s.typevoie,
        commune: s.commune,
    };
}

function snapshotAt(view, at) {
    let best = null;
    for (const s of view.snapshots) if (at == null || s.at <= at) best = s;
    return best;
}

function latestFigures(view, snap) {
    const st = Object.fromEntries(STATES.map((k) => [k, 0]));
    if (!snap) {
        return {
            at: null, states: st, known_km: 0, congested_km: 0, dense_km: 0, congested_share: null,
            dense_share: null, weighted_index: null, stale: 0, unknown_share: null, stale_share: null,
            newest_mdate: null, newest_age_s: null, flag: 'empty',
        };
    }
    let known = 0, cong = 0, dense = 0, w = 0, stale = 0, newest = 0;
    for (const [gid, o] of snap.rows) {
        const L = view.data.segs.get(gid).length_m;
        st[o.state] = (st[o.state] || 0) + 1;
        newest = Math.max(newest, o.mdate);
        const isStale = (snap.at - o.mdate) / 1000 > STALE_LIMIT_S;
        if (isStale) stale++;
        if (o.state === 'INCONNU' || isStale) continue;
        known += L;
        w += WEIGHT[o.state] * L;
        if (CONGESTED.has(o.state)) cong += L;
        if (o.state === 'DENSE') dense += L;
    }
    const n = snap.rows.size;
    return {
        at: iso(snap.at),
        states: st,
        known_km: round(known / 1000, 2),
        congested_km: round(cong / 1000, 2),
        dense_km: round(dense / 1000, 2),
        congested_share: known ? round(cong / known, 4) : null,
        dense_share: known ? round(dense / known, 4) : null,
        weighted_index: known ? round(w / known, 4) : null,
        stale,
        unknown_share: round(st.INCONNU / n, 4),
        stale_share: round(stale / n, 4),
        newest_mdate: iso(newest),
        newest_age_s: Math.round((snap.at - newest) / 1000),
        flag: known === 0 ? 'all_unknown' : null,
    };
}

function queuesAt(view, snap) {
    if (!snap) return [];
    const cong = [...snap.rows].filter(([, o]) => CONGESTED.has(o.state)).map(([gid]) => view.data.segs.get(gid));
    const parent = cong.map((_, i) => i);
    const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
    const ends = (s) => linesOf(s.geometry).flatMap((l) => [l[0], l[l.length - 1]]);
    const verts = (s) => linesOf(s.geometry).flat();
    const touch = (a, b) => ends(a).some((e) => verts(b).some((v) => distM(e, v) <= QUEUE_TOLERANCE_M));
    for (let i = 0; i < cong.length; i++)
        for (let j = i + 1; j < cong.length; j++)
            if (touch(cong[i], cong[j]) || touch(cong[j], cong[i])) parent[find(i)] = find(j);
    const groups = new Map();
    cong.forEach((s, i) => {
        const r = find(i);
        if (!groups.has(r)) groups.set(r, []);
        groups.get(r).push(s);
    });
    return [...groups.values()]
        .map((g) => ({
            idents: g.map((s) => s.ident).sort(),
            length_m: round(g.reduce((a, s) => a + s.length_m, 0), 1),
            n_segments: g.length,
        }))
        .sort((a, b) => b.length_m - a.length_m);
}

function congestedSeconds(view, gid, from, to) {
    let s = 0;
    for (const v of view.intervals.get(gid) || []) {
        if (!CONGESTED.has(v.state)) continue;
        const a = Math.max(v.start, from);
        const b = Math.min(v.end == null ? view.lastAt : v.end, to);
        if (b > a) s += (b - a) / 1000;
    }
    return s;
}

const overlaps = (j, from, to, lastAt) => j.start <= to && (j.end == null ? lastAt : j.end) >= from;

function hotspots(view, from, to, by, limit) {
    const per = [];
    for (const [gid, s] of view.data.segs) {
        const cs = congestedSeconds(view, gid, from, to);
        const ep = view.jams.filter((j) => j.gid === gid && overlaps(j, from, to, view.lastAt)).length;
        if (cs > 0 || ep > 0) per.push({ s, cs, ep });
    }
    let out;
    if (by === 'segment') {
        out = per.map(({ s, cs, ep }) => ({
            key: s.ident, congested_s: Math.round(cs), congested_km_h: round((s.length_m / 1000) * (cs / 3600), 4),
            episodes: ep, length_m: round(s.length_m, 1), ident: s.ident, gid: s.gid, typevoie: s.typevoie, commune: s.commune,
        }));
    } else {
        const g = new Map();
        for (const { s, cs, ep } of per) {
            const k = s[by];
            const e = g.get(k) || { key: k, congested_s: 0, congested_km_h: 0, episodes: 0, length_m: 0 };
            e.congested_s += cs;
            e.congested_km_h += (s.length_m / 1000) * (cs / 3600);
            e.episodes += ep;
            g.set(k, e);
        }
        for (const s of view.data.segs.values()) if (g.has(s[by])) g.get(s[by]).length_m += s.length_m;
        out = [...g.values()].map((e) => ({
            ...e, congested_s: Math.round(e.congested_s), congested_km_h: round(e.congested_km_h, 4), length_m: round(e.length_m, 1),
        }));
    }
    const key = by === 'segment' ? 'congested_s' : 'congested_km_h';
    out.sort((a, b) => b[key] - a[key] || b.episodes - a.episodes);
    return out.slice(0, limit);
}

const parisParts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Paris', weekday: 'short', hour: '2-digit', hourCycle: 'h23',
});
const WD = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

function profile(view, from, to) {
    const cells = new Map();
    const snaps = view.snapshots.filter((s) => s.at >= from && s.at <= to);
    snaps.forEach((s, i) => {
        const f = latestFigures(view, s);
        if (f.congested_share == null) return;
        const p = Object.fromEntries(parisParts.formatToParts(new Date(s.at)).map((x) => [x.type, x.value]));
        const key = `${WD[p.weekday]}-${Number(p.hour)}`;
        const c = cells.get(key) || { weekday: WD[p.weekday], hour: Number(p.hour), sum: 0, idx: 0, n: 0, ksh: 0 };
        const known = [...s.rows].filter(([, o]) => o.state !== 'INCONNU' && (s.at - o.mdate) / 1000 <= STALE_LIMIT_S).length;
        const step = i + 1 < snaps.length ? (snaps[i + 1].at - s.at) / 1000 : 60;
        c.sum += f.congested_share;
        c.idx += (f.dense_share + 2 * f.congested_share) / 2;
        c.n++;
        c.ksh += (known * Math.min(step, 3600)) / 3600;
        cells.set(key, c);
    });
    return [...cells.values()]
        .sort((a, b) => a.weekday - b.weekday || a.hour - b.hour)
        .map((c) => ({
            weekday: c.weekday, hour: c.hour, congested_share: round(c.sum / c.n, 4),
            index: round(c.idx / c.n, 4), known_segment_hours: round(c.ksh, 2),
        }));
}

// ---------------------------------------------------------------- http

const MIME = {
    '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
    '.png': 'image/png', '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8', '.json': 'application/json',
};

class HttpError extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }
}

function parseTime(q, name, dflt) {
    const v = q.get(name);
    if (v == null || v === '') return dflt;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(v) || Number.isNaN(Date.parse(v)))
        throw new HttpError(400, `'${name}' must be a UTC time YYYY-MM-DDTHH:MM:SSZ`);
    return Date.parse(v);
}

// ---------------------------------------------------------------- history (development only)
// The history routes are answered by the real report (`bouchon report --json --only SECTION`,
// whose sections are what the C routes return) and by read-only sqlite3 queries for the tables
// the report does not print. Slow (a process per request) but enough to develop the page.
function historySource(dbFile) {
    const bin = process.env.BOUCHON_BIN || path.join(REPO, 'build', 'bouchon');
    const cache = new Map();
    const sql = (q) => {
        if (!dbFile) return [];
        const out = execFileSync('sqlite3', ['-readonly', '-json', dbFile, q], { encoding: 'utf8', maxBuffer: 1 << 28 });
        return out.trim() ? JSON.parse(out) : [];
    };
    const report = (section, from, to, extra = []) => {
        const args = ['report', '--db', dbFile, '--json', '--only', section, ...extra];
        if (from != null) args.push('--from', iso(from));
        if (to != null) args.push('--to', iso(to));
        const key = args.join(' ');
        if (!cache.has(key))
            cache.set(key, JSON.parse(execFileSync(bin, ['-q', ...args], { encoding: 'utf8', maxBuffer: 1 << 28 }))[section]);
        return cache.get(key);
    };
    const dayIso = (epochDay) => (epochDay == null ? null : new Date(epochDay * 86400e3).toISOString().slice(0, 10));
    const localDay = (ms) => (ms == null ? null : new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(ms));
    let overview = null;
    const meta = () => {
        if (overview) return overview;
        if (!dbFile) {
            overview = { history: { segment_hours: 0, known_segment_hours: 0, first_hour: null, last_hour: null },
                first_day: null, last_day: null, has_travel_times: false, has_counts: false, has_stations: false, periods: [] };
            return overview;
        }
        const h = report('history');
        const n = sql(`select (select count(*) from travel_time) tt, (select count(*) from annual_count) ac,
            (select count(*) from sensor where lon is not null) + (select count(*) from count_campaign where lon is not null) st`)[0];
        overview = {
            history: h, first_day: localDay(Date.parse(h.first_hour)), last_day: localDay(Date.parse(h.last_hour)),
            has_travel_times: n.tt > 0, has_counts: n.ac > 0, has_stations: n.st > 0,
            periods: sql('select label, start_day, end_day from period order by start_day').map((r) =>
                ({ label: r.label, start: dayIso(r.start_day), end: dayIso(r.end_day) })),
        };
        return overview;
    };
    const firstLast = () => {
        const h = meta().history;
        return [h.first_hour ? Date.parse(h.first_hour) : null, h.last_hour ? Date.parse(h.last_hour) : null];
    };
    const when = (q, name) => {
        const v = q.get(name);
        if (v == null) return null;
        const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? v + 'T00:00:00Z' : v);
        if (v === '' || Number.isNaN(t) || !/(Z|[+-]\d{2}(:?\d{2})?)$|^\d{4}-\d{2}-\d{2}$/.test(v))
            throw new HttpError(400, `'${name}' is not an ISO-8601 time with an offset`);
        return t;
    };
    const range = (q, dflt = firstLast) => {
        const [f0, t0] = dflt();
        const from = when(q, 'from') ?? f0;
        const to = when(q, 'to') ?? t0;
        if (from != null && to != null && from > to) throw new HttpError(400, "'from' is after 'to'");
        return [from, to];
    };
    const section = (name, pick) => (q) => {
        const [from, to] = range(q);
        if (!dbFile || from == null) return { from: iso(from), to: iso(to), ...pick(null) };
        return { from: iso(from), to: iso(to), ...pick(report(name, from, to, name === 'hotspots_history' ? ['--limit', q.get('limit') || '20'] : [])) };
    };
    const geom = (text) => (text ? JSON.parse(text) : null);
    return {
        '/api/v1/history': () => meta(),
        '/api/v1/history/daily': section('daily', (d) => ({ days: d || [] })),
        '/api/v1/history/profile': section('profile', (d) => ({ tz: 'Europe/Paris', cells: d || [] })),
        '/api/v1/history/trend': section('trend_monthly', (d) => ({ months: d || [] })),
        '/api/v1/history/hotspots': section('hotspots_history', (d) => d || { by_peak_index: [], by_congested_hours: [], congested_index: 0.5, min_known_segment_hours: 24 }),
        '/api/v1/history/periods': section('periods', (d) => ({ periods: d || [] })),
        '/api/v1/corridors': (q) => {
            const span = () => {
                const r = dbFile ? sql('select min(at) a, max(at) b from travel_time')[0] : {};
                return [r.a != null ? r.a * 1000 : null, r.b != null ? r.b * 1000 : null];
            };
            const [from, to] = range(q, span);
            return { from: iso(from), to: iso(to), corridors: dbFile && from != null ? report('corridors', from, to) || [] : [] };
        },
        '/api/v1/corridors.geojson': () => ({
            type: 'FeatureCollection',
            features: sql('select gid, ident, label, length_m, geometry from travel_corridor order by gid').map((r) => ({
                type: 'Feature', geometry: geom(r.geometry), properties: { gid: r.gid, ident: r.ident, label: r.label, length_m: r.length_m },
            })),
        }),
        '/api/v1/stations': () => {
            const annual = new Map();
            for (const a of sql('select ident, year, sens, nom_voie, mjo_val, hpm_val, hps_val, mjo_pct from annual_count order by year, sens')) {
                if (!annual.has(a.ident)) annual.set(a.ident, []);
                const { ident, ...rest } = a;
                annual.get(ident).push(rest);
            }
            const latest = new Map(sql(`select c.ident, c.at, c.count, c.flags from sensor_count c
                join (select ident, max(at) at from sensor_count group by ident) m using (ident, at)`).map((r) => [r.ident, r]));
            const features = sql('select * from sensor where lon is not null order by ident').map((s) => {
                const l = latest.get(s.ident);
                return { type: 'Feature', geometry: { type: 'Point', coordinates: [s.lon, s.lat] }, properties: {
                    kind: 'sensor', ident: s.ident, gid: s.gid, type: s.type, commune: s.commune, code_commune: s.code_commune,
                    latest_count: l ? { at: iso(l.at * 1000), count: l.count, flags: l.flags } : null, annual: annual.get(s.ident) || [] } };
            });
            for (const c of sql('select * from count_campaign where lon is not null order by gid'))
                features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [c.lon, c.lat] }, properties: {
                    kind: 'campaign', gid: c.gid, type: c.type, insee: c.insee, annee: c.annee, start_day: dayIso(c.start_day),
                    end_day: dayIso(c.end_day), tmjo_tv: c.tmjo_tv, hpm_tv: c.hpm_tv, hps_tv: c.hps_tv, v85_vl: c.v85_vl,
                    orientation: c.orientation } });
            return { type: 'FeatureCollection', features };
        },
    };
}

function main() {
    const opt = parseArgs(process.argv.slice(2));
    const data = loadData(opt.data);
    let stored = opt.empty ? 0 : opt.step > 0 ? 1 : data.snapshots.length;
    let view = makeView(data, stored);
    const clients = new Set();
    const historyApi = historySource(opt.historyDb);
    const startedAt = Date.now();
    const now = () => (opt.fresh ? (view.lastAt || 0) + 30000 + (Date.now() - startedAt) : Date.now());

    if (opt.step > 0 && !opt.empty) {
        const timer = setInterval(() => {
            if (stored >= data.snapshots.length) return clearInterval(timer);
            stored++;
            view = makeView(data, stored);
            const msg = `event: snapshot\ndata: ${JSON.stringify({ at: iso(view.lastAt) })}\n\n`;
            for (const c of clients) c.write(msg);
            console.log(`mock: stored snapshot ${stored}/${data.snapshots.length} at ${iso(view.lastAt)}`);
        }, opt.step * 1000);
    }

    const range = (q) => {
        const first = view.snapshots.length ? view.snapshots[0].at : 0;
        const from = parseTime(q, 'from', first);
        const to = parseTime(q, 'to', view.lastAt || 0);
        if (from > to) throw new HttpError(400, "'from' is after 'to'");
        return [from, to];
    };

    const api = {
        '/api/v1/network': () => {
            const snap = snapshotAt(view, null);
            return {
                type: 'FeatureCollection',
                features: snap
                    ? [...snap.rows].map(([gid, o]) => {
                          const s = data.segs.get(gid);
                          const age = Math.round((snap.at - o.mdate) / 1000);
                          return {
                              type: 'Feature',
                              geometry: s.geometry,
                              properties: {
                                  gid, ident: s.ident, state: o.state, mdate: iso(o.mdate), state_age_s: age,
                                  stale: age > STALE_LIMIT_S, length_m: round(s.length_m, 1), typevoie: s.typevoie,
                                  commune: s.commune, code_commune: s.code_commune, origine: s.origine,
                              },
                          };
                      })
                    : [],
            };
        },
        '/api/v1/summary': (q) => {
            const snap = snapshotAt(view, parseTime(q, 'at', null));
            const at = snap ? snap.at : 0;
            return {
                segments: snap ? snap.rows.size : 0,
                observations: view.observations,
                rejected: 0,
                state_changes: view.stateChanges,
                latest: latestFigures(view, snap),
                jams: view.jams.filter((j) => j.start <= at).map((j) => jamItem(view, j, at)),
                queues: queuesAt(view, snap),
                hotspots: hotspots(view, view.snapshots.length ? view.snapshots[0].at : 0, at, 'segment', 10).map(
                    (h) => ({ ident: h.ident, gid: h.gid, congested_s: h.congested_s, episodes: h.episodes,
                              length_m: h.length_m, typevoie: h.typevoie, commune: h.commune }),
                ),
            };
        },
        '/api/v1/jams': (q) => {
            const [from, to] = range(q);
            return {
                from: iso(from), to: iso(to),
                jams: view.jams.filter((j) => overlaps(j, from, to, view.lastAt)).map((j) => jamItem(view, j)),
            };
        },
        '/api/v1/queues': (q) => {
            const snap = snapshotAt(view, parseTime(q, 'at', null));
            return { at: snap ? iso(snap.at) : null, queues: queuesAt(view, snap) };
        },
        '/api/v1/hotspots': (q) => {
            const [from, to] = range(q);
            const by = q.get('by') || 'segment';
            if (!['segment', 'typevoie', 'commune'].includes(by))
                throw new HttpError(400, "'by' must be segment, typevoie or commune");
            const limit = q.has('limit') ? Number(q.get('limit')) : 20;
            if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, "'limit' must be 1..1000");
            return { by, from: iso(from), to: iso(to), hotspots: hotspots(view, from, to, by, limit) };
        },
        '/api/v1/profile': (q) => {
            const [from, to] = range(q);
            return { from: iso(from), to: iso(to), tz: 'Europe/Paris', cells: profile(view, from, to) };
        },
        '/api/v1/timeseries': (q) => {
            const [from, to] = range(q);
            return {
                from: iso(from), to: iso(to),
                points: view.snapshots
                    .filter((s) => s.at >= from && s.at <= to)
                    .map((s) => {
                        const f = latestFigures(view, s);
                        return { at: f.at, congested_share: f.congested_share, congested_km: f.congested_km,
                                 dense_km: f.dense_km, known_km: f.known_km, unknown_share: f.unknown_share };
                    }),
            };
        },
        '/api/v1/health': () => {
            const f = latestFigures(view, snapshotAt(view, null));
            const newest = f.newest_mdate ? Date.parse(f.newest_mdate) : null;
            const age = newest == null ? null : Math.round((now() - newest) / 1000);
            let status = 'ok';
            if (f.flag === 'empty') status = 'empty';
            else if (f.flag === 'all_unknown') status = 'down';
            else if (age > STALE_LIMIT_S) status = 'stale';
            return {
                status, at: iso(now()), newest_mdate: f.newest_mdate, newest_age_s: age,
                unknown_share: f.unknown_share, stale_share: f.stale_share, flag: f.flag, last_poll_at: null,
            };
        },
    };

    const server = http.createServer((req, res) => {
        const url = new URL(req.url, 'http://localhost');
        const p = url.pathname;
        const send = (status, type, body) => {
            res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
            res.end(body);
        };
        const sendJson = (status, obj) => send(status, 'application/json', JSON.stringify(obj));
        try {
            if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
            if (p === '/healthz') return send(200, 'text/plain; charset=utf-8', 'ok\n');
            if (p === '/metrics')
                return send(200, 'text/plain; version=0.0.4',
                    `# HELP bouchon_mock_up 1 when the dev mock runs\n# TYPE bouchon_mock_up gauge\nbouchon_mock_up 1\n`);
            if (p === '/api/v1/events') {
                res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
                res.write(': bouchon dev mock\nretry: 5000\n\n');
                clients.add(res);
                const ka = setInterval(() => res.write(': keep-alive\n\n'), 15000);
                req.on('close', () => {
                    clearInterval(ka);
                    clients.delete(res);
                });
                return;
            }
            const hist = p.match(/^\/api\/v1\/segments\/(\d+)\/history$/);
            if (hist) {
                const gid = Number(hist[1]);
                const s = data.segs.get(gid);
                if (!s) throw new HttpError(404, `no segment with gid ${gid}`);
                const [from, to] = range(url.searchParams);
                const ivs = (view.intervals.get(gid) || []).filter((v) => v.start <= to && (v.end == null || v.end >= from));
                return sendJson(200, {
                    gid, ident: s.ident, typevoie: s.typevoie, commune: s.commune, length_m: round(s.length_m, 1),
                    intervals: ivs.map((v) => ({
                        start: iso(v.start), end: iso(v.end), state: v.state,
                        duration_s: Math.round(((v.end == null ? view.lastAt : v.end) - v.start) / 1000),
                    })),
                    jams: view.jams.filter((j) => j.gid === gid && overlaps(j, from, to, view.lastAt)).map((j) => jamItem(view, j)),
                });
            }
            if (api[p]) return sendJson(200, api[p](url.searchParams));
            if (historyApi[p]) return sendJson(200, historyApi[p](url.searchParams));
            if (p.startsWith('/api/')) throw new HttpError(404, `no such endpoint '${p}'`);
            // static assets
            const rel = p === '/' ? 'index.html' : decodeURIComponent(p.slice(1));
            const file = path.resolve(opt.assets, rel);
            if (!file.startsWith(path.resolve(opt.assets) + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile())
                return send(404, 'text/plain; charset=utf-8', 'not found\n');
            return send(200, MIME[path.extname(file)] || 'application/octet-stream', fs.readFileSync(file));
        } catch (e) {
            const status = e instanceof HttpError ? e.status : 500;
            if (status === 500) console.error(e);
            return sendJson(status, { error: { status, message: e.message } });
        }
    });
    const [host, port] = opt.listen.split(/:(?=\d+$)/);
    server.listen(Number(port), host, () => {
        console.log(`mock: ${data.segs.size} segments, ${data.snapshots.length} snapshots (${stored} stored); ` +
            `assets ${opt.assets}; listening on http://${opt.listen}/`);
    });
    const stop = () => {
        for (const c of clients) c.end();
        server.close(() => process.exit(0));
        setTimeout(() => process.exit(0), 500).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

main();
