// The API that the dashboard is coded against: every endpoint of docs/openapi.yaml, answered by
// the real `bouchon serve` on the real replayed database, must match its schema, agree with the
// other endpoints, and (on the real 2025-12-18 snapshots) give the reference figures of
// shared/data/bordeaux/SOURCES.md.
//
//   node --test tests/browser/          (environment: see dashboard.test.mjs and README.md)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { EXPECTED_SEGMENTS, REPO, buildAssets, getJson, importDev, startServer } from './harness.mjs';
import { checkSchema, responseSchema } from './openapi-check.mjs';

const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const CONGESTED = new Set(['EMBOUTEILLE', 'PARALYSE']);

// Figures of the two real snapshots, keyed by their newest mdate (UTC).
const REFERENCE = {
    // ci_trafi_l_2025-12-18T1000.csv (SOURCES.md)
    '2025-12-18T09:00:50Z': {
        states: { FLUIDE: 432, INCONNU: 224, EMBOUTEILLE: 22, DENSE: 16, PARALYSE: 0 },
        known_km: 164.7, congested_km: 10.34, dense_km: 5.49,
    },
    // ci_trafi_l_2025-12-18T0950.csv (states from SOURCES.md; km by the same method)
    '2025-12-18T08:50:50Z': {
        states: { FLUIDE: 438, INCONNU: 223, EMBOUTEILLE: 23, DENSE: 10, PARALYSE: 0 },
        known_km: 165.2, congested_km: 10.32, dense_km: 4.28,
    },
};

