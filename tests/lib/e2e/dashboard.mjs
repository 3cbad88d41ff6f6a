#!/usr/bin/env node
// tests/lib/e2e/dashboard.mjs BASE OUT — the dashboard's first flows in
// Debian's headless Chromium (playwright-core, which downloads no browser:
// /usr/bin/chromium, or SB_CHROMIUM), against a running suite at BASE
// (http://127.0.0.1:<port>). Used by tests/t0050-dashboard-e2e.sh.
//
// For each viewport (desktop 1280x900, phone 390x844): the landing page,
// sign-up through the form, Home with the organization, the plan "free",
// its status and the usage bars; on the phone also a second sign-up with
// the same email (the API's conflict shown in words), a reload that keeps
// the session (the gateway's httpOnly cookie, which script cannot read)
// and a deep link opened in a fresh browser (the gateway answers the
// app; without a session it lands on the log-in page, and after logging
// in on the page it asked for); on the desktop
// also log out (a reload stays logged out), a wrong password, log in, and calls recorded through the API turning the calls
// bar amber (4 of 5) then red (5 of 5). A screenshot of each page goes to
// OUT.
// Console errors, page errors, CSP violations, failed requests and answers
// of 400 or more are collected throughout (lib.mjs openPage); each
// viewport ends with a step asserting none beyond those a step provokes.
//
// Output: one line per step on stdout, "pass<TAB>what" or
// "fail<TAB>what<TAB>why", which the test turns into TAP. Exit status 0
// unless the browser could not be driven at all (then 2, with a message).

import { a11y, args, step, json as apiJson, launch, noProblems, openPage, viewports } from './lib.mjs';

const { base, out } = args('dashboard.mjs');
const json = (method, path, body, token) => apiJson(base, method, path, body, token);
const stamp = `${Date.now()}-${process.pid}`;

const browser = await launch('dashboard.mjs');

