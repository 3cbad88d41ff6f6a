#!/usr/bin/env node
// tests/lib/e2e/analytics.mjs BASE OUT — Home's charts and recent calls
// (gateway/www/page-home.js, chart.js) and the Analytics page
// (page-analytics.js) in Debian's headless Chromium (playwright-core),
// against a running suite at BASE whose catalogue is
// tests/fixtures/plans-analytics.json (free: no `analytics`; starter: it).
// Used by tests/t0054-dashboard-analytics.sh; the step/output protocol of
// lib.mjs: one line per step, "pass<TAB>what" or "fail<TAB>what<TAB>why".
//
// Desktop (1280x900): sign up; Home's charts are empty (30 days of 0) and
// so are the recent calls; calls recorded through the API on several days
// (one 40 days ago, outside the 30) and two orders today → Home's tables
// hold exactly those per-day counts (days of Europe/Rome, the business's
// zone) and the 5 most recent calls, newest first, linking to their
// pages; Analytics on free → the 403 as an upgrade prompt linking to
// /app/billing; the operator moves the organization to starter → the
// figures (calls, minutes, average, statuses, orders, revenue,
// conversion), the per-day table and the busiest hour match what was
// recorded; 7 days, 90 days, a custom day and a custom year (365 rows)
// change them (and the URL), dates in the wrong order are refused; a
// second business with its own calls → the business filter counts only
// its calls. Phone (390x844): Home empty and with a call, the upgrade
// prompt and the figures, each fitting the width. Screenshots into OUT,
// axe on each page state (desktop), no console error, CSP violation or
// failed request beyond the 403s provoked on purpose.

import { a11y, args, step, json as apiJson, launch, noProblems, openPage, viewports } from './lib.mjs';

const { base, out } = args('analytics.mjs');
const json = (method, path, body, token) => apiJson(base, method, path, body, token);
const stamp = `${Date.now()}-${process.pid}`;
const password = 'correct horse battery';
const ZONE = 'Europe/Rome';
const DAY_MS = 86400000;

// The day ("2026-12-03") iso falls on in Rome: the page's days.
const romeDay = (iso) => new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric',
                                                            month: '2-digit', day: '2-digit' })
    .format(new Date(iso));
// Noon UTC n days ago (the same day in Rome), plus minutes.
const noonAgo = (n, minutes = 0) => {
    const t = new Date(Date.now() - n * DAY_MS);
    t.setUTCHours(12, minutes, 0, 0);
    return t.toISOString();
};

const browser = await launch('analytics.mjs');

