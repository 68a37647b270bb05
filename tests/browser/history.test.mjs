// Real-browser tests of the dashboard's history views (Historique, Corridors, Périodes) and of
// the counting-stations layer of the live map, against the real `bouchon serve` on a warehouse
// holding the replayed snapshots AND the imported history (see README.md: scripts/test.sh builds
// it). Each check compares what the page shows with what the API answers (fetched here) and
// with facts independent of both: calendar days in Europe/Paris, the shared data files.
//
//   BOUCHON_TEST_DB=test-output/browser.db node --test tests/browser/
//
// A second part serves a warehouse with the replay only and checks the empty states.
// Output: test-output/history*.png, corridors*.png, periods.png, stations.png,
// server-history.log and server-history-empty.log.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, DB, MOCK, OUT, REPO, buildAssets, frNum, getJson, norm, openBrowser, sleep, startServer } from './harness.mjs';

const SHARED = process.env.BOUCHON_SHARED || path.resolve(REPO, '..', 'shared');
const HIST_DIR = path.join(SHARED, 'data', 'bordeaux', 'history');
const TIMEOUT = 60000; // the machine is small and shared: generous waits

// ---------------------------------------------------------------- independent facts
// every calendar date from a to b (YYYY-MM-DD, inclusive)
function calendar(a, b) {
    const out = [];
    for (let t = Date.parse(a + 'T12:00:00Z'); t <= Date.parse(b + 'T12:00:00Z'); t += 86400e3) out.push(new Date(t).toISOString().slice(0, 10));
    return out;
}
// the lockdowns of the shared CSV ("deb","fin","label")
function lockdowns() {
    const lines = fs.readFileSync(path.join(HIST_DIR, 'lockdowns_fr.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
    return lines.map((l) => {
        const [deb, fin, label] = l.split(',').map((x) => x.replace(/^"|"$/g, ''));
        return { deb, fin, label };
    });
}
const viewState = (page, view) => page.locator(`#view-${view}`).getAttribute('data-state');
async function waitView(page, view, state = 'ready') {
    await page.waitForFunction(([v, s]) => document.getElementById('view-' + v).getAttribute('data-state') === s, [view, state], { timeout: TIMEOUT });
}
// the range the page says the server used
const echo = (page) => page.$eval('#hist-range-echo', (e) => ({ from: e.getAttribute('data-from'), to: e.getAttribute('data-to') }));
const days = (page) => page.$$eval('#hist-daily rect.day', (rs) => rs.map((r) => ({
    date: r.getAttribute('data-date'), index: r.getAttribute('data-index'), hours: r.getAttribute('data-hours'), h: Number(r.getAttribute('height')),
    frozen: r.getAttribute('data-frozen'), fill: r.getAttribute('fill'),
})));
const qs = (o) => new URLSearchParams(o).toString();

describe('history views in a real browser', { timeout: 600000 }, () => {
    let server = null;
    let baseUrl = '';
    let browser = null;
    let page = null;
    let problems = [];
    let meta = null;
    let setupError = null;
    const apiRequests = []; // paths + queries of the API requests the page made
    const ready = () => {
        if (setupError) throw setupError;
    };

    before(async () => {
        try {
            fs.mkdirSync(OUT, { recursive: true });
            buildAssets();
            server = await startServer('server-history.log');
            baseUrl = server.baseUrl;
            meta = await getJson(baseUrl, '/api/v1/history');
            ({ browser, page, problems } = await openBrowser(baseUrl));
            page.on('request', (r) => {
                const u = new URL(r.url());
                if (u.pathname.startsWith('/api/v1/')) apiRequests.push(u.pathname.slice(8) + u.search);
            });
        } catch (e) {
            setupError = e;
        }
    });
    after(async () => {
        if (browser) await browser.close().catch(() => {});
        if (server) await server.stop();
    });

    test('the warehouse holds the two years of history and the lockdowns', () => {
        ready();
        assert.ok(meta.first_day, `/api/v1/history has no history (first_day null): import it, see tests/browser/README.md`);
        // ci_trafi_l_hourly_score_2019-09_2022-01: local days from September 2019 to January 2022
        assert.match(meta.first_day, /^2019-09-/);
        assert.match(meta.last_day, /^2022-01-/);
        assert.equal(meta.has_travel_times, true);
        assert.equal(meta.has_stations, true);
        const csv = lockdowns();
        assert.deepEqual(meta.periods.map((p) => [p.start, p.end]), csv.map((l) => [l.deb, l.fin]));
    });

    test('Historique: one bar per local day of March 2020, the 23-hour day included', async () => {
        ready();
        await page.goto(baseUrl + '/#historique?du=2020-03-01&au=2020-03-31', { waitUntil: 'load' });
        await waitView(page, 'historique');
        assert.equal(await page.locator('#tab-historique').getAttribute('aria-current'), 'page');
        assert.ok(await page.locator('#view-direct').isHidden(), 'the live view is hidden');
        // Paris midnight of 1 March 2020 is 23:00Z (CET); the end of 31 March is 21:59:59Z (CEST since the 29th)
        assert.deepEqual(await echo(page), { from: '2020-02-29T23:00:00Z', to: '2020-03-31T21:59:59Z' });
        const api = await getJson(baseUrl, '/api/v1/history/daily?' + qs({ from: '2020-02-29T23:00:00Z', to: '2020-03-31T21:59:59Z' }));
        const want = calendar('2020-03-01', '2020-03-31');
        assert.deepEqual(api.days.map((d) => d.date), want, 'the API lists every local day once');
        assert.equal(api.days.find((d) => d.date === '2020-03-29').hours, 23, 'the spring DST day has 23 hours');
        const shown = await days(page);
        assert.deepEqual(shown.map((d) => d.date), want, 'the chart draws every day once, in order');
        assert.equal(shown.find((d) => d.date === '2020-03-29').hours, '23');
        for (const d of api.days) {
            const s = shown.find((x) => x.date === d.date);
            assert.equal(s.index, d.index == null ? '' : String(d.index), `index of ${d.date}`);
        }
        // bar heights follow the index (a taller bar is a higher index)
        const valued = shown.filter((d) => d.index !== '').sort((a, b) => Number(a.index) - Number(b.index));
        for (let i = 1; i < valued.length; i++) assert.ok(valued[i].h >= valued[i - 1].h - 1e-6, `bar of ${valued[i].date} not taller than ${valued[i - 1].date}`);
        assert.ok(valued[valued.length - 1].h > valued[0].h, 'bars differ');
        // the AM and PM peak lines are drawn
        assert.equal(await page.locator('#hist-daily path.line-am').count(), 1);
        assert.equal(await page.locator('#hist-daily path.line-pm').count(), 1);
        assert.match(norm(await page.locator('#hist-daily-note').textContent()), /^31 jours/);
        await page.screenshot({ path: path.join(OUT, 'history.png'), fullPage: true });
    });

    test('Historique: the monthly trend, the profile heatmap and the hotspots are those of the API', async () => {
        ready();
        const range = { from: '2020-02-29T23:00:00Z', to: '2020-03-31T21:59:59Z' };
        const [trend, profile, hotspots] = await Promise.all([
            getJson(baseUrl, '/api/v1/history/trend?' + qs(range)),
            getJson(baseUrl, '/api/v1/history/profile?' + qs(range)),
            getJson(baseUrl, '/api/v1/history/hotspots?' + qs({ ...range, limit: 20 })),
        ]);
        assert.deepEqual(await page.$$eval('#hist-trend rect.month', (rs) => rs.map((r) => r.getAttribute('data-month'))), trend.months.map((m) => m.month));
        assert.deepEqual(trend.months.map((m) => m.month), ['2020-03']);

        assert.equal(await page.locator('#hist-heatmap rect[data-weekday][data-hour]').count(), 7 * 24);
        const cells = await page.$$eval('#hist-heatmap rect[data-weekday]', (rs) => rs.map((r) => ({
            k: r.getAttribute('data-weekday') + '-' + r.getAttribute('data-hour'), v: r.getAttribute('data-value'), nodata: r.classList.contains('nodata'),
        })));
        const byKey = new Map(cells.map((c) => [c.k, c]));
        const withIndex = profile.cells.filter((c) => c.index != null);
        assert.ok(withIndex.length > 100, 'a month of history fills most of the week');
        for (const c of withIndex) assert.equal(byKey.get(`${c.weekday}-${c.hour}`).v, String(c.index), `cell ${c.weekday}-${c.hour}`);
        assert.equal(cells.filter((c) => !c.nodata).length, withIndex.length, 'the other cells say "no data"');
        // the other measure redraws the cells with it
        await page.selectOption('#hist-heatmap-metric', 'index_weighted');
        const c0 = profile.cells.find((c) => c.index_weighted != null);
        assert.equal(await page.locator(`#hist-heatmap rect[data-weekday="${c0.weekday}"][data-hour="${c0.hour}"]`).getAttribute('data-value'), String(c0.index_weighted));
        await page.selectOption('#hist-heatmap-metric', 'index');

        const keys = await page.$$eval('#hist-hotspots tr[data-key]', (rs) => rs.map((r) => r.getAttribute('data-key')));
        assert.deepEqual(keys, hotspots.by_peak_index.map((h) => h.key));
        assert.ok(keys.length > 0);
        const first = await page.locator('#hist-hotspots tr[data-key] td').nth(2).textContent();
        assert.equal(norm(first), norm(frNum(hotspots.by_peak_index[0].peak_index, 3)));
    });

    test('Historique: another range refetches and redraws (a 2021 range, then the year 2020)', async () => {
        ready();
        const before = apiRequests.length;
        await page.fill('#hist-from', '01/02/2021');
        await page.fill('#hist-to', '28/02/2021');
        await page.press('#hist-to', 'Enter');
        await page.waitForFunction(() => document.getElementById('hist-range-echo').getAttribute('data-from') === '2021-01-31T23:00:00Z', null, { timeout: TIMEOUT });
        await waitView(page, 'historique');
        assert.deepEqual(await echo(page), { from: '2021-01-31T23:00:00Z', to: '2021-02-28T22:59:59Z' });
        const made = apiRequests.slice(before);
        for (const route of ['history/daily', 'history/trend', 'history/profile', 'history/hotspots'])
            assert.ok(made.some((r) => r.startsWith(route + '?') && r.includes('from=2021-01-31T23%3A00%3A00Z')), `${route} refetched for the new range: ${made.join(' ')}`);
        const api = await getJson(baseUrl, '/api/v1/history/daily?' + qs({ from: '2021-01-31T23:00:00Z', to: '2021-02-28T22:59:59Z' }));
        const shown = await days(page);
        assert.deepEqual(shown.map((d) => d.date), calendar('2021-02-01', '2021-02-28'));
        assert.deepEqual(shown.map((d) => d.index), api.days.map((d) => (d.index == null ? '' : String(d.index))));
        assert.equal(await page.evaluate(() => location.hash), '#historique?du=2021-02-01&au=2021-02-28', 'the range is in the link');

        // the preset "2020": a leap year, with both DST days
        await page.click('#hist-presets button[data-preset="y2020"]');
        await page.waitForFunction(() => document.getElementById('hist-range-echo').getAttribute('data-from') === '2019-12-31T23:00:00Z', null, { timeout: TIMEOUT });
        await waitView(page, 'historique');
        const year = await days(page);
        assert.equal(year.length, 366);
        assert.deepEqual(year.map((d) => d.date), calendar('2020-01-01', '2020-12-31'));
        assert.equal(year.find((d) => d.date === '2020-03-29').hours, '23');
        assert.equal(year.find((d) => d.date === '2020-10-25').hours, '25');
        // the frozen days of 2020 (the feed served one picture all day) are the API's, drawn grey
        const api2020 = await getJson(baseUrl, '/api/v1/history/daily?' + qs({ from: '2019-12-31T23:00:00Z', to: '2020-12-31T22:59:59Z' }));
        const frozenApi = api2020.days.filter((d) => d.frozen).map((d) => d.date);
        assert.ok(frozenApi.includes('2020-04-18'), `2020-04-18 is a frozen day of the real history: ${frozenApi}`);
        assert.deepEqual(year.filter((d) => d.frozen === 'true').map((d) => d.date), frozenApi);
        const greys = new Set(year.filter((d) => d.frozen === 'true').map((d) => d.fill));
        assert.equal(greys.size, 1);
        assert.ok(!greys.has(year.find((d) => d.date === '2020-03-10').fill), 'a frozen day is not drawn as traffic');
        assert.equal(await page.locator('#hist-presets button[data-preset="y2020"]').getAttribute('aria-pressed'), 'true');
        await page.screenshot({ path: path.join(OUT, 'history-2020.png'), fullPage: true });

        // a lockdown preset comes from the period table
        const csv = lockdowns();
        await page.click('#hist-period-presets button[data-preset="p0"]');
        await page.waitForFunction(() => location.hash.includes('du='), null, { timeout: TIMEOUT });
        assert.equal(await page.evaluate(() => location.hash), `#historique?du=${csv[0].deb}&au=${csv[0].fin}`);
        await waitView(page, 'historique');
        assert.deepEqual((await days(page)).map((d) => d.date), calendar(csv[0].deb, csv[0].fin));
    });

    test('Corridors: the 16 corridors with the API\'s TTI, on the map too', async () => {
        ready();
        const file = JSON.parse(fs.readFileSync(path.join(HIST_DIR, 'ci_tpstj_a_corridors.geojson'), 'utf8'));
        assert.equal(file.features.length, 16, 'the corridors file has 16 corridors');
        await page.goto(baseUrl + '/?v=corridors#corridors', { waitUntil: 'load' });
        await waitView(page, 'corridors');
        // the whole-history preset: the server's default range (every travel-time sample)
        const api = await getJson(baseUrl, '/api/v1/corridors');
        assert.equal(api.corridors.length, 16);
        const rows = await page.$$eval('#corridor-list tr[data-gid]', (rs) => rs.map((r) => ({
            gid: Number(r.getAttribute('data-gid')), ident: Number(r.getAttribute('data-ident')), tti: r.querySelector('td.tti').textContent, raw: r.querySelector('td.tti').getAttribute('data-value'),
            pti: r.querySelector('td.pti').textContent,
        })));
        assert.equal(rows.length, 16);
        // the file names its corridors by ident (20..35)
        assert.deepEqual(rows.map((r) => r.ident).sort((a, b) => a - b), file.features.map((f) => Number(f.properties.ident)).sort((a, b) => a - b));
        for (const c of api.corridors) {
            const r = rows.find((x) => x.gid === c.gid);
            assert.equal(norm(r.tti), c.tti == null ? '—' : frNum(c.tti, 2), `TTI of corridor ${c.gid}`);
            assert.equal(r.raw, c.tti == null ? '' : String(c.tti));
            assert.equal(norm(r.pti), c.pti == null ? '—' : frNum(c.pti, 2), `PTI of corridor ${c.gid}`);
        }
        assert.equal(await page.locator('#corridor-map path.corridor').count(), 16, 'every corridor is drawn');
        // mirrored corridors (the same measurements as an earlier one) say so, as the API does
        const shownMirrors = await page.$$eval('#corridor-list tr[data-gid]', (rs) => rs
            .filter((r) => r.querySelector('.mirror'))
            .map((r) => [Number(r.getAttribute('data-gid')), Number(r.querySelector('.mirror').getAttribute('data-mirror-of'))]));
        assert.deepEqual(shownMirrors, api.corridors.filter((c) => c.mirror_of != null).map((c) => [c.gid, c.mirror_of]));
        // choosing a row (keyboard) highlights its corridor on the map and shows its hours
        const gid = api.corridors[4].gid;
        await page.focus(`#corridor-list tr[data-gid="${gid}"]`);
        await page.keyboard.press('Enter');
        await page.waitForSelector(`#corridor-map path.corridor.selected[data-gid="${gid}"]`, { timeout: TIMEOUT });
        assert.equal(norm(await page.locator('#corridor-detail-title').textContent()), norm(api.corridors[4].label));
        assert.equal(await page.locator('#corridor-detail rect[data-hour]').count(), api.corridors[4].hours.length);
        await page.screenshot({ path: path.join(OUT, 'corridors.png'), fullPage: true });

        // the 2021 preset refetches with that range
        await page.click('#hist-presets button[data-preset="y2021"]');
        await page.waitForFunction(() => document.getElementById('hist-range-echo').getAttribute('data-from') === '2020-12-31T23:00:00Z', null, { timeout: TIMEOUT });
        await waitView(page, 'corridors');
        const y2021 = await getJson(baseUrl, '/api/v1/corridors?' + qs({ from: '2020-12-31T23:00:00Z', to: '2021-12-31T22:59:59Z' }));
        const raws = await page.$$eval('#corridor-list tr[data-gid]', (rs) => rs.map((r) => [Number(r.getAttribute('data-gid')), r.querySelector('td.tti').getAttribute('data-value')]));
        assert.deepEqual(raws, y2021.corridors.map((c) => [c.gid, c.tti == null ? '' : String(c.tti)]));
        const mirrors2021 = await page.$$eval('#corridor-list tr[data-gid] .mirror', (ms) => ms.map((m) => m.textContent));
        assert.equal(mirrors2021.length, y2021.corridors.filter((c) => c.mirror_of != null).length);
        assert.ok(mirrors2021.length >= 4, `the 2021 year has its mirrored pairs: ${mirrors2021}`);
        assert.notDeepEqual(y2021.corridors.map((c) => c.tti), api.corridors.map((c) => c.tti), 'the 2021 figures differ from the whole range (the live 2025 sample is out)');
    });

    test('Périodes: the 3 lockdowns with before / during / after and the API\'s changes', async () => {
        ready();
        await page.goto(baseUrl + '/?v=periodes#periodes', { waitUntil: 'load' });
        await waitView(page, 'periodes');
        const api = await getJson(baseUrl, '/api/v1/history/periods');
        const csv = lockdowns();
        assert.equal(api.periods.length, 3);
        const cards = page.locator('#period-list article.period-card');
        assert.equal(await cards.count(), 3);
        for (let i = 0; i < 3; i++) {
            const card = cards.nth(i);
            assert.equal(await card.getAttribute('data-start'), csv[i].deb);
            assert.equal(await card.getAttribute('data-end'), csv[i].fin);
            assert.equal(norm(await card.locator('h2').textContent()), csv[i].label);
            const p = api.periods[i];
            assert.equal(p.during.from, csv[i].deb);
            for (const [cls, key] of [['change-during', 'change_during'], ['change-after', 'change_after']]) {
                const ch = p[key];
                const box = card.locator('.' + cls);
                assert.equal(await box.getAttribute('data-absolute'), String(ch.absolute), `${key} of period ${i}`);
                assert.equal(norm(await box.locator('.change-value').textContent()),
                    norm(`${frNum(ch.absolute, 3, true)} (${frNum(ch.relative * 100, 1, true)} %)`), `${key} shown for period ${i}`);
            }
            // before / during / after rows with the API's index
            for (const [w, k] of [['before', 'before'], ['during', 'during'], ['after', 'after']])
                assert.equal(norm(await card.locator(`tr.win-${w} td.idx`).textContent()), frNum(p[k].index, 3), `${w} index, period ${i}`);
            // the largest drops by commune, as the API ranks them
            const drops = await card.locator('.period-drops tr[data-key]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-key')));
            assert.deepEqual(drops, (p.top_communes || []).map((x) => x.key));
        }
        // the first lockdown: the network index fell (a fact of spring 2020)
        assert.ok(api.periods[0].change_during.absolute < 0);
        // by segment
        await cards.nth(0).locator('.period-drops select').selectOption('top_segments');
        const seg = await cards.nth(0).locator('.period-drops tr[data-key]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-key')));
        assert.deepEqual(seg, (api.periods[0].top_segments || []).map((x) => x.key));
        await page.screenshot({ path: path.join(OUT, 'periods.png'), fullPage: true });
        // its link opens the history on before..after
        await cards.nth(0).locator('.card-head a').click();
        await waitView(page, 'historique');
        assert.equal(await page.evaluate(() => location.hash), `#historique?du=${api.periods[0].before.from}&au=${api.periods[0].after.to}`);
    });

    test('Direct: the counting stations layer, one marker per station, a sensor\'s annual counts', async () => {
        ready();
        await page.goto(baseUrl + '/?v=stations', { waitUntil: 'load' });
        await page.waitForSelector('html[data-ready="true"]', { timeout: TIMEOUT });
        const api = await getJson(baseUrl, '/api/v1/stations');
        const kinds = { sensor: 0, campaign: 0 };
        for (const f of api.features) kinds[f.properties.kind]++;
        assert.ok(kinds.sensor > 0 && kinds.campaign > 0, 'the API lists sensors and campaigns');
        assert.equal(await page.locator('#map path.station').count(), 0, 'the layer is off by default');
        assert.equal(await page.locator('#layer-sensors').isChecked(), false);
        await page.check('#layer-sensors');
        await page.check('#layer-campaigns');
        await page.waitForFunction((n) => document.querySelectorAll('#map path.station').length === n, api.features.length, { timeout: TIMEOUT });
        assert.equal(await page.locator('#map path.station[data-kind="sensor"]').count(), kinds.sensor);
        assert.equal(await page.locator('#map path.station[data-kind="campaign"]').count(), kinds.campaign);
        const ids = await page.$$eval('#map path.station[data-kind="sensor"]', (ps) => ps.map((p) => p.getAttribute('data-id')));
        assert.equal(new Set(ids).size, kinds.sensor, 'one marker per sensor');
        assert.equal(norm(await page.locator('#layer-sensors-count').textContent()), norm(frNum(kinds.sensor, 0)));
        await page.screenshot({ path: path.join(OUT, 'stations-layer.png'), fullPage: false });

        // a real click on a sensor that has annual counts (campaigns hidden so they cover nothing)
        await page.uncheck('#layer-campaigns');
        await page.waitForFunction(() => !document.querySelector('#map path.station[data-kind="campaign"]'), null, { timeout: TIMEOUT });
        const withCounts = new Set(api.features.filter((f) => f.properties.kind === 'sensor' && f.properties.annual.length >= 2).map((f) => f.properties.ident));
        const target = await page.evaluate((idents) => {
            for (const p of document.querySelectorAll('#map path.station[data-kind="sensor"]')) {
                if (!idents.includes(p.getAttribute('data-id'))) continue;
                const b = p.getBoundingClientRect();
                const x = b.left + b.width / 2, y = b.top + b.height / 2;
                if (document.elementFromPoint(x, y) === p) return { x, y, id: p.getAttribute('data-id') };
            }
            return null;
        }, [...withCounts]);
        assert.ok(target, 'no sensor marker with counts can be clicked');
        await page.mouse.click(target.x, target.y);
        const panel = page.locator('#station-panel');
        await panel.waitFor({ state: 'visible', timeout: TIMEOUT });
        assert.equal(await panel.getAttribute('data-id'), target.id);
        assert.equal(norm(await page.locator('#station-title').textContent()), target.id);
        const f = api.features.find((x) => x.properties.kind === 'sensor' && x.properties.ident === target.id);
        const rows = await panel.locator('tr[data-year]').evaluateAll((rs) => rs.map((r) => ({
            year: r.getAttribute('data-year'), sens: r.getAttribute('data-sens'),
            mjo: r.querySelector('td.mjo').textContent, hpm: r.querySelector('td.hpm').textContent, hps: r.querySelector('td.hps').textContent,
        })));
        assert.equal(rows.length, f.properties.annual.length);
        f.properties.annual.forEach((a, i) => {
            assert.equal(rows[i].year, String(a.year));
            assert.equal(rows[i].sens, a.sens);
            const fmt = (v) => (v == null ? '—' : norm(frNum(v, 0)));
            assert.equal(norm(rows[i].mjo), fmt(a.mjo_val), `MJO ${a.year} ${a.sens}`);
            assert.equal(norm(rows[i].hpm), fmt(a.hpm_val), `HPM ${a.year} ${a.sens}`);
            assert.equal(norm(rows[i].hps), fmt(a.hps_val), `HPS ${a.year} ${a.sens}`);
        });
        await page.screenshot({ path: path.join(OUT, 'stations.png'), fullPage: false });
        await page.keyboard.press('Escape');
        await panel.waitFor({ state: 'hidden', timeout: TIMEOUT });

        // the keyboard way: the identifier in the search field
        const other = [...withCounts].find((id) => id !== target.id);
        await page.fill('#station-search', other.toLowerCase());
        await page.press('#station-search', 'Enter');
        await page.waitForFunction((id) => document.getElementById('station-panel').getAttribute('data-id') === id && !document.getElementById('station-panel').hidden, other, { timeout: TIMEOUT });
    });

    test('no console errors, failed requests or requests outside the server', async () => {
        ready();
        await sleep(300);
        assert.deepEqual(problems, []);
    });
});