for (const vp of viewports) {
    const { context, page, problems, allow, shot, fits } = await openPage(browser, vp, out);
    const email = `e2e-${vp.name}-${stamp}@example.com`;
    const org = `Luigi's Trattoria ${vp.name}`;

    await step(`${vp.name}: / shows the sign-up and log-in forms`, async () => {
        const response = await page.goto(`${base}/`);
        if (response.status() !== 200)
            return `GET / answered ${response.status()}`;
        await page.getByRole('heading', { name: 'Create your account' }).waitFor();
        await page.getByRole('heading', { name: 'Log in' }).waitFor();
        await page.getByLabel('Business name').waitFor();
        await shot('landing');
    });
    await step(`${vp.name}: the landing page has no serious accessibility violation`,
               () => a11y(page));

    if (vp.name === 'phone') {
        await step(`${vp.name}: the page is no wider than the phone`, fits);
        await step(`${vp.name}: signing up with a taken email says so in words`, async () => {
            allow(/\b409\b/);
            const form = page.getByRole('form', { name: 'Create your account' });
            await form.getByLabel('Your name').fill('Luigi');
            await form.getByLabel('Business name').fill(org);
            await form.getByLabel('Email').fill(`e2e-desktop-${stamp}@example.com`);
            await form.getByLabel('Password').fill('correct horse battery');
            await form.getByRole('button', { name: 'Sign up' }).click();
            const alert = form.getByRole('alert');
            await alert.waitFor();
            const text = await alert.textContent();
            if (!/already exists/.test(text))
                return `the message is "${text}"`;
            await shot('signup-conflict');
            allow();
        });
    }

    await step(`${vp.name}: sign up through the form (keyboard: Enter submits)`, async () => {
        const form = page.getByRole('form', { name: 'Create your account' });
        await form.getByLabel('Your name').fill('Luigi');
        await form.getByLabel('Business name').fill(org);
        await form.getByLabel('Email').fill(email);
        await form.getByLabel('Password').fill('correct horse battery');
        await form.getByLabel('Password').press('Enter');
        await page.waitForURL(`${base}/app/`);
    });

    await step(`${vp.name}: Home shows the organization, plan "free" and its status`, async () => {
        await page.getByRole('heading', { name: 'Home', level: 1 }).waitFor();
        const name = await page.locator('.org-name').textContent();
        if (name !== org)
            return `the organization shown is "${name}"`;
        const plan = await page.locator('.plan').textContent();
        if (plan !== 'free')
            return `the plan shown is "${plan}"`;
        const status = await page.locator('.status').textContent();
        if (status !== 'Active')
            return `the status shown is "${status}"`;
    });

    await step(`${vp.name}: Home shows the usage bars`, async () => {
        await page.locator('.usage-list').waitFor();
        const bars = await page.getByRole('progressbar').count();
        if (bars < 1)
            return 'no bar';
        const metrics = await page.locator('.usage').evaluateAll((nodes) =>
            nodes.map((n) => `${n.dataset.metric}:${n.className}`));
        if (!metrics.some((m) => m.startsWith('calls:')))
            return `no bar for calls (${metrics.join(', ')})`;
        if (!metrics.every((m) => / ok$/.test(m)))
            return `a new organization is near or over a limit: ${metrics.join(', ')}`;
        await shot('home');
    });
    await step(`${vp.name}: Home has no serious accessibility violation`, () => a11y(page));

    if (vp.name === 'phone') {
        await step(`${vp.name}: Home is no wider than the phone`, async () => {
            const width = await page.evaluate(() => document.documentElement.scrollWidth);
            if (width > vp.width)
                return `the page is ${width} px wide`;
        });
        await step(`${vp.name}: a reload keeps the session (the httpOnly cookie)`, async () => {
            const response = await page.goto(`${base}/app/businesses`);
            if (response.status() !== 200)
                return `GET /app/businesses answered ${response.status()}`;
            await page.getByRole('heading', { name: 'Businesses', level: 1 }).waitFor();
            if (page.url() !== `${base}/app/businesses`)
                return `the page moved to ${page.url()}`;
            const script = await page.evaluate(() => document.cookie);
            if (/sb_refresh/.test(script))
                return `script can read the refresh cookie: ${script}`;
        });
        await step(`${vp.name}: a deep link without a session asks to log in, then opens`,
                   async () => {
            const other = await browser.newContext({ viewport: { width: vp.width,
                                                                  height: vp.height } });
            try {
                const fresh = await other.newPage();
                const response = await fresh.goto(`${base}/app/calls?status=missed`);
                if (response.status() !== 200)
                    return `GET /app/calls?status=missed answered ${response.status()}`;
                await fresh.waitForURL(`${base}/`);
                await fresh.getByText('Please log in to continue.').waitFor();
                await fresh.screenshot({ path: `${out}/${vp.name}-deep-link.png`, fullPage: true });
                const form = fresh.getByRole('form', { name: 'Log in' });
                await form.getByLabel('Email').fill(email);
                await form.getByLabel('Password').fill('correct horse battery');
                await form.getByRole('button', { name: 'Log in' }).click();
                await fresh.waitForURL(`${base}/app/calls?status=missed`);
                await fresh.getByRole('heading', { name: 'Calls', level: 1 }).waitFor();
            } finally {
                await other.close();
            }
        });
    } else {
        await step(`${vp.name}: log out returns to the landing page`, async () => {
            await page.getByRole('button', { name: 'Log out' }).click();
            await page.waitForURL(`${base}/`);
            await page.getByText('You are logged out.').waitFor();
            await page.reload();
            await page.getByRole('heading', { name: 'Log in' }).waitFor();
            if (page.url() !== `${base}/`)
                return `after log out, a reload went to ${page.url()}`;
        });
        await step(`${vp.name}: a wrong password says so in words`, async () => {
            allow(/\b401\b/);
            const form = page.getByRole('form', { name: 'Log in' });
            await form.getByLabel('Email').fill(email);
            await form.getByLabel('Password').fill('not the password at all');
            await form.getByRole('button', { name: 'Log in' }).click();
            const alert = form.getByRole('alert');
            await alert.waitFor();
            const text = await alert.textContent();
            if (text !== 'The email or password is not right.')
                return `the message is "${text}"`;
            if (await page.locator('.spinner:visible').count())
                return 'a spinner still turns';
            allow();
        });
        await step(`${vp.name}: log in through the form lands on Home`, async () => {
            const form = page.getByRole('form', { name: 'Log in' });
            await form.getByLabel('Email').fill(email);
            await form.getByLabel('Password').fill('correct horse battery');
            await form.getByRole('button', { name: 'Log in' }).click();
            await page.waitForURL(`${base}/app/`);
            await page.locator('.org-name').waitFor();
        });
    }

    if (vp.name === 'desktop') {
        // Calls recorded through the API (a session of its own), then Home
        // again through the nav: the catalogue's free plan (the test's
        // tests/fixtures/plans-dashboard.json) allows 5 calls a month.
        const callsBar = async (level, count) => {
            const session = await json('POST', '/v1/auth/login',
                                       { email, password: 'correct horse battery' });
            let business = (await json('GET', '/v1/businesses', undefined,
                                       session.access_token)).data[0];
            if (!business)
                business = await json('POST', '/v1/businesses',
                                      { name: 'Trattoria', phone_number: '+14155550101',
                                        timezone: 'Europe/Rome' }, session.access_token);
            for (let i = 0; i < count; i++)
                await json('POST', '/v1/calls', { business_id: business.id,
                                                  caller_number: '+14155550199',
                                                  started_at: new Date().toISOString()
                                                                  .replace(/\.\d+Z$/, 'Z'),
                                                  duration_seconds: 30, status: 'completed' },
                           session.access_token);
            // The summary may trail the calls by a moment: Home is asked
            // again until the bar changes (or the step's time runs out).
            for (let tries = 0; tries < 20; tries++) {
                await page.getByRole('link', { name: 'Home' }).click();
                await page.locator('.usage-list').waitFor();
                const cls = await page.locator('.usage[data-metric="calls"]').getAttribute('class');
                if (cls === `usage ${level}`)
                    return;
                await page.waitForTimeout(500);
            }
            throw new Error(`the calls bar is not ${level}: ` +
                            await page.locator('.usage[data-metric="calls"]').textContent());
        };
        await step(`${vp.name}: 4 calls of 5 turn the calls bar amber (80 %)`, async () => {
            await callsBar('near', 4);
            const text = await page.locator('.usage[data-metric="calls"] .usage-count').textContent();
            if (text !== '4 of 5 · nearly there')
                return `the bar says "${text}"`;
            await shot('home-near-limit');
        });
        await step(`${vp.name}: 5 calls of 5 turn it red (100 %)`, async () => {
            await callsBar('over', 1);
            const text = await page.locator('.usage[data-metric="calls"] .usage-count').textContent();
            if (text !== '5 of 5 · limit reached')
                return `the bar says "${text}"`;
            const colour = await page.locator('.usage[data-metric="calls"] .fill')
                                     .evaluate((node) => getComputedStyle(node).backgroundColor);
            if (colour !== 'rgb(180, 35, 24)')
                return `the bar is ${colour}`;
            await shot('home-over-limit');
        });
    }

    await noProblems(vp, problems);
    await context.close();
}

await browser.close();
