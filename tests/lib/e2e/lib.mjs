// tests/lib/e2e/lib.mjs — what every end-to-end script of the dashboard
// shares: its arguments, the step/output protocol, API calls from the
// test itself, Debian's Chromium and a watched page (openPage), the
// accessibility check (a11y) and the mails of the suite's SMTP sink
// (mailWait, mailLink).
//
// A script is run as `node <script>.mjs BASE OUT` (BASE: the gateway's URL;
// OUT: the folder for screenshots, created here) and prints one line per
// step on stdout, "pass<TAB>what" or "fail<TAB>what<TAB>why", which
// tests/lib/chromium.sh's e2e_run turns into TAP. It exits 2 only when the
// browser cannot be driven at all.

import { chromium } from 'playwright-core';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

// The page the latest openPage opened: a failed step says where it was.
let currentPage = null;

// Runs one step: fn throws (or returns a string) to fail. True when it
// passed. A thrown error is told by its first lines (Playwright's say what
// it waited for) and the page's address at the time.
export async function step(what, fn) {
    try {
        const why = await fn();
        if (typeof why === 'string')
            fail(what, why);
        else
            pass(what);
        return !why;
    } catch (error) {
        const lines = error && error.message ? error.message.split('\n').map((l) => l.trim())
                                                   .filter(Boolean).slice(0, 3).join(' / ')
                                             : String(error);
        let at = '';
        try {
            at = currentPage && !currentPage.isClosed() ? ` (the page was at ${currentPage.url()})` : '';
        } catch {
            at = '';
        }
        fail(what, `${lines}${at}`);
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
    currentPage = page;
    page.setDefaultTimeout(20000);
    page.on('console', (message) => {
        if (message.type() === 'error')
            report(`console: ${message.text()} (${message.location()?.url || 'no url'})`);
    });
    page.on('pageerror', (error) => report(`page error: ${error.message}`));
    // A request the browser abandoned because the page went away (a reload,
    // a navigation) is not a failure of the app: net::ERR_ABORTED.
    page.on('requestfailed', (request) => {
        const why = request.failure()?.errorText;
        if (why !== 'net::ERR_ABORTED')
            report(`request failed: ${request.method()} ${request.url()} ${why}`);
    });
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

// ---- accessibility ----------------------------------------------------------
//
// axe-core (npm, pinned in package-lock.json) run in the page as it is:
// its source is evaluated through the DevTools protocol, which the page's
// CSP does not govern (nothing is added to the page's own scripts). Rules:
// WCAG 2.0/2.1 A and AA. Returns why the page fails (violations of
// impact "serious" or "critical", each with its first target), or
// undefined: a step's answer.
let axeSource = null;
export async function a11y(page) {
    if (!axeSource)
        axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
                                 'utf8');
    if (!(await page.evaluate(() => typeof window.axe === 'object')))
        await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
        const result = await window.axe.run(document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
            resultTypes: ['violations']
        });
        return result.violations.map((v) => ({ id: v.id, impact: v.impact,
                                               target: v.nodes[0]?.target?.join(' '),
                                               count: v.nodes.length }));
    });
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    if (bad.length)
        return bad.map((v) => `${v.id} (${v.impact}, ${v.count}×, e.g. ${v.target})`).join('; ');
}

// ---- mail -------------------------------------------------------------------
//
// The suite's SMTP sink (tests/fakes/smtp_sink.py) keeps each message as
// SB_MAIL_DIR/<n>.eml (n = 1, 2, …) with "X-Sink-Rcpt: <address>" lines on
// top; e2e_run passes SB_MAIL_DIR when the test started the sink.

function mailFiles() {
    const dir = process.env.SB_MAIL_DIR;
    if (!dir)
        throw new Error('no SB_MAIL_DIR: the test did not start the SMTP sink (suite_smtp_start)');
    const files = [];
    for (let n = 1; existsSync(join(dir, `${n}.eml`)); n++)
        files.push(join(dir, `${n}.eml`));
    return files;
}

// The text of a message: headers off, quoted-printable undone.
function mailText(raw) {
    const split = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, split);
    let body = raw.slice(split + 4);
    if (/^Content-Transfer-Encoding:\s*quoted-printable/im.test(head))
        body = Buffer.from(body.replace(/=\r?\n/g, '')
                               .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
                           'latin1').toString('utf8');
    const subject = (head.match(/^Subject:\s*(.*)$/im) || [])[1] || '';
    return { head, subject, body: body.replace(/\r\n/g, '\n') };
}

const mailSeen = new Set();

// The next message to `to` (any case) not returned before, waiting up to
// `seconds`: { path, head, subject, body }. Throws when none comes.
export async function mailWait(to, seconds = 15) {
    const want = to.toLowerCase();
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        for (const path of mailFiles()) {
            if (mailSeen.has(path))
                continue;
            const raw = readFileSync(path, 'utf8');
            const rcpts = [...raw.matchAll(/^X-Sink-Rcpt:\s*(\S+)\r?$/gm)].map((m) => m[1].toLowerCase());
            if (rcpts.includes(want)) {
                mailSeen.add(path);
                return { path, ...mailText(raw) };
            }
        }
        if (Date.now() > deadline)
            throw new Error(`no mail to ${to} within ${seconds} s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

// The first URL in a mail's text that starts with prefix.
export function mailLink(mail, prefix) {
    const url = mail.body.split(/\s+/).find((word) => word.startsWith(prefix));
    if (!url)
        throw new Error(`no link starting ${prefix} in the mail "${mail.subject}"`);
    return url;
}
