// Real-browser test of the dashboard: starts the real `bouchon serve` on a real database, drives
// Debian's Chromium with playwright-core, and checks what a person would see.
//
//   node --test tests/browser/
//
// Environment:
//   BOUCHON_TEST_DB   required: SQLite database built by replaying the real ci_trafi_l snapshots
//   BOUCHON_BIN       the binary (default REPO/build/bouchon)
//   BOUCHON_ASSETS    a prebuilt assets folder to serve as is (default: web/build.sh builds
//                     REPO/build/web first)
//   CHROMIUM_PATH     the browser (default /usr/bin/chromium; `apt-get install -y chromium`)
//   BOUCHON_DEV_MOCK  =1 runs tests/browser/dev-mock-server.mjs instead of the binary and needs no
//                     database. For developing the page only: CI never sets it.
// A missing binary, database or browser is a failure, never a skip.
// Output: REPO/test-output/dashboard.png, dashboard-segment.png and server-dashboard.log.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CHROMIUM, EXPECTED_SEGMENTS, OUT, buildAssets, getJson, openBrowser, sleep, startServer } from './harness.mjs';

const REQUIRED_IDS = [
    'kpi-congested-km', 'kpi-congested-share', 'kpi-dense-km', 'kpi-active-jams', 'kpi-longest-queue',
    'feed-health', 'map', 'segment-panel', 'jam-list', 'queue-list', 'hotspots', 'heatmap', 'timeseries',
];

let server = null; // { baseUrl, stop }
let baseUrl = '';
let browser = null;
let page = null;
let problems = []; // console errors, page errors, failed requests, outside requests (harness.openBrowser)

// Text of a km KPI -> "10.34": accepts "10.34 km" and "10,34 km" (the page shows the French comma).
function kmText(text) {
    const t = text.replace(/[\s\u00a0\u202f]+/g, ' ').trim();
    const m = /^(\d+(?:[.,]\d+)?) km$/.exec(t);
    assert.ok(m, `"${text}" is not a km figure like "10,34 km"`);
    return m[1].replace(',', '.');
}

