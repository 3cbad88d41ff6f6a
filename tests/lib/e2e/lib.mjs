// tests/lib/e2e/lib.mjs — what every end-to-end script of the dashboard
// shares (dashboard.mjs, businesses.mjs): its arguments, the step/output
// protocol, API calls from the test itself, and Debian's Chromium.
//
// A script is run as `node <script>.mjs BASE OUT` (BASE: the gateway's URL;
// OUT: the folder for screenshots, created here) and prints one line per
// step on stdout, "pass<TAB>what" or "fail<TAB>what<TAB>why", which
// tests/lib/chromium.sh's e2e_run turns into TAP. It exits 2 only when the
// browser cannot be driven at all.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

// BASE and OUT from the command line (usage and exit 2 when missing).
export function args(script) {
    const [base, out] = process.argv.slice(2);
    if (!base || !out) {
        console.error(`usage: ${script} BASE OUT`);
        process.exit(2);
    }
    mkdirSync(out, { recursive: true });
    return { base, out };
}

const clean = (text) => String(text).replace(/[\t\n\r]+/g, ' ').slice(0, 500);
const pass = (what) => console.log(`pass\t${clean(what)}`);
const fail = (what, why) => console.log(`fail\t${clean(what)}\t${clean(why)}`);

// Runs one step: fn throws (or returns a string) to fail. True when it passed.
export async function step(what, fn) {
    try {
        const why = await fn();
        if (typeof why === 'string')
            fail(what, why);
        else
            pass(what);
        return !why;
    } catch (error) {
        fail(what, error && error.message ? error.message.split('\n')[0] : error);
        return false;
    }
}

// A call to the API at base from the test itself (not the page): the
// answer's JSON; a status of 400 or more throws.
export async function json(base, method, path, body, token) {
    const headers = { 'Content-Type': 'application/json' };
    if (token)
        headers.Authorization = `Bearer ${token}`;
    const response = await fetch(`${base}${path}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok)
        throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
}

// Debian's Chromium (SB_CHROMIUM, else /usr/bin/chromium): playwright-core
// downloads no browser. Exits 2 when it cannot be launched.
export async function launch(script) {
    try {
        return await chromium.launch({
            executablePath: process.env.SB_CHROMIUM || '/usr/bin/chromium',
            args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
            timeout: 60000
        });
    } catch (error) {
        console.error(`${script}: cannot launch chromium: ${error.message}`);
        process.exit(2);
    }
}

// The two widths every page is checked at.
export const viewports = [
    { name: 'desktop', width: 1280, height: 900 },
    { name: 'phone', width: 390, height: 844 }
];

// A fresh browser context at viewport vp with one page, watched for
// trouble: console errors, page errors, CSP violations (reported from an
// init script, which the page's CSP does not govern), failed requests and
// answers of 400 or more (with their URL, so that a failure says which
// call it was). What a step provokes on purpose is allowed through
// allow(re, ...) — a console text or a "<status> <path>" — until allow()
// is called again. Returns { context, page, problems, allow, shot, fits }:
// shot(name) saves OUT/<vp>-<name>.png; fits() says why the page is wider
// than the viewport (undefined when it fits).
export async function openPage(browser, vp, out) {
    const context = await browser.newContext({ viewport: { width: vp.width, height: vp.height },
                                               isMobile: vp.name === 'phone',
                                               hasTouch: vp.name === 'phone' });
    const problems = [];
    let allowed = [];
    const report = (text) => {
        if (!allowed.some((re) => re.test(text)))
            problems.push(text);
    };
    await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (event) => {
            console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
        });
    });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    page.on('console', (message) => {
        if (message.type() === 'error')
            report(`console: ${message.text()} (${message.location()?.url || 'no url'})`);
    });
    page.on('pageerror', (error) => report(`page error: ${error.message}`));
    page.on('requestfailed', (request) =>
        report(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
    page.on('response', (response) => {
        if (response.status() >= 400)
            report(`answer: ${response.status()} ${new URL(response.url()).pathname}`
                   + ` (${response.request().method()})`);
    });
    return {
        context, page, problems,
        allow: (...res) => { allowed = res; },
        shot: (name) => page.screenshot({ path: join(out, `${vp.name}-${name}.png`),
                                          fullPage: true }),
        fits: async () => {
            const width = await page.evaluate(() => document.documentElement.scrollWidth);
            if (width > vp.width)
                return `the page is ${width} px wide`;
        }
    };
}

// The step every viewport ends with.
export async function noProblems(vp, problems) {
    await step(`${vp.name}: no console error, CSP violation or failed request`, async () => {
        if (problems.length)
            return problems.join(' | ');
    });
}
