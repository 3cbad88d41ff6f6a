#!/usr/bin/env node
// tools/dashboard-screenshots.mjs BASE OUT OPERATOR_TOKEN — the README's
// pictures of the dashboard: against a running suite at BASE, signs up an
// organization, puts it on the pro plan (the operator route), creates two
// businesses (one open past midnight) and records a month of calls and
// orders through the public API, then has Debian's headless Chromium take
// Home and Businesses at desktop (1280 px) and phone (390 px) widths:
// OUT/dashboard-{home,businesses}-{desktop,phone}.png. Run by
// tools/dashboard-screenshots.sh (make dashboard-screenshots).
// The figures are drawn from a fixed seed, so pictures change only when
// the pages do.

import { join } from 'node:path';
import { json as apiJson, launch, openPage, viewports } from '../tests/lib/e2e/lib.mjs';

const [base, out, operator] = process.argv.slice(2);
if (!base || !out || !operator) {
    console.error('usage: dashboard-screenshots.mjs BASE OUT OPERATOR_TOKEN');
    process.exit(2);
}
const json = (method, path, body, token) => apiJson(base, method, path, body, token);

let seed = 20261203;
const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
};

const email = `luigi-${Date.now()}@example.com`;
const password = 'correct horse battery';
const signup = await json('POST', '/v1/auth/signup', {
    email, password, name: 'Luigi Rossi', organization_name: "Luigi's Trattoria" });
const token = signup.access_token;
await json('PUT', `/v1/sys/subscriptions/${signup.organization.id}`, { plan: 'pro' }, operator);

const centro = await json('POST', '/v1/businesses', {
    name: 'Trattoria Luigi — Centro', phone_number: '+390212345678', timezone: 'Europe/Rome',
    greeting: 'Buongiorno, Trattoria Luigi!',
    hours: { tue: [{ open: '12:00', close: '15:00' }, { open: '19:00', close: '23:00' }],
             wed: [{ open: '12:00', close: '15:00' }, { open: '19:00', close: '23:00' }],
             thu: [{ open: '12:00', close: '15:00' }, { open: '19:00', close: '23:00' }],
             fri: [{ open: '12:00', close: '15:00' }, { open: '19:00', close: '23:30' }],
             sat: [{ open: '19:00', close: '23:30' }], sun: [{ open: '12:00', close: '16:00' }] }
}, token);
const bar = await json('POST', '/v1/businesses', {
    name: 'Luigi Bar', phone_number: '+390298765432', timezone: 'Europe/Rome',
    hours: { fri: [{ open: '18:00', close: '02:00' }],
             sat: [{ open: '11:30', close: '14:00' }, { open: '18:00', close: '02:00' }] }
}, token);

const statuses = ['completed', 'completed', 'completed', 'completed', 'missed', 'voicemail',
                  'transferred'];
const callers = ['+393331234567', '+393339876543', '+393471112223', '+393285556667'];
const dishes = [['Margherita', 900], ['Carbonara', 1300], ['Tiramisù', 600], ['Negroni', 850]];
const now = Date.now();
for (let daysAgo = 29; daysAgo >= 0; daysAgo--) {
    const count = 1 + Math.floor(random() * (daysAgo % 7 === 5 || daysAgo % 7 === 6 ? 9 : 5));
    for (let i = 0; i < count; i++) {
        const business = random() < 0.7 ? centro : bar;
        const started = new Date(now - daysAgo * 86400000 - Math.floor(random() * 10) * 3600000
                                 - Math.floor(random() * 3600) * 1000);
        if (started.getTime() > now)
            continue;
        const status = statuses[Math.floor(random() * statuses.length)];
        const call = await json('POST', '/v1/calls', {
            business_id: business.id, caller_number: callers[Math.floor(random() * callers.length)],
            started_at: started.toISOString(), status,
            duration_seconds: status === 'missed' ? 0 : 40 + Math.floor(random() * 300),
            summary: status === 'completed' ? 'Table for four at 20:30, by the window.' : undefined
        }, token);
        if (status === 'completed' && random() < 0.5) {
            const [name, price] = dishes[Math.floor(random() * dishes.length)];
            await json('POST', '/v1/orders', {
                business_id: business.id, call_id: call.id, customer_name: 'Giulia',
                customer_phone: call.caller_number, currency: 'EUR',
                items: [{ name, quantity: 1 + Math.floor(random() * 3), unit_price_cents: price }]
            }, token);
        }
    }
}

const browser = await launch('dashboard-screenshots.mjs');
for (const vp of viewports) {
    const { context, page } = await openPage(browser, vp, out);
    await page.goto(`${base}/`);
    const form = page.getByRole('form', { name: 'Log in' });
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill(password);
    await form.getByLabel('Password').press('Enter');
    await page.waitForURL(`${base}/app/`);
    await page.locator('.usage-list').waitFor();
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(out, `dashboard-home-${vp.name}.png`), fullPage: true });
    await page.getByRole('navigation', { name: 'Main' })
              .getByRole('link', { name: 'Businesses' }).click();
    await page.locator('.business-name').first().waitFor();
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(out, `dashboard-businesses-${vp.name}.png`),
                            fullPage: true });
    await context.close();
}
await browser.close();
console.log(`dashboard-screenshots: ${out}/dashboard-{home,businesses}-{desktop,phone}.png`);