describe('dashboard in a real browser', { timeout: 180000 }, () => {
    let network;
    let summary;
    const summaryQueries = []; // the query strings of the page's /api/v1/summary requests
    let setupError = null;
    // A failed setup fails every test with its reason (a hook failure alone would only cancel them).
    const ready = () => {
        if (setupError) throw setupError;
    };

    before(async () => {
        try {
            await setup();
        } catch (e) {
            setupError = e;
        }
    });

    async function setup() {
        fs.mkdirSync(OUT, { recursive: true });
        assert.ok(fs.existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
        buildAssets();
        server = await startServer('server-dashboard.log');
        baseUrl = server.baseUrl;

        network = await getJson(baseUrl, '/api/v1/network');
        summary = await getJson(baseUrl, '/api/v1/summary');

        ({ browser, page, problems } = await openBrowser(baseUrl));
        page.on('request', (r) => {
            const u = new URL(r.url());
            if (u.pathname === '/api/v1/summary') summaryQueries.push(u.search);
        });
        await page.goto(baseUrl + '/', { waitUntil: 'load' });
        await page.waitForSelector('html[data-ready="true"]', { timeout: 30000 });
    }

    after(async () => {
        if (browser) await browser.close().catch(() => {});
        if (server) await server.stop();
    });

    test('the live view asks for the summary without the history sections', () => {
        ready();
        // Over two years of history the full summary weighs about a megabyte; the live view
        // needs none of it (the history views have their own routes).
        assert.ok(summaryQueries.length > 0, 'the page never asked for /api/v1/summary');
        for (const q of summaryQueries) {
            assert.equal(new URLSearchParams(q).get('history'), 'false', `summary asked as '${q}'`);
        }
    });

    test('the API serves the real network', () => {
        ready();
        assert.equal(network.type, 'FeatureCollection');
        assert.equal(network.features.length, EXPECTED_SEGMENTS);
        assert.equal(summary.segments, EXPECTED_SEGMENTS);
        assert.equal(typeof summary.latest.congested_km, 'number', 'summary latest.congested_km is not a number');
    });

    test('the page has every element the tests and users rely on', async () => {
        ready();
        for (const id of REQUIRED_IDS) assert.equal(await page.locator(`#${id}`).count(), 1, `#${id} missing`);
        assert.ok(await page.locator('#segment-panel').isHidden(), '#segment-panel must stay hidden until a click');
        const body = await page.locator('body').innerText();
        assert.ok(body.includes('Données : Bordeaux Métropole (open data)'), 'attribution line missing');
    });

    test('the map draws one path per segment', async () => {
        ready();
        const paths = page.locator('#map path.seg');
        await page.waitForFunction((n) => document.querySelectorAll('#map path.seg').length === n, EXPECTED_SEGMENTS,
            { timeout: 20000 }).catch(() => {});
        assert.equal(await paths.count(), EXPECTED_SEGMENTS);
        const gids = await page.$$eval('#map path.seg', (ps) => ps.map((p) => p.getAttribute('data-gid')));
        assert.equal(new Set(gids).size, EXPECTED_SEGMENTS, 'each path carries its own data-gid');
        const byState = {};
        for (const f of network.features) byState[f.properties.state] = (byState[f.properties.state] || 0) + 1;
        for (const [state, n] of Object.entries(byState))
            assert.equal(await page.locator(`#map path.seg.seg-${state}`).count(), n, `paths of state ${state}`);
    });

    test('the congested-km KPI shows the API figure', async () => {
        ready();
        const expected = summary.latest.congested_km.toFixed(2);
        const kpi = page.locator('#kpi-congested-km');
        await page.waitForFunction(() => document.getElementById('kpi-congested-km').getAttribute('data-value') !== '',
            null, { timeout: 10000 });
        assert.equal(kmText(await kpi.textContent()), expected);
        assert.equal(await kpi.getAttribute('data-value'), expected);
    });

    test('times are shown in Europe/Paris', async () => {
        ready();
        const at = Date.parse(summary.latest.at);
        const want = new Intl.DateTimeFormat('fr-FR', {
            timeZone: 'Europe/Paris', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit',
        }).format(at);
        const norm = (s) => s.replace(/[\s\u00a0\u202f]+/g, ' ').trim();
        assert.equal(norm(await page.locator('#last-snapshot').textContent()), norm(want));
    });

    test('live updates: the event stream is open, the badge tells the feed health', async () => {
        ready();
        await page.waitForSelector('#live-status[data-stream="on"]', { timeout: 10000 });
        const health = await getJson(baseUrl, '/api/v1/health');
        await page.waitForSelector(`#live-status[data-health="${health.status}"]`, { timeout: 10000 });
        const badge = page.locator('#live-status');
        const cls = await badge.getAttribute('class');
        const text = (await badge.textContent()).trim();
        // "en direct" (green) only when the stream is open and the feed is fresh
        const want = { ok: ['live-on', 'en direct'], stale: ['live-stale', 'flux en retard'],
            down: ['live-down', 'flux interrompu'], empty: ['live-down', 'aucune donnée'] }[health.status];
        assert.ok(want, `unexpected health status ${health.status}`);
        assert.ok(cls.split(/\s+/).includes(want[0]), `badge class "${cls}" for health ${health.status}`);
        assert.equal(text, want[1]);
        if (health.status !== 'ok') assert.notEqual(text, 'en direct');
    });

    test('the feed health card shows the API status', async () => {
        ready();
        const health = await getJson(baseUrl, '/api/v1/health');
        const status = await page.locator('#feed-health').getAttribute('data-status');
        assert.ok(status === health.status || (health.status === 'ok' && status === 'warn'),
            `#feed-health data-status="${status}" but /api/v1/health says "${health.status}"`);
        if (health.status !== 'ok') assert.ok(await page.locator('#banner').isVisible(), 'a warning banner must show');
        await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: true });
    });

    test('clicking a segment opens its panel', async () => {
        ready();
        // A point on a segment path that no other path covers, congested segments first.
        const target = await page.evaluate(() => {
            const all = [...document.querySelectorAll('#map path.seg')];
            const rank = (p) => (/seg-(EMBOUTEILLE|PARALYSE)/.test(p.getAttribute('class')) ? 0 : 1);
            all.sort((a, b) => rank(a) - rank(b));
            for (const p of all) {
                const len = p.getTotalLength();
                for (const f of [0.5, 0.3, 0.7]) {
                    const pt = p.getPointAtLength(len * f).matrixTransform(p.getScreenCTM());
                    if (document.elementFromPoint(pt.x, pt.y) === p) return { x: pt.x, y: pt.y, gid: p.getAttribute('data-gid') };
                }
            }
            return null;
        });
        assert.ok(target, 'no segment path can be clicked');
        const feature = network.features.find((f) => String(f.properties.gid) === target.gid);
        assert.ok(feature, `clicked path has data-gid ${target.gid}, unknown to /api/v1/network`);
        await page.mouse.click(target.x, target.y);
        const panel = page.locator('#segment-panel');
        await panel.waitFor({ state: 'visible', timeout: 5000 });
        assert.equal((await page.locator('#segment-ident').textContent()).trim(), feature.properties.ident);
        const text = await panel.innerText();
        assert.ok(text.includes(feature.properties.ident), 'panel shows the ident');
        assert.ok(text.includes(String(feature.properties.gid)), 'panel shows the gid');
        // its history comes from /segments/{gid}/history
        await page.waitForFunction(() => !/chargement/.test(document.getElementById('segment-body').innerText), null, { timeout: 10000 });
        assert.ok(!/indisponible/.test(await panel.innerText()), 'segment history failed to load');
        await page.screenshot({ path: path.join(OUT, 'dashboard-segment.png'), fullPage: true });
    });

    test('no console errors, failed requests or requests outside the server', async () => {
        ready();
        await sleep(300);
        assert.deepEqual(problems, []);
    });
});
