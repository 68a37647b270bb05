// Shared by the tests of this folder (this file is not a test itself): builds the dashboard
// assets, starts the real `bouchon serve` (or, for development only, the dev mock) on a free
// loopback port, and stops it. See README.md for the environment variables.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const OUT = path.join(REPO, 'test-output');
export const MOCK = process.env.BOUCHON_DEV_MOCK === '1';
export const BIN = process.env.BOUCHON_BIN || path.join(REPO, 'build', 'bouchon');
export const DB = process.env.BOUCHON_TEST_DB || '';
export const ASSETS = process.env.BOUCHON_ASSETS || path.join(REPO, 'build', 'web');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const EXPECTED_SEGMENTS = 694; // the real network of shared/data/bordeaux (ci_trafi_l, 2025-12-18)

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Test files may run in parallel: installs and builds take a lock (a directory made atomically).
function withLock(dir, fn) {
    const lock = path.join(dir, '.bouchon-test.lock');
    const end = Date.now() + 300000;
    for (;;) {
        try {
            fs.mkdirSync(lock);
            break;
        } catch (e) {
            if (e.code !== 'EEXIST') throw e;
            if (Date.now() > end) throw new Error(`lock ${lock} held for 5 min: remove it if no test runs`);
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        }
    }
    try {
        return fn();
    } finally {
        fs.rmdirSync(lock);
    }
}

// The folder's npm packages (playwright-core, yaml), installed from the lockfile on first use.
export async function importDev(name, entry) {
    const file = path.join(HERE, 'node_modules', name, entry);
    withLock(HERE, () => {
        if (fs.existsSync(file)) return;
        const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: HERE, encoding: 'utf8' });
        assert.equal(r.status, 0, `npm ci in tests/browser failed:\n${r.stdout}\n${r.stderr}`);
    });
    return import(pathToFileURL(file).href);
}

let built = false;
export function buildAssets() {
    if (process.env.BOUCHON_ASSETS) {
        assert.ok(fs.existsSync(path.join(ASSETS, 'index.html')), `BOUCHON_ASSETS=${ASSETS} has no index.html`);
        return;
    }
    if (built) return;
    withLock(path.join(REPO, 'web'), () => {
        const r = spawnSync('sh', [path.join(REPO, 'web', 'build.sh'), ASSETS], { encoding: 'utf8' });
        assert.equal(r.status, 0, `web/build.sh failed:\n${r.stdout}\n${r.stderr}`);
    });
    built = true;
}

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

const running = new Set();
process.on('exit', () => {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

// Starts the server and waits for GET /healthz to answer "ok". Returns { baseUrl, log(), stop() }.
// logName: file under test-output/ that receives the server's output when stop() is called.
// options.db: serve this database instead of BOUCHON_TEST_DB.
export async function startServer(logName, options = {}) {
    const port = await freePort();
    const db = options.db || DB;
    let cmd;
    let args;
    if (MOCK) {
        cmd = process.execPath;
        args = [path.join(HERE, 'dev-mock-server.mjs'), 'serve', '--listen', `127.0.0.1:${port}`, '--assets', ASSETS];
        // the mock answers the history routes from a warehouse with imported history, when given one
        if (options.history !== false && db && fs.existsSync(db)) args.push('--history-db', db);
    } else {
        assert.ok(fs.existsSync(BIN), `bouchon binary not found at ${BIN} (build it, or set BOUCHON_BIN)`);
        assert.ok(db, 'BOUCHON_TEST_DB is not set: it must name a database built by replaying the real snapshots');
        assert.ok(fs.existsSync(db), `database ${db} does not exist`);
        cmd = BIN;
        args = ['serve', '--db', db, '--listen', `127.0.0.1:${port}`, '--assets', ASSETS];
    }
    let log = `$ ${cmd} ${args.join(' ')}\n`;
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('error', (e) => (log += `spawn error: ${e.message}\n`));
    const baseUrl = `http://127.0.0.1:${port}`;

    const stop = () =>
        new Promise((resolve) => {
            const done = () => {
                running.delete(child);
                try {
                    fs.mkdirSync(OUT, { recursive: true });
                    fs.writeFileSync(path.join(OUT, logName), log);
                } catch { /* nothing to keep */ }
                resolve();
            };
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
                clearTimeout(kill);
                done();
            });
            child.kill('SIGTERM');
        });

    const end = Date.now() + 30000;
    let last = '';
    for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
            await stop();
            throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before /healthz answered:\n${log}`);
        }
        try {
            const res = await fetch(baseUrl + '/healthz', { signal: AbortSignal.timeout(2000) });
            const body = (await res.text()).trim();
            if (res.status === 200 && body === 'ok') break;
            last = `${res.status} ${body.slice(0, 100)}`;
        } catch (e) {
            last = e.message;
        }
        if (Date.now() > end) {
            await stop();
            throw new Error(`/healthz did not answer "ok" within 30 s (last: ${last}):\n${log}`);
        }
        await sleep(200);
    }
    return { baseUrl, log: () => log, stop };
}

// GET a JSON resource; asserts a 200 JSON answer.
export async function getJson(baseUrl, p) {
    const res = await fetch(baseUrl + p, { headers: { Accept: 'application/json' } });
    const text = await res.text();
    assert.equal(res.status, 200, `GET ${p} answered ${res.status}: ${text.slice(0, 300)}`);
    assert.match(res.headers.get('content-type') || '', /^application\/json/, `GET ${p}: Content-Type`);
    try {
        return JSON.parse(text);
    } catch {
        assert.fail(`GET ${p} is not JSON: ${text.slice(0, 300)}`);
    }
}

// Launches Debian's Chromium (headless, zone UTC, locale fr-FR) on a new page that records every
// problem a user could meet: console errors, page errors, failed requests, HTTP errors and any
// request to another host than the server. Returns { browser, page, problems }.
export async function openBrowser(baseUrl, viewport = { width: 1440, height: 900 }) {
    assert.ok(fs.existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    const { chromium } = await importDev('playwright-core', 'index.mjs');
    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            '--disable-quic', '--disable-default-apps'],
    });
    // The browser's own zone is UTC on purpose: the page must show Europe/Paris by itself.
    const context = await browser.newContext({ viewport, locale: 'fr-FR', timezoneId: 'UTC' });
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
        const u = new URL(r.url());
        if (!['http:', 'https:'].includes(u.protocol)) return; // data: favicon
        if (u.origin !== baseUrl) problems.push(`request outside the server (no CDN allowed): ${r.url()}`);
    });
    page.on('requestfailed', (r) => {
        const err = r.failure() ? r.failure().errorText : '';
        if (!/ERR_ABORTED/.test(err)) problems.push(`request failed: ${r.url()} ${err}`);
    });
    page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    return { browser, page, problems };
}

// French number formatting as the page writes it (Intl fr-FR, fixed decimals), for comparisons
// with whitespace normalised (Intl puts narrow no-break spaces between thousands).
export function frNum(x, d, signed = false) {
    return new Intl.NumberFormat('fr-FR', { minimumFractionDigits: d, maximumFractionDigits: d, signDisplay: signed ? 'exceptZero' : 'auto' }).format(x);
}
export const norm = (s) => String(s).replace(/[\s\u00a0\u202f]+/g, ' ').trim();