describe('history views of a warehouse without history', { timeout: 300000 }, () => {
    let server = null;
    let browser = null;
    let page = null;
    let problems = [];
    let baseUrl = '';
    let setupError = null;
    const ready = () => {
        if (setupError) throw setupError;
    };

    before(async () => {
        try {
            fs.mkdirSync(OUT, { recursive: true });
            buildAssets();
            let db = null;
            if (!MOCK) {
                // the live snapshots only, replayed here (about a second)
                db = path.join(OUT, 'browser-replay-only.db');
                for (const f of [db, db + '-wal', db + '-shm']) fs.rmSync(f, { force: true });
                const r = spawnSync(BIN, ['-q', 'replay', '--db', db, path.join(REPO, 'data', 'bordeaux')], { encoding: 'utf8' });
                assert.equal(r.status, 0, `replay failed: ${r.stderr}`);
            }
            server = await startServer('server-history-empty.log', { db: db || DB, history: false });
            baseUrl = server.baseUrl;
            ({ browser, page, problems } = await openBrowser(baseUrl));
        } catch (e) {
            setupError = e;
        }
    });
    after(async () => {
        if (browser) await browser.close().catch(() => {});
        if (server) await server.stop();
    });

    test('the API says there is no history', async () => {
        ready();
        const meta = await getJson(baseUrl, '/api/v1/history');
        assert.equal(meta.first_day, null);
        assert.equal(meta.last_day, null);
        assert.equal(meta.has_travel_times, false);
        assert.equal(meta.has_stations, false);
        assert.deepEqual(meta.periods, []);
    });

    test('each history view shows its empty state with the import command, not an error', async () => {
        ready();
        await page.goto(baseUrl + '/#historique', { waitUntil: 'load' });
        await page.waitForSelector('html[data-ready="true"]', { timeout: TIMEOUT });
        await waitView(page, 'historique', 'empty');
        const box = page.locator('#hist-empty');
        assert.ok(await box.isVisible());
        const text = norm(await box.innerText());
        assert.match(text, /Aucun historique importé/);
        assert.match(text, /bouchon import --db \S+ --kind segment-history/);
        assert.ok(await page.locator('#hist-body').isHidden(), 'no empty charts');
        assert.ok(await page.locator('#hist-controls').isHidden(), 'no range to choose');
        const banner = page.locator('#banner');
        if (await banner.isVisible()) assert.doesNotMatch(await banner.innerText(), /Erreur/, 'no error banner');
        await page.screenshot({ path: path.join(OUT, 'history-empty.png'), fullPage: true });

        await page.click('#tab-corridors');
        await waitView(page, 'corridors', 'empty');
        const ct = norm(await page.locator('#corridor-empty').innerText());
        assert.match(ct, /Aucun temps de parcours importé/);
        assert.match(ct, /--kind travel-times/);

        await page.click('#tab-periodes');
        await waitView(page, 'periodes', 'empty');
        assert.match(norm(await page.locator('#period-empty').innerText()), /Aucun historique importé/);

        // the stations layer cannot be switched on, and says why
        await page.click('#tab-direct');
        assert.ok(await page.locator('#layer-sensors').isDisabled());
        assert.match(norm(await page.locator('#station-note').textContent()), /aucune station importée/);
        assert.equal(await viewState(page, 'historique'), 'empty');
    });

    test('no console errors, failed requests or requests outside the server', async () => {
        ready();
        await sleep(300);
        assert.deepEqual(problems, []);
    });
});
