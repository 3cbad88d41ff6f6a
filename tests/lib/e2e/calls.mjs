#!/usr/bin/env node
// tests/lib/e2e/calls.mjs BASE OUT — the dashboard's Calls and Orders
// pages (gateway/www/page-calls.js, page-orders.js) in Debian's headless
// Chromium (playwright-core) against a running suite at BASE. Used by
// tests/t0053-dashboard-calls.sh; the step/output protocol of lib.mjs.
//
// Desktop: sign up in the page; through the API two businesses (Europe/Rome
// and America/Los_Angeles), four calls on day D (UTC; the one at 23:30Z is
// already D+1 in Rome) and three orders. Calls: the empty state first,
// then each row's time in its business's zone (the oracle: the test's own
// Intl.DateTimeFormat in the browser, not the page's code), names,
// durations, statuses; filter by business (URL query, Back), by status,
// by dates in the business's zone (Rome D+1 holds only the 23:30Z call;
// all businesses, UTC day D, holds all four), nothing matching; a deep link
// with a query reached by the app's own navigation; the detail with the
// summary and the transcript as text (markup shown, not parsed) and the
// link back keeping the filters; a missing call → "no longer exists"; "Load
// more" past 20 calls. Orders: the list (totals in currency), the detail
// (items, total, the call's link), confirm then fulfil through the
// buttons (the API reads each back), cancel through the dialog, final
// orders without buttons, a 409 (status changed through the API behind
// the page's back) explained and the order re-read. Phone: both lists and
// both details fit 390 px. Screenshots into OUT; no console error, CSP
// violation or failed request beyond those provoked (404, 409). Also: a
// reversed date range and query values that make no sense are said (and
// not sent); Orders filtered by status.

import { a11y, args, step, json as apiJson, launch, noProblems, openPage, viewports } from './lib.mjs';

const { base, out } = args('calls.mjs');
const json = (method, path, body, token) => apiJson(base, method, path, body, token);
const stamp = `${Date.now()}-${process.pid}`;
const password = 'correct horse battery';

// Day D: ten days ago (UTC), so every call is in the past.
const dayD = new Date(Date.now() - 10 * 86400000).toISOString().slice(0, 10);
const dayAfter = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86400000)
    .toISOString().slice(0, 10);
const at = (date, hm) => `${date}T${hm}:00Z`;
const TRANSCRIPT = 'Receptionist: Trattoria Roma, buongiorno!\n' +
                   'Caller: A table for <b>four</b> tonight & some wine.\n' +
                   '  Receptionist: Done, see you at eight.';
const SUMMARY = 'Booked a table for 4 at 20:00.\nAsked about wine.';

const browser = await launch('calls.mjs');