describe('API contract (docs/openapi.yaml)', { timeout: 120000 }, () => {
    let spec;
    let server = null;
    let base = '';
    let setupError = null;
    let network;
    let summary;
    const ready = () => {
        if (setupError) throw setupError;
    };
    const conforms = (pathKey, body, status = '200') => {
        const problems = checkSchema(spec, responseSchema(spec, pathKey, status), body);
        assert.deepEqual(problems, [], `GET ${pathKey} does not match docs/openapi.yaml`);
    };
    const getError = async (p, status) => {
        const res = await fetch(base + p);
        const text = await res.text();
        assert.equal(res.status, status, `GET ${p} answered ${res.status}: ${text.slice(0, 200)}`);
        let body;
        try {
            body = JSON.parse(text);
        } catch {
            assert.fail(`GET ${p}: error body is not JSON: ${text.slice(0, 200)}`);
        }
        assert.deepEqual(checkSchema(spec, { $ref: '#/components/schemas/Error' }, body), [], `GET ${p}: error body`);
        assert.equal(body.error.status, status);
    };

    before(async () => {
        try {
            const mod = await importDev('yaml', 'dist/index.js');
            const YAML = mod.default || mod;
            spec = YAML.parse(fs.readFileSync(path.join(REPO, 'docs', 'openapi.yaml'), 'utf8'));
            buildAssets(); // the server is started with --assets build/web, as in production
            server = await startServer('server-api.log');
            base = server.baseUrl;
            network = await getJson(base, '/api/v1/network');
            summary = await getJson(base, '/api/v1/summary');
        } catch (e) {
            setupError = e;
        }
    });
    after(async () => {
        if (server) await server.stop();
    });

    test('network: the real 694 segments as GeoJSON', () => {
        ready();
        conforms('/api/v1/network', network);
        assert.equal(network.features.length, EXPECTED_SEGMENTS);
        assert.equal(new Set(network.features.map((f) => f.properties.gid)).size, EXPECTED_SEGMENTS, 'unique gids');
        for (const f of network.features) {
            const [lon, lat] = f.geometry.type === 'LineString' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
            assert.ok(lon > -1.2 && lon < 0 && lat > 44.5 && lat < 45.2, `gid ${f.properties.gid}: [lon, lat] around Bordeaux`);
        }
    });

    test('summary: schema and agreement with the network', () => {
        ready();
        conforms('/api/v1/summary', summary);
        const L = summary.latest;
        assert.equal(summary.segments, EXPECTED_SEGMENTS);
        const states = { FLUIDE: 0, DENSE: 0, EMBOUTEILLE: 0, PARALYSE: 0, INCONNU: 0 };
        let congested = 0;
        let known = 0;
        let dense = 0;
        let stale = 0;
        for (const { properties: p } of network.features) {
            states[p.state]++;
            if (p.stale) stale++;
            if (p.state === 'INCONNU' || p.stale) continue;
            known += p.length_m;
            if (CONGESTED.has(p.state)) congested += p.length_m;
            if (p.state === 'DENSE') dense += p.length_m;
        }
        assert.deepEqual(L.states, states, 'latest.states = states of /network');
        assert.equal(L.stale, stale, 'latest.stale = stale features of /network');
        assert.ok(Math.abs(L.congested_km - congested / 1000) < 0.011, `congested_km ${L.congested_km} vs ${congested / 1000}`);
        assert.ok(Math.abs(L.dense_km - dense / 1000) < 0.011, `dense_km ${L.dense_km} vs ${dense / 1000}`);
        assert.ok(Math.abs(L.known_km - known / 1000) < 0.05, `known_km ${L.known_km} vs ${known / 1000}`);
        assert.ok(Math.abs(L.congested_share - L.congested_km / L.known_km) < 0.001, 'congested_share');
        assert.ok(Math.abs(L.unknown_share - states.INCONNU / EXPECTED_SEGMENTS) < 0.001, 'unknown_share by count');
        const congestedIdents = new Set(network.features.filter((f) => CONGESTED.has(f.properties.state)).map((f) => f.properties.ident));
        for (const j of summary.jams.filter((x) => x.end === null))
            assert.ok(congestedIdents.has(j.ident), `ongoing jam on ${j.ident}, which is not congested`);
        for (const q of summary.queues) {
            assert.equal(q.n_segments, q.idents.length);
            for (const id of q.idents) assert.ok(congestedIdents.has(id), `queue member ${id} is not congested`);
        }
    });

    test('summary: the reference figures of the real snapshot', (t) => {
        ready();
        const L = summary.latest;
        const ref = REFERENCE[L.newest_mdate];
        assert.ok(ref, `latest snapshot (newest mdate ${L.newest_mdate}) is not one of the real 2025-12-18 files`);
        assert.deepEqual(L.states, ref.states);
        assert.equal(L.known_km.toFixed(2), ref.known_km.toFixed(2));
        assert.equal(L.congested_km.toFixed(2), ref.congested_km.toFixed(2));
        assert.equal(L.dense_km.toFixed(2), ref.dense_km.toFixed(2));
        t.diagnostic(`latest ${L.at}: congested ${L.congested_km} km of ${L.known_km} km known`);
    });

    test('summary?at= and queues?at=', async () => {
        ready();
        const s = await getJson(base, `/api/v1/summary?at=${summary.latest.at}`);
        conforms('/api/v1/summary', s);
        assert.equal(s.latest.at, summary.latest.at);
        assert.equal(s.latest.congested_km, summary.latest.congested_km);
        const q = await getJson(base, `/api/v1/queues?at=${summary.latest.at}`);
        conforms('/api/v1/queues', q);
        assert.equal(q.at, summary.latest.at);
        assert.deepEqual(q.queues.map((x) => x.length_m).sort(), summary.queues.map((x) => x.length_m).sort());
    });

    test('timeseries: default range is all the data, ending at the latest snapshot', async () => {
        ready();
        const ts = await getJson(base, '/api/v1/timeseries');
        conforms('/api/v1/timeseries', ts);
        assert.ok(ts.points.length >= 1);
        const last = ts.points[ts.points.length - 1];
        assert.equal(last.at, summary.latest.at);
        assert.equal(last.congested_km, summary.latest.congested_km);
        for (let i = 1; i < ts.points.length; i++) assert.ok(ts.points[i - 1].at < ts.points[i].at, 'points in time order');
        assert.equal(ts.to, summary.latest.at);
        assert.equal(ts.from, ts.points[0].at);
    });

    test('range endpoints: schema and echoed range', async () => {
        ready();
        const ts = await getJson(base, '/api/v1/timeseries');
        const q = `from=${ts.from}&to=${ts.to}`;
        const jams = await getJson(base, `/api/v1/jams?${q}`);
        conforms('/api/v1/jams', jams);
        assert.equal(jams.from, ts.from);
        assert.equal(jams.to, ts.to);
        for (const j of jams.jams) {
            assert.match(j.start, TIME_RE);
            if (j.end !== null) assert.ok(j.end > j.start, `jam ${j.ident}: end after start`);
        }
        const profile = await getJson(base, `/api/v1/profile?${q}`);
        conforms('/api/v1/profile', profile);
        assert.equal(profile.tz, 'Europe/Paris');
        const cells = new Set(profile.cells.map((c) => `${c.weekday}-${c.hour}`));
        assert.equal(cells.size, profile.cells.length, 'one cell per (weekday, hour)');
        for (const by of ['segment', 'typevoie', 'commune']) {
            const h = await getJson(base, `/api/v1/hotspots?${q}&by=${by}&limit=5`);
            conforms('/api/v1/hotspots', h);
            assert.equal(h.by, by);
            assert.ok(h.hotspots.length <= 5, 'limit');
            const key = by === 'segment' ? 'congested_s' : 'congested_km_h';
            for (let i = 1; i < h.hotspots.length; i++) assert.ok(h.hotspots[i - 1][key] >= h.hotspots[i][key], `by=${by}: sorted by ${key}`);
            if (by === 'segment') for (const r of h.hotspots) assert.ok(r.ident && r.gid != null, 'segment rows name the segment');
        }
    });

    test('segment history of a congested segment', async () => {
        ready();
        const f = network.features.find((x) => CONGESTED.has(x.properties.state)) || network.features[0];
        const p = f.properties;
        const h = await getJson(base, `/api/v1/segments/${p.gid}/history`);
        conforms('/api/v1/segments/{gid}/history', h);
        assert.equal(h.gid, p.gid);
        assert.equal(h.ident, p.ident);
        assert.ok(h.intervals.length >= 1);
        const last = h.intervals[h.intervals.length - 1];
        assert.equal(last.state, p.state, 'the open interval is the current state');
        assert.equal(last.end, null, 'the last interval is open');
    });

    test('health, healthz, metrics, events', async () => {
        ready();
        const h = await getJson(base, '/api/v1/health');
        conforms('/api/v1/health', h);
        assert.equal(h.newest_mdate, summary.latest.newest_mdate);
        if (h.newest_age_s > 900 && h.flag === null) assert.ok(['stale', 'down'].includes(h.status), `old data, status "${h.status}"`);
        const hz = await fetch(base + '/healthz');
        assert.equal(hz.status, 200);
        assert.equal((await hz.text()).trim(), 'ok');
        const m = await fetch(base + '/metrics');
        assert.equal(m.status, 200);
        assert.match(m.headers.get('content-type') || '', /^text\/plain/);
        assert.match(await m.text(), /^# (HELP|TYPE) /m);
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), 5000);
        try {
            const ev = await fetch(base + '/api/v1/events', { signal: ac.signal, headers: { Accept: 'text/event-stream' } });
            assert.equal(ev.status, 200);
            assert.match(ev.headers.get('content-type') || '', /^text\/event-stream/);
        } finally {
            clearTimeout(timer);
            ac.abort();
        }
    });

    // The imported history (docs/API.md "History"). On a warehouse without it (replay only)
    // every list is empty and the ranges are null; with it, the default range is the imported
    // layer's first .. last hour.
    test('history: overview and the default range of the hourly routes', async (t) => {
        ready();
        const o = await getJson(base, '/api/v1/history');
        conforms('/api/v1/history', o);
        const h = o.history;
        const routes = [
            ['/api/v1/history/daily', 'days'],
            ['/api/v1/history/profile', 'cells'],
            ['/api/v1/history/trend', 'months'],
            ['/api/v1/history/hotspots', 'by_peak_index'],
            ['/api/v1/history/periods', 'periods'],
        ];
        for (const [p, key] of routes) {
            const b = await getJson(base, p);
            conforms(p, b);
            assert.equal(b.from, h.first_hour, `${p}: from = history.first_hour`);
            assert.equal(b.to, h.last_hour, `${p}: to = history.last_hour`);
            if (h.first_hour === null && p !== '/api/v1/history/periods') assert.deepEqual(b[key], [], `${p}: empty without history`);
        }
        const daily = await getJson(base, '/api/v1/history/daily');
        if (daily.days.length) {
            assert.equal(daily.days[0].date, o.first_day);
            assert.equal(daily.days[daily.days.length - 1].date, o.last_day);
            const rows = daily.days.reduce((n, d) => n + d.segment_hours, 0);
            assert.equal(rows, h.segment_hours, 'every imported segment-hour is in the default range');
            for (let i = 1; i < daily.days.length; i++) assert.ok(daily.days[i - 1].date < daily.days[i].date, 'days in order');
        } else {
            assert.equal(o.first_day, null);
        }
        const periods = await getJson(base, '/api/v1/history/periods');
        assert.equal(periods.periods.length, o.periods.length, 'one comparison per stored period');
        t.diagnostic(`history ${h.first_hour} .. ${h.last_hour}: ${daily.days.length} days, ${o.periods.length} periods`);
    });

    test('history: a range of 2020 and a limit', async () => {
        ready();
        const q = 'from=2019-12-31T23:00:00Z&to=2020-12-31T22:00:00Z';
        for (const p of ['/api/v1/history/daily', '/api/v1/history/profile', '/api/v1/history/trend', '/api/v1/history/hotspots', '/api/v1/history/periods', '/api/v1/corridors']) {
            const b = await getJson(base, `${p}?${q}`);
            conforms(p, b);
            assert.equal(b.from, '2019-12-31T23:00:00Z');
            assert.equal(b.to, '2020-12-31T22:00:00Z');
        }
        const daily = await getJson(base, `/api/v1/history/daily?${q}`);
        assert.equal(daily.days.length, 366, 'the local days of 2020');
        assert.equal(daily.days[0].date, '2020-01-01');
        assert.equal(daily.days[365].date, '2020-12-31');
        const trend = await getJson(base, `/api/v1/history/trend?${q}`);
        for (const m of trend.months) assert.match(m.month, /^2020-/);
        const hot = await getJson(base, `/api/v1/history/hotspots?${q}&limit=3`);
        assert.ok(hot.by_peak_index.length <= 3 && hot.by_congested_hours.length <= 3, 'limit');
        for (let i = 1; i < hot.by_peak_index.length; i++) assert.ok(hot.by_peak_index[i - 1].peak_index >= hot.by_peak_index[i].peak_index, 'by_peak_index sorted');
    });

    test('history: corridors, their GeoJSON and the counting stations', async () => {
        ready();
        const o = await getJson(base, '/api/v1/history');
        const c = await getJson(base, '/api/v1/corridors');
        conforms('/api/v1/corridors', c);
        const g = await getJson(base, '/api/v1/corridors.geojson');
        conforms('/api/v1/corridors.geojson', g);
        assert.deepEqual(g.features.map((f) => f.properties.gid), c.corridors.map((x) => x.gid), 'the same corridors');
        for (const f of g.features) {
            if (!f.geometry) continue;
            const [lon, lat] = f.geometry.type === 'LineString' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
            assert.ok(lon > -1.2 && lon < 0 && lat > 44.5 && lat < 45.2, `corridor ${f.properties.gid}: [lon, lat] around Bordeaux`);
        }
        if (o.has_travel_times) {
            assert.ok(c.from !== null && c.to !== null && c.from <= c.to);
            assert.ok(c.corridors.some((x) => x.samples > 0), 'samples in the default range');
        } else {
            assert.equal(c.from, null);
        }
        const s = await getJson(base, '/api/v1/stations');
        conforms('/api/v1/stations', s);
        assert.equal(s.features.length > 0, o.has_stations, 'has_stations');
        const kinds = s.features.map((f) => f.properties.kind);
        const firstCampaign = kinds.indexOf('campaign');
        if (firstCampaign >= 0) assert.ok(kinds.slice(firstCampaign).every((k) => k === 'campaign'), 'sensors first, then campaigns');
        // [lon, lat] around Bordeaux; the real campaigns include one placed at (0.00002,
        // 0.00002) by its source (gid 6970), served as received
        let placeholders = 0;
        for (const f of s.features) {
            const [lon, lat] = f.geometry.coordinates;
            if (Math.abs(lon) < 0.001 && Math.abs(lat) < 0.001) {
                placeholders++;
                continue;
            }
            assert.ok(lon > -1.5 && lon < 0.5 && lat > 44 && lat < 46, `station ${f.properties.ident || f.properties.gid}: [lon, lat] around Bordeaux`);
        }
        assert.ok(placeholders <= 1, `${placeholders} stations at (0, 0)`);
        if (o.has_counts && o.has_stations) assert.ok(s.features.some((f) => f.properties.kind === 'sensor' && f.properties.annual.length > 0), 'annual counts on the sensors');
    });

    test('errors are JSON {"error": {status, message}}', async () => {
        ready();
        await getError('/api/v1/jams?from=yesterday', 400);
        await getError('/api/v1/jams?from=2025-12-19T00:00:00Z&to=2025-12-18T00:00:00Z', 400);
        await getError('/api/v1/hotspots?by=street', 400);
        await getError('/api/v1/hotspots?limit=0', 400);
        await getError('/api/v1/segments/999999999/history', 404);
        await getError('/api/v1/no-such-endpoint', 404);
        await getError('/api/v1/history/daily?from=2021-01-01T00:00:00Z&to=2020-01-01T00:00:00Z', 400);
        await getError('/api/v1/history/daily?limit=3', 400);
        await getError('/api/v1/history/hotspots?limit=0', 400);
        await getError('/api/v1/corridors?from=2018-01-01T00:00:00Z&to=2022-01-01T00:00:00Z', 400);
        await getError('/api/v1/stations?from=2020-01-01', 400);
        await getError('/api/v1/history/nope', 404);
    });
});