for (const vp of viewports) {
    const { context, page, problems, allow, shot, fits } = await openPage(browser, vp, out);
    const email = `an-${vp.name}-${stamp}@example.com`;
    let token = null, orgId = null;
    const apiAs = async (method, path, body) => {
        if (!token) {
            token = (await json('POST', '/v1/auth/login', { email, password })).access_token;
            orgId = (await json('GET', '/v1/me', undefined, token)).organization.id;
        }
        return json(method, path, body, token);
    };
    const call = (business, startedAt, status = 'completed') =>
        apiAs('POST', '/v1/calls', { business_id: business.id, caller_number: '+393331234567',
                                     started_at: startedAt, duration_seconds: 90, status });
    const nav = async (name) => {
        await page.getByRole('navigation', { name: 'Main' })
                  .getByRole('link', { name, exact: true }).click();
    };
    // Home's per-day table of the chart titled title: { day: count }.
    const table = (title) => page.locator('figure.chart', { hasText: title })
        .locator('tbody tr').evaluateAll((rows) => Object.fromEntries(rows.map((row) =>
            [row.dataset.key, Number(row.querySelector('td').textContent.replace(/\D/g, ''))])));
    const nonZero = (counts) => Object.fromEntries(Object.entries(counts).filter(([, n]) => n));
    const same = (a, b) => JSON.stringify(Object.entries(a).sort()) ===
                           JSON.stringify(Object.entries(b).sort());
    const figure = (key) => page.locator(`[data-figure="${key}"] dd`).textContent();
    // Home again (through the nav) until the calls table is want (the
    // usage of a call reaches usage-svc a moment after the call).
    const homeUntil = async (want) => {
        let got = null;
        for (let tries = 0; tries < 30; tries++) {
            await nav('Home');
            await page.locator('.trend figure.chart').first().waitFor();
            got = nonZero(await table('Calls per day'));
            if (same(got, want))
                return;
            await page.waitForTimeout(500);
        }
        throw new Error(`Home's calls per day: ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
    };

    await step(`${vp.name}: sign up: Home's charts and recent calls are empty`, async () => {
        await page.goto(`${base}/`);
        const form = page.getByRole('form', { name: 'Create your account' });
        await form.getByLabel('Your name').fill('Luigi');
        await form.getByLabel('Business name').fill(`Osteria ${vp.name}`);
        await form.getByLabel('Email').fill(email);
        await form.getByLabel('Password').fill(password);
        await form.getByLabel('Password').press('Enter');
        await page.waitForURL(`${base}/app/`);
        await page.locator('.trend figure.chart').first().waitFor();
        for (const title of ['Calls per day', 'Orders per day']) {
            const counts = await table(title);
            const days = Object.keys(counts).length;
            if (days !== 30 || Object.values(counts).some((n) => n !== 0))
                return `${title}: ${days} days, ${JSON.stringify(nonZero(counts))}`;
        }
        const label = await page.locator('figure.chart svg').first().getAttribute('aria-label');
        if (!/^Calls per day: 0 calls in all/.test(label))
            return `the chart's label is "${label}"`;
        await page.locator('.recent').getByText('No calls yet.').waitFor();
        await shot('home-empty');
    });
    if (vp.name === 'phone')
        await step(`${vp.name}: the empty Home fits 390 px`, fits);
    else
        await step(`${vp.name}: the empty Home has no serious accessibility violation`,
                   () => a11y(page));

    let trattoria = null;
    const recorded = [];
    if (vp.name === 'desktop') {
        await step(`${vp.name}: calls on several days and two orders → Home's charts and recent calls`,
                   async () => {
            trattoria = await apiAs('POST', '/v1/businesses',
                                    { name: 'Trattoria', phone_number: '+390612345678',
                                      timezone: ZONE });
            // 40 days ago (outside the 30), 10, 3 (two) and 1 (three) days
            // ago at noon UTC, and one missed call a minute ago.
            for (const [ago, minute] of [[40, 0], [10, 0], [3, 0], [3, 5], [1, 0], [1, 5], [1, 10]])
                recorded.push(await call(trattoria, noonAgo(ago, minute)));
            recorded.push(await call(trattoria, new Date(Date.now() - 60000).toISOString(),
                                     'missed'));
            const items = [{ name: 'Pizza margherita', quantity: 2, unit_price_cents: 900 }];
            await apiAs('POST', '/v1/orders', { business_id: trattoria.id, customer_name: 'Anna',
                                                items, currency: 'EUR',
                                                call_id: recorded.at(-1).id });
            await apiAs('POST', '/v1/orders', { business_id: trattoria.id, customer_name: 'Marco',
                                                items, currency: 'EUR' });
            const want = {};
            for (const c of recorded.slice(1))
                want[romeDay(c.started_at)] = (want[romeDay(c.started_at)] || 0) + 1;
            await homeUntil(want);
            const orders = nonZero(await table('Orders per day'));
            if (!same(orders, { [romeDay(new Date().toISOString())]: 2 }))
                return `Home's orders per day: ${JSON.stringify(orders)}`;
            const links = await page.locator('.recent-call a').evaluateAll((nodes) =>
                nodes.map((node) => node.getAttribute('href')));
            const newest = [...recorded].sort((a, b) => b.started_at.localeCompare(a.started_at))
                .slice(0, 5).map((c) => `/app/calls/${c.id}`);
            if (JSON.stringify(links) !== JSON.stringify(newest))
                return `recent calls link to ${links.join(', ')}, not ${newest.join(', ')}`;
            const first = await page.locator('.recent-call .call-when').first().textContent();
            if (!/(CET|CEST|GMT\+1|GMT\+2)$/.test(first))
                return `the newest call's time "${first}" is not in Rome's zone`;
            const meta = await page.locator('.recent-call .call-meta').first().textContent();
            if (meta !== 'Trattoria · Missed · 1 min 30 s')
                return `the newest call says "${meta}"`;
            await shot('home-charts');
        });
        await step(`${vp.name}: Home with charts has no serious accessibility violation`,
                   () => a11y(page));
        await step(`${vp.name}: a recent call links to its page`, async () => {
            await page.locator('.recent-call a').first().click();
            await page.waitForURL(`${base}/app/calls/${recorded.at(-1).id}`);
        });
    } else {
        await step(`${vp.name}: a call today shows on Home's chart, which fits 390 px`, async () => {
            trattoria = await apiAs('POST', '/v1/businesses',
                                    { name: 'Trattoria', phone_number: '+390612345678',
                                      timezone: ZONE });
            recorded.push(await call(trattoria, noonAgo(2)));
            await homeUntil({ [romeDay(recorded[0].started_at)]: 1 });
            await page.locator('.recent-call').first().waitFor();
            await shot('home-charts');
            return fits();
        });
    }

    await step(`${vp.name}: Analytics on free: an upgrade prompt, not an error`, async () => {
        allow(/\b403 \/v1\/analytics\/overview\b/, /status of 403/);
        await nav('Analytics');
        await page.waitForURL(`${base}/app/analytics`);
        const prompt = page.locator('.upgrade-prompt');
        await prompt.waitFor();
        const heading = await prompt.getByRole('heading').textContent();
        if (heading !== 'Analytics is not in your plan')
            return `the prompt says "${heading}"`;
        const href = await prompt.getByRole('link', { name: 'Upgrade your plan' })
                                 .getAttribute('href');
        if (href !== '/app/billing')
            return `the upgrade link goes to ${href}`;
        if (await page.locator('main .form-error').count())
            return 'an error is shown as well';
        await shot('analytics-upgrade');
        if (vp.name === 'phone')
            return fits();
        return a11y(page);
    });

    await step(`${vp.name}: on starter (the operator's PUT): the figures of what was recorded`,
               async () => {
        await apiAs('GET', '/v1/me');
        const response = await fetch(`${base}/v1/sys/subscriptions/${orgId}`, {
            method: 'PUT', body: JSON.stringify({ plan: 'starter' }),
            headers: { 'Content-Type': 'application/json',
                       Authorization: `Bearer ${process.env.SWITCHBOARD_OPERATOR_TOKEN}` } });
        if (!response.ok)
            return `PUT /v1/sys/subscriptions: ${response.status} ${await response.text()}`;
        // The new entitlement reaches tenant-svc with subscription.changed:
        // the page is asked again until the figures come.
        for (let tries = 0; tries < 30; tries++) {
            await nav('Analytics');
            await page.locator('main .loading').waitFor({ state: 'detached' });
            await page.locator('.upgrade-prompt, .figures').first().waitFor();
            if (await page.locator('.figures').count())
                break;
            await page.waitForTimeout(500);
        }
        allow();
        await page.locator('.figures').waitFor();
        const inRange = recorded.filter((c) => Date.parse(c.started_at) > Date.now() - 29 * DAY_MS);
        const want = vp.name === 'desktop'
            ? { calls: '7', minutes: '14', average: '1 min 30 s', orders: '2', conversion: '28.6 %' }
            : { calls: '1', minutes: '2', average: '1 min 30 s', orders: '0', conversion: '0.0 %' };
        for (const [key, value] of Object.entries(want)) {
            const shown = await figure(key);
            if (shown !== value)
                return `${key} shows "${shown}", not "${value}"`;
        }
        const revenue = await figure('revenue');
        if (vp.name === 'desktop' && !/36\.00/.test(revenue))
            return `revenue shows "${revenue}"`;
        const days = nonZero(await table('Calls per day'));
        const wantDays = {};
        for (const c of inRange)
            wantDays[romeDay(c.started_at)] = (wantDays[romeDay(c.started_at)] || 0) + 1;
        if (!same(days, wantDays))
            return `calls per day ${JSON.stringify(days)}, not ${JSON.stringify(wantDays)}`;
        if (vp.name === 'desktop') {
            const statuses = await page.locator('[data-breakdown="calls"] [data-status]')
                .evaluateAll((nodes) => nodes.map((n) => `${n.dataset.status}=${n.querySelector('dd').textContent}`));
            if (statuses.join(',') !== 'completed=6,missed=1,voicemail=0,transferred=0')
                return `calls by status: ${statuses.join(',')}`;
            const orders = await page.locator('[data-breakdown="orders"] [data-status="pending"] dd')
                                     .textContent();
            if (orders !== '2')
                return `pending orders: ${orders}`;
            // The hours of the calls in Rome (noon UTC is 13:00 in winter,
            // 14:00 in summer): fewer than 5, so all of them are listed.
            const wantHours = {};
            for (const c of inRange) {
                const hour = String(Number(new Intl.DateTimeFormat('en-GB', {
                    timeZone: ZONE, hour: '2-digit', hourCycle: 'h23' })
                    .format(new Date(c.started_at))));
                wantHours[hour] = (wantHours[hour] || 0) + 1;
            }
            const hours = await table('Busiest hours');
            if (!same(hours, wantHours))
                return `busiest hours: ${JSON.stringify(hours)}, not ${JSON.stringify(wantHours)}`;
        }
        await shot('analytics');
        if (vp.name === 'phone')
            return fits();
    });

    if (vp.name === 'desktop') {
        await step(`${vp.name}: Analytics has no serious accessibility violation`,
                   () => a11y(page));

        const showRange = async (choose) => {
            const form = page.getByRole('form', { name: 'Date range and business' });
            await choose(form);
            await form.getByRole('button', { name: 'Show' }).click();
        };
        await step(`${vp.name}: the last 7 days, then 90 days, then one custom day`, async () => {
            await showRange((form) => form.getByLabel('Date range').selectOption('7'));
            await page.waitForURL(`${base}/app/analytics?days=7`);
            await page.locator('.figures').waitFor();
            let calls = await figure('calls');
            if (calls !== '6')
                return `7 days: ${calls} calls, not 6`;
            if (Object.keys(await table('Calls per day')).length !== 7)
                return '7 days: not 7 rows in the table';
            await showRange((form) => form.getByLabel('Date range').selectOption('90'));
            await page.waitForURL(`${base}/app/analytics?days=90`);
            await page.locator('.figures').waitFor();
            calls = await figure('calls');
            if (calls !== '8')
                return `90 days: ${calls} calls, not 8`;
            await shot('analytics-90-days');
            const day = romeDay(recorded[0].started_at);
            await showRange(async (form) => {
                await form.getByLabel('Date range').selectOption('custom');
                await form.getByLabel('From').fill(day);
                await form.getByLabel('To').fill(day);
            });
            await page.waitForURL(`${base}/app/analytics?from=${day}&to=${day}`);
            await page.locator('.figures').waitFor();
            calls = await figure('calls');
            if (calls !== '1')
                return `${day} alone: ${calls} calls, not 1`;
            const rows = await table('Calls per day');
            if (!same(rows, { [day]: 1 }))
                return `${day} alone: the table is ${JSON.stringify(rows)}`;
            await shot('analytics-custom');
            // A year (365 days, today included): 365 rows, every call.
            const year = romeDay(new Date(Date.now() - 364 * DAY_MS).toISOString());
            const today = romeDay(new Date().toISOString());
            await showRange(async (form) => {
                await form.getByLabel('From').fill(year);
                await form.getByLabel('To').fill(today);
            });
            await page.waitForURL(`${base}/app/analytics?from=${year}&to=${today}`);
            await page.locator('.figures').waitFor();
            calls = await figure('calls');
            const days = Object.keys(await table('Calls per day')).length;
            if (calls !== '8' || days !== 365)
                return `a year: ${calls} calls, ${days} days, not 8 and 365`;
            await shot('analytics-year');
        });

        await step(`${vp.name}: custom dates in the wrong order are refused in words`, async () => {
            const url = page.url();
            const form = page.getByRole('form', { name: 'Date range and business' });
            await form.getByLabel('From').fill('2026-06-10');
            await form.getByLabel('To').fill('2026-06-01');
            await form.getByLabel('To').press('Enter');
            const error = form.locator('.field-error');
            await error.waitFor();
            const text = await error.textContent();
            if (text !== 'The first day must not be after the last.')
                return `the message is "${text}"`;
            const focused = await page.evaluate(() => document.activeElement.id);
            if (focused !== 'an-from')
                return `focus is on "${focused}"`;
            if (page.url() !== url)
                return `the page went to ${page.url()}`;
            await shot('analytics-range-error');
        });

        await step(`${vp.name}: the business filter counts one business's calls`, async () => {
            const deli = await apiAs('POST', '/v1/businesses',
                                     { name: 'Deli', phone_number: '+390612345679',
                                       timezone: ZONE });
            await call(deli, new Date(Date.now() - 120000).toISOString());
            await call(deli, new Date(Date.now() - 180000).toISOString(), 'voicemail');
            await nav('Home');
            await nav('Analytics');
            await page.waitForURL(`${base}/app/analytics`);
            await page.locator('.figures').waitFor();
            let calls = await figure('calls');
            if (calls !== '9')
                return `all businesses: ${calls} calls, not 9`;
            await showRange((form) => form.getByLabel('Business').selectOption({ label: 'Deli' }));
            await page.waitForURL(`${base}/app/analytics?days=30&business=${deli.id}`);
            await page.locator('.figures').waitFor();
            calls = await figure('calls');
            if (calls !== '2')
                return `Deli: ${calls} calls, not 2`;
            const voicemail = await page.locator('[data-breakdown="calls"] [data-status="voicemail"] dd')
                                        .textContent();
            if (voicemail !== '1')
                return `Deli's voicemails: ${voicemail}`;
            const scope = await page.locator('#an-scope').textContent();
            if (!scope.startsWith('Deli ·'))
                return `the scope line says "${scope}"`;
            await shot('analytics-business');
            await page.goBack();
            await page.waitForURL(`${base}/app/analytics`);
            await page.locator('.figures').waitFor();
            calls = await figure('calls');
            if (calls !== '9')
                return `Back: ${calls} calls, not 9`;
        });
    }

    await noProblems(vp, problems);
    await context.close();
}
await browser.close();