for (const vp of viewports) {
    const { context, page, problems, allow, shot, fits } = await openPage(browser, vp, out);
    const email = `calls-${vp.name}-${stamp}@example.com`;
    let token = null;
    const apiAs = async (method, path, body) => {
        if (!token)
            token = (await json('POST', '/v1/auth/login', { email, password })).access_token;
        return json(method, path, body, token);
    };
    // The app's own navigation to path (as a data-link click or Back does):
    // a page load would end the session, which lives in memory.
    // A drawn page is marked stale before an action that draws another;
    // settled() waits for the new one to finish loading.
    const stale = () => page.evaluate(() => {
        const main = document.getElementById('main');
        if (main)
            main.dataset.stale = 'yes';
    });
    const settled = () => page.waitForFunction(() => {
        const main = document.getElementById('main');
        return main && !main.dataset.stale && !main.querySelector('.loading');
    });
    const go = async (path) => {
        await stale();
        await page.evaluate((p) => {
            history.pushState(null, '', p);
            dispatchEvent(new PopStateEvent('popstate'));
        }, path);
        await page.waitForURL(`${base}${path}`);
        await settled();
    };
    const rowsText = (selector) => page.locator(`table.records tbody tr ${selector}`).allTextContents();
    const oracle = (iso, timeZone) => page.evaluate(([i, z]) =>
        new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric',
                                             hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
                                             timeZone: z, timeZoneName: 'short' })
            .format(new Date(i)), [iso, timeZone]);
    const ids = {};

    await step(`${vp.name}: sign up in the page; Calls from the nav: the empty state`, async () => {
        await page.goto(`${base}/`);
        const form = page.getByRole('form', { name: 'Create your account' });
        await form.getByLabel('Your name').fill('Giulia');
        await form.getByLabel('Business name').fill(`Gruppo ${vp.name}`);
        await form.getByLabel('Email').fill(email);
        await form.getByLabel('Password').fill(password);
        await form.getByLabel('Password').press('Enter');
        await page.waitForURL(`${base}/app/`);
        await page.getByRole('navigation', { name: 'Main' })
                  .getByRole('link', { name: 'Calls' }).click();
        await page.waitForURL(`${base}/app/calls`);
        await page.getByText('No calls yet — calls your receptionist takes appear here.').waitFor();
        await shot('calls-empty');
    });

    await step(`${vp.name}: two businesses, calls and orders through the API`, async () => {
        const rome = await apiAs('POST', '/v1/businesses', { name: 'Trattoria Roma',
            phone_number: '+390612345678', timezone: 'Europe/Rome' });
        const la = await apiAs('POST', '/v1/businesses', { name: 'Taqueria LA',
            phone_number: '+12135550100', timezone: 'America/Los_Angeles' });
        ids.rome = rome.id;
        ids.la = la.id;
        const call = (business, started, seconds, status, extra = {}) => apiAs('POST', '/v1/calls',
            { business_id: business, caller_number: '+393331234567', started_at: started,
              duration_seconds: seconds, status, ...extra });
        ids.c1 = (await call(rome.id, at(dayD, '21:30'), 125, 'completed',
                             { transcript: TRANSCRIPT, summary: SUMMARY })).id;
        ids.c2 = (await call(rome.id, at(dayD, '23:30'), 0, 'missed')).id;
        ids.c3 = (await call(la.id, at(dayD, '21:30'), 61, 'voicemail')).id;
        ids.c4 = (await call(la.id, at(dayD, '23:30'), 3599, 'transferred')).id;
        const order = (business, name, items, currency, callId) => apiAs('POST', '/v1/orders',
            { business_id: business, call_id: callId, customer_name: name,
              customer_phone: '+393331234567', items, currency });
        ids.o1 = (await order(rome.id, 'Marco Rossi',
                              [{ name: 'Margherita', quantity: 2, unit_price_cents: 850 },
                               { name: 'Birra', quantity: 1, unit_price_cents: 500 }],
                              'EUR', ids.c1)).id;
        ids.o2 = (await order(rome.id, 'Anna Bianchi',
                              [{ name: 'Tiramisù', quantity: 1, unit_price_cents: 600 }], 'EUR')).id;
        ids.o3 = (await order(la.id, 'Sam Lee',
                              [{ name: 'Tacos al pastor', quantity: 3, unit_price_cents: 399 }],
                              'USD', ids.c3)).id;
    });

    await step(`${vp.name}: Calls lists the four with times in each business's zone`, async () => {
        await page.getByRole('navigation', { name: 'Main' })
                  .getByRole('link', { name: 'Calls' }).click();
        await page.locator('table.records tbody tr').nth(3).waitFor();
        const times = await rowsText('.when');
        const want = [await oracle(at(dayD, '23:30'), 'Europe/Rome'),
                      await oracle(at(dayD, '23:30'), 'America/Los_Angeles'),
                      await oracle(at(dayD, '21:30'), 'Europe/Rome'),
                      await oracle(at(dayD, '21:30'), 'America/Los_Angeles')];
        // Same instant, same order in the list (newest first; ties by id):
        // compare as sets per instant.
        const norm = (list) => list.map((t) => t.replace(/\s/gu, ' ')).sort().join(' | ');
        if (norm(times) !== norm(want))
            return `times ${times.join(' | ')}; want ${want.join(' | ')}`;
        const rows = await page.locator('table.records tbody tr').evaluateAll((trs) =>
            trs.map((tr) => [...tr.children].map((cell) => cell.textContent).join(';')));
        const byId = await page.locator('table.records tbody tr').evaluateAll((trs) =>
            trs.map((tr) => tr.dataset.id));
        const expect = {
            [ids.c1]: `${await oracle(at(dayD, '21:30'), 'Europe/Rome')};Trattoria Roma;+393331234567;2:05;completed`,
            [ids.c2]: `${await oracle(at(dayD, '23:30'), 'Europe/Rome')};Trattoria Roma;+393331234567;0:00;missed`,
            [ids.c3]: `${await oracle(at(dayD, '21:30'), 'America/Los_Angeles')};Taqueria LA;+393331234567;1:01;voicemail`,
            [ids.c4]: `${await oracle(at(dayD, '23:30'), 'America/Los_Angeles')};Taqueria LA;+393331234567;59:59;transferred`
        };
        for (let i = 0; i < byId.length; i++)
            if (rows[i] !== expect[byId[i]])
                return `row ${i} is "${rows[i]}", want "${expect[byId[i]]}"`;
        if (!/\b(CET|CEST|GMT\+[12])\b/.test(expect[ids.c1]) || !/\b(PST|PDT|GMT-[78])\b/.test(expect[ids.c3]))
            return `the zones are not named: ${expect[ids.c1]} / ${expect[ids.c3]}`;
        const hint = await page.locator('form.filters .hint').textContent();
        if (!/UTC/.test(hint))
            return `the date hint says "${hint}"`;
        await shot('calls-list');
    });
    if (vp.name === 'phone')
        await step(`${vp.name}: the Calls list fits 390 px`, fits);
    else
        await step(`${vp.name}: the Calls list has no serious accessibility violation`, () => a11y(page));

    if (vp.name === 'desktop') {
        const filters = page.getByRole('form', { name: 'Filter calls' });
        await step(`${vp.name}: filter by business: the query in the URL, Back undoes it`, async () => {
            await filters.getByLabel('Business').selectOption({ label: 'Trattoria Roma' });
            const hint = await filters.locator('.hint').textContent();
            if (!/Europe\/Rome/.test(hint))
                return `after choosing Rome the hint says "${hint}"`;
            await stale();
            await filters.getByRole('button', { name: 'Apply filters' }).click();
            await page.waitForURL(`${base}/app/calls?business_id=${ids.rome}`);
            await settled();
            const names = await rowsText('td:nth-child(2)');
            if (names.join(',') !== 'Trattoria Roma,Trattoria Roma')
                return `rows of ${names.join(',')}`;
            await shot('calls-filtered');
            await page.goBack();
            await page.waitForURL(`${base}/app/calls`);
            await page.locator('table.records tbody tr').nth(3).waitFor();
            const all = await page.locator('table.records tbody tr').count();
            if (all !== 4)
                return `after Back: ${all} rows`;
        });

        await step(`${vp.name}: filter by status`, async () => {
            await filters.getByLabel('Status').selectOption('missed');
            await stale();
            await filters.getByRole('button', { name: 'Apply filters' }).click();
            await page.waitForURL(`${base}/app/calls?status=missed`);
            await settled();
            const got = await page.locator('table.records tbody tr').evaluateAll((trs) =>
                trs.map((tr) => tr.dataset.id));
            if (got.join(',') !== ids.c2)
                return `rows ${got.join(',')}, want only ${ids.c2}`;
        });

        await step(`${vp.name}: dates are whole days in the business's zone (Rome) or UTC`, async () => {
            const next = dayAfter(dayD, 1);
            await go(`/app/calls?business_id=${ids.rome}&from=${next}&to=${next}`);
            let got = await page.locator('table.records tbody tr').evaluateAll((trs) =>
                trs.map((tr) => tr.dataset.id));
            if (got.join(',') !== ids.c2)
                return `Rome on ${next}: ${got.join(',')}, want only the 23:30Z call`;
            const form = page.getByRole('form', { name: 'Filter calls' });
            if (await form.getByLabel('From (first day)').inputValue() !== next)
                return 'the form does not show the dates of the URL';
            await go(`/app/calls?business_id=${ids.rome}&from=${dayD}&to=${dayD}`);
            got = await page.locator('table.records tbody tr').evaluateAll((trs) =>
                trs.map((tr) => tr.dataset.id));
            if (got.join(',') !== ids.c1)
                return `Rome on ${dayD}: ${got.join(',')}, want only the 21:30Z call`;
            // Through the form: all businesses, day D in UTC: all four.
            await form.getByLabel('Business').selectOption('');
            await form.getByLabel('From (first day)').fill(dayD);
            await form.getByLabel('To (last day)').fill(dayD);
            await stale();
            await form.getByRole('button', { name: 'Apply filters' }).click();
            await page.waitForURL(`${base}/app/calls?from=${dayD}&to=${dayD}`);
            await settled();
            const count = await page.locator('table.records tbody tr').count();
            if (count !== 4)
                return `all businesses on ${dayD} (UTC): ${count} rows`;
            await shot('calls-dates');
        });

        await step(`${vp.name}: filters matching nothing say so`, async () => {
            await go(`/app/calls?business_id=${ids.rome}&status=transferred`);
            const text = await page.locator('main .empty').textContent();
            if (!text.startsWith('No calls match these filters.'))
                return `the page says "${text}"`;
            await shot('calls-no-match');
        });

        await step(`${vp.name}: a query that makes no sense is said, not sent`, async () => {
            await go(`/app/calls?from=${dayAfter(dayD, 1)}&to=${dayD}`);
            const alert = await page.locator('main p.range-error[role="alert"]').textContent();
            if (!/first day comes after the last day/.test(alert))
                return `a reversed range says "${alert}"`;
            await go('/app/calls?business_id=00000000-0000-4000-8000-000000000000&status=lost');
            const note = await page.locator('main p.notice').textContent();
            if (note !== 'Left out of the filters: a business that no longer exists, the status "lost".')
                return `the notice says "${note}"`;
            if (await page.locator('table.records tbody tr').count() !== 4)
                return 'the list is not the unfiltered one';
        });

        await step(`${vp.name}: the detail: summary and transcript as text, back keeps the filters`, async () => {
            const query = `?business_id=${ids.rome}&status=completed`;
            await go(`/app/calls${query}`);
            await page.locator(`tr[data-id="${ids.c1}"] a.when`).click();
            await page.waitForURL(`${base}/app/calls/${ids.c1}${query}`);
            await page.locator('.transcript').waitFor();
            const transcript = await page.locator('.transcript').evaluate((node) => node.innerText);
            if (transcript !== TRANSCRIPT)
                return `the transcript reads ${JSON.stringify(transcript)}`;
            if (await page.locator('.transcript b').count())
                return 'the transcript was parsed as HTML';
            const summary = await page.locator('.summary-text').evaluate((node) => node.innerText);
            if (summary !== SUMMARY)
                return `the summary reads ${JSON.stringify(summary)}`;
            const facts = await page.locator('.rec-facts').textContent();
            for (const want of ['Trattoria Roma', '+393331234567', '2:05 (125 s)', ids.c1,
                                await oracle(at(dayD, '21:30'), 'Europe/Rome')])
                if (!facts.includes(want))
                    return `the details lack "${want}": ${facts}`;
            await shot('call-detail');
            const why = await a11y(page);
            if (why)
                return `the detail's accessibility: ${why}`;
            await page.getByRole('link', { name: '← All calls' }).click();
            await page.waitForURL(`${base}/app/calls${query}`);
            await page.locator(`tr[data-id="${ids.c1}"]`).waitFor();
        });

        await step(`${vp.name}: a call that does not exist: "no longer exists"`, async () => {
            allow(/\b404\b/);
            await go('/app/calls/00000000-0000-4000-8000-000000000000');
            await page.getByText('This call no longer exists.').waitFor();
            await shot('call-missing');
            allow();
        });

        await step(`${vp.name}: past 20 calls, "Load more calls" follows the cursor`, async () => {
            for (let i = 0; i < 18; i++)
                await apiAs('POST', '/v1/calls', { business_id: ids.la, caller_number: 'anonymous',
                    started_at: at(dayAfter(dayD, -1), `10:${String(i).padStart(2, '0')}`),
                    duration_seconds: 30, status: 'completed' });
            await go('/app/calls');
            const rows = page.locator('table.records tbody tr');
            if (await rows.count() !== 20)
                return `${await rows.count()} rows on the first page`;
            await page.getByRole('button', { name: 'Load more calls' }).click();
            await rows.nth(21).waitFor();
            const ids2 = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
            if (ids2.length !== 22 || new Set(ids2).size !== 22)
                return `${ids2.length} rows, ${new Set(ids2).size} distinct`;
            if (await page.getByRole('button', { name: 'Load more calls' }).isVisible())
                return '"Load more" still offered at the end';
            const count = await page.locator('main .rec-count').textContent();
            if (count !== '22 calls shown.')
                return `the count says "${count}"`;
        });
    }

    // ---- orders ----------------------------------------------------------------
    const money = (cents, currency) => page.evaluate(([c, cur]) =>
        new Intl.NumberFormat(undefined, { style: 'currency', currency: cur }).format(c / 100),
                                                     [cents, currency]);
    const orderStatus = async (id) => (await apiAs('GET', `/v1/orders/${id}`)).status;

    await step(`${vp.name}: Orders lists the three: customer, items, total, status`, async () => {
        await page.getByRole('navigation', { name: 'Main' })
                  .getByRole('link', { name: 'Orders' }).click();
        await page.waitForURL(`${base}/app/orders`);
        await page.locator('table.records tbody tr').nth(2).waitFor();
        const row = async (id) => page.locator(`tr[data-id="${id}"]`).evaluate((tr) =>
            [...tr.children].slice(1).map((cell) => cell.textContent).join(';'));
        const want = {
            [ids.o1]: `Trattoria Roma;Marco Rossi;3 items;${await money(2200, 'EUR')};pending`,
            [ids.o2]: `Trattoria Roma;Anna Bianchi;1 item;${await money(600, 'EUR')};pending`,
            [ids.o3]: `Taqueria LA;Sam Lee;3 items;${await money(1197, 'USD')};pending`
        };
        for (const [id, text] of Object.entries(want))
            if (await row(id) !== text)
                return `row "${await row(id)}", want "${text}"`;
        const o1 = await apiAs('GET', `/v1/orders/${ids.o1}`);
        const time = await page.locator(`tr[data-id="${ids.o1}"] .when`).textContent();
        if (time !== await oracle(o1.created_at, 'Europe/Rome'))
            return `placed "${time}", want it in Rome's zone`;
        await shot('orders-list');
    });
    if (vp.name === 'phone')
        await step(`${vp.name}: the Orders list fits 390 px`, fits);
    else
        await step(`${vp.name}: the Orders list has no serious accessibility violation`, () => a11y(page));

    await step(`${vp.name}: an order's detail: items, total, its call, only allowed moves`, async () => {
        await page.locator(`tr[data-id="${ids.o1}"] a.when`).click();
        await page.waitForURL(`${base}/app/orders/${ids.o1}`);
        await page.locator('.items-table').waitFor();
        const items = await page.locator('.items-table tbody tr').evaluateAll((trs) =>
            trs.map((tr) => [...tr.children].map((cell) => cell.textContent).join(';')));
        const want = [`Margherita;2;${await money(850, 'EUR')};${await money(1700, 'EUR')}`,
                      `Birra;1;${await money(500, 'EUR')};${await money(500, 'EUR')}`];
        if (items.join('|') !== want.join('|'))
            return `items ${items.join('|')}`;
        if (await page.locator('.order-total').textContent() !== await money(2200, 'EUR'))
            return 'the total is wrong';
        const href = await page.getByRole('link', { name: 'Open the call' }).getAttribute('href');
        if (href !== `/app/calls/${ids.c1}`)
            return `the call's link goes to ${href}`;
        const buttons = await page.locator('.status-actions button').allTextContents();
        if (buttons.join(',') !== 'Confirm order,Cancel order')
            return `pending offers ${buttons.join(',')}`;
        await shot('order-pending');
        if (vp.name === 'phone') {
            const why = await fits();
            if (why)
                return `the detail: ${why}`;
        } else {
            const why = await a11y(page);
            if (why)
                return `the detail's accessibility: ${why}`;
        }
    });

    await step(`${vp.name}: confirm, then fulfil through the buttons (the API agrees)`, async () => {
        await page.getByRole('button', { name: 'Confirm order' }).click();
        await page.getByText('The order is now confirmed.').waitFor();
        if (await orderStatus(ids.o1) !== 'confirmed')
            return `the API says ${await orderStatus(ids.o1)}`;
        const buttons = await page.locator('.status-actions button').allTextContents();
        if (buttons.join(',') !== 'Mark as fulfilled,Cancel order')
            return `confirmed offers ${buttons.join(',')}`;
        await page.getByRole('button', { name: 'Mark as fulfilled' }).click();
        await page.getByText('The order is now fulfilled.').waitFor();
        if (await orderStatus(ids.o1) !== 'fulfilled')
            return `the API says ${await orderStatus(ids.o1)}`;
        if (await page.locator('.status-actions button').count())
            return 'a fulfilled order still offers buttons';
        const final = await page.locator('.order-final').textContent();
        if (!/fulfilled: that is final/.test(final))
            return `it says "${final}"`;
        await shot('order-fulfilled');
    });

    await step(`${vp.name}: cancel through the confirmation dialog: final, no buttons`, async () => {
        await go(`/app/orders/${ids.o2}`);
        await page.getByRole('button', { name: 'Cancel order' }).click();
        const dialog = page.getByRole('dialog', { name: 'Cancel this order?' });
        await dialog.waitFor();
        await shot('order-cancel-confirm');
        await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
        if (await orderStatus(ids.o2) !== 'pending')
            return 'the dialog\'s Cancel cancelled the order';
        await page.getByRole('button', { name: 'Cancel order' }).click();
        await dialog.getByRole('button', { name: 'Yes, cancel the order' }).click();
        await page.getByText('The order is now cancelled.').waitFor();
        if (await orderStatus(ids.o2) !== 'cancelled')
            return `the API says ${await orderStatus(ids.o2)}`;
        if (await page.locator('.status-actions button').count())
            return 'a cancelled order still offers buttons';
        if (!/cancelled: that is final/.test(await page.locator('.order-final').textContent()))
            return 'it does not say the status is final';
    });

    await step(`${vp.name}: a change behind the page's back: the 409 in words, re-read`, async () => {
        allow(/\b409\b/);
        await go(`/app/orders/${ids.o3}`);
        await page.getByRole('button', { name: 'Confirm order' }).waitFor();
        await apiAs('PATCH', `/v1/orders/${ids.o3}`, { status: 'cancelled' });
        await page.getByRole('button', { name: 'Confirm order' }).click();
        const alert = page.locator('main p.conflict');
        await alert.waitFor({ timeout: 5000 }).catch(async () => {
            throw new Error(`no explanation; the page says: ${await page.locator('main').innerText()}`);
        });
        const text = await alert.textContent();
        if (!/could not be confirmed: it was changed meanwhile.*is now cancelled/.test(text))
            return `the page says "${text}"`;
        const badge = await page.locator('.rec-facts .rec-badge').textContent();
        if (badge !== 'cancelled')
            return `the order shown is ${badge}, not re-read`;
        if (await page.locator('.status-actions button').count())
            return 'the re-read cancelled order still offers buttons';
        await shot('order-conflict');
        if (vp.name === 'phone') {
            const why = await fits();
            if (why)
                return `the detail: ${why}`;
        }
        allow();
    });

    if (vp.name === 'desktop')
        await step(`${vp.name}: Orders filtered by status (the same list as Calls)`, async () => {
            await go('/app/orders?status=cancelled');
            const got = await page.locator('table.records tbody tr').evaluateAll((trs) =>
                trs.map((tr) => tr.dataset.id).sort());
            if (got.join(',') !== [ids.o2, ids.o3].sort().join(','))
                return `cancelled orders: ${got.join(',')}`;
            const form = page.getByRole('form', { name: 'Filter orders' });
            if (await form.getByLabel('Status').inputValue() !== 'cancelled')
                return 'the form does not show the status of the URL';
        });

    if (vp.name === 'phone')
        await step(`${vp.name}: a call's detail fits 390 px`, async () => {
            await page.getByRole('navigation', { name: 'Main' })
                      .getByRole('link', { name: 'Calls' }).click();
            await page.locator(`tr[data-id="${ids.c1}"] a.when`).click();
            await page.locator('.transcript').waitFor();
            await shot('call-detail');
            return fits();
        });

    await noProblems(vp, problems);
    await context.close();
}
await browser.close();
