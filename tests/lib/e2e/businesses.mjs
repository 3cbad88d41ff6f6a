#!/usr/bin/env node
// tests/lib/e2e/businesses.mjs BASE OUT — the dashboard's Businesses page
// (gateway/www/page-businesses.js) in Debian's headless Chromium
// (playwright-core), against a running suite at BASE. Used by
// tests/t0051-dashboard-businesses.sh; the same step/output protocol as
// dashboard.mjs: one line per step, "pass<TAB>what" or
// "fail<TAB>what<TAB>why"; exit 2 only when the browser cannot be driven.
//
// Desktop (1280x900): sign up (the free plan: 1 business), Businesses
// through the nav (empty state, "0 of 1"), create a business with an
// after-midnight interval (hours read back through the API as entered),
// listed with its week's hours in words; edit its greeting (read back);
// a second business → the 402 as an upgrade prompt linking to
// /app/billing; delete through the confirmation dialog → empty again. Phone (390x844): the page and the
// create form fit the width and a business can be created. Screenshots
// into OUT; no console error, CSP violation or failed request.

import { a11y, args, step, json as apiJson, launch, noProblems, openPage, viewports } from './lib.mjs';

const { base, out } = args('businesses.mjs');
const json = (method, path, body, token) => apiJson(base, method, path, body, token);
const stamp = `${Date.now()}-${process.pid}`;
const password = 'correct horse battery';

const browser = await launch('businesses.mjs');

for (const vp of viewports) {
    const { context, page, problems, allow, shot, fits } = await openPage(browser, vp, out);
    const email = `biz-${vp.name}-${stamp}@example.com`;
    let token = null;
    const apiAs = async (method, path, body) => {
        if (!token)
            token = (await json('POST', '/v1/auth/login', { email, password })).access_token;
        return json(method, path, body, token);
    };
    const fillForm = async (name) => {
        const form = page.getByRole('form', { name: 'Add a business' });
        await form.getByLabel('Name', { exact: true }).fill(name);
        await form.getByLabel('Phone number').fill('+14155550123');
        await form.getByLabel('Time zone').selectOption('Europe/Rome');
        await form.getByRole('button', { name: 'Add hours on Friday' }).click();
        await form.getByLabel('Friday Opens').fill('18:00');
        await form.getByLabel('Friday Closes').fill('02:00');
        await form.getByRole('button', { name: 'Add hours on Saturday' }).click();
        await form.getByRole('button', { name: 'Add hours on Saturday' }).click();
        await form.getByLabel('Saturday Opens').nth(0).fill('11:30');
        await form.getByLabel('Saturday Closes').nth(0).fill('14:00');
        await form.getByLabel('Saturday Opens').nth(1).fill('18:00');
        await form.getByLabel('Saturday Closes').nth(1).fill('02:00');
        return form;
    };

    await step(`${vp.name}: sign up and open Businesses from Home's nav: the empty state`,
               async () => {
        await page.goto(`${base}/`);
        const form = page.getByRole('form', { name: 'Create your account' });
        await form.getByLabel('Your name').fill('Luigi');
        await form.getByLabel('Business name').fill(`Trattoria ${vp.name}`);
        await form.getByLabel('Email').fill(email);
        await form.getByLabel('Password').fill(password);
        await form.getByLabel('Password').press('Enter');
        await page.waitForURL(`${base}/app/`);
        await page.getByRole('navigation', { name: 'Main' })
                  .getByRole('link', { name: 'Businesses' }).click();
        await page.waitForURL(`${base}/app/businesses`);
        await page.getByText('No business yet.').waitFor();
        const limit = await page.locator('.limit').textContent();
        if (limit !== '0 of 1 business on the free plan')
            return `the limit says "${limit}"`;
        await shot('businesses-empty');
    });
    if (vp.name === 'phone')
        await step(`${vp.name}: the empty Businesses page fits 390 px`, fits);

    await step(`${vp.name}: create a business with hours past midnight`, async () => {
        await page.getByRole('link', { name: 'Add a business' }).click();
        await page.waitForURL(`${base}/app/businesses/new`);
        const form = await fillForm('Luigi Bar');
        const notes = await form.locator('.overnight:visible').count();
        if (notes !== 2)
            return `${notes} "closes the next day" notes shown, not 2`;
        if (vp.name === 'phone') {
            const why = await fits();
            if (why)
                return `the form: ${why}`;
        }
        await shot('business-new');
        const why = await a11y(page);
        if (why)
            return `the form's accessibility: ${why}`;
        await form.getByRole('button', { name: 'Add business' }).click();
        await page.waitForURL(`${base}/app/businesses`);
        await page.getByText('Luigi Bar was added.').waitFor();
        const name = await page.locator('.business-name').textContent();
        const phone = await page.locator('.business .phone').textContent();
        const tz = await page.locator('.business .tz').textContent();
        if (`${name}|${phone}|${tz}` !== 'Luigi Bar|+14155550123|Europe/Rome')
            return `listed as ${name}|${phone}|${tz}`;
        const hours = await page.locator('.business .hours-day').allTextContents();
        if (hours.join('|') !== 'Fri 18:00–02:00 (next day)|'
                                + 'Sat 11:30–14:00, 18:00–02:00 (next day)')
            return `the card's hours read ${hours.join('|')}`;
        const limit = await page.locator('.limit').textContent();
        if (limit !== '1 of 1 business on the free plan')
            return `the limit says "${limit}"`;
        await shot('businesses-one');
    });
    await step(`${vp.name}: the list has no serious accessibility violation`, () => a11y(page));

    await step(`${vp.name}: the API stored the hours as entered`, async () => {
        const list = (await apiAs('GET', '/v1/businesses')).data;
        const hours = JSON.stringify(list[0] && list[0].hours);
        const want = JSON.stringify({ fri: [{ open: '18:00', close: '02:00' }],
                                      sat: [{ open: '11:30', close: '14:00' },
                                            { open: '18:00', close: '02:00' }] });
        if (hours !== want)
            return `hours are ${hours}`;
    });

    if (vp.name === 'phone') {
        await step(`${vp.name}: the list fits 390 px`, fits);
    } else {
        await step(`${vp.name}: edit the greeting`, async () => {
            await page.getByRole('link', { name: 'Edit Luigi Bar' }).click();
            const form = page.getByRole('form', { name: 'Edit business' });
            await form.getByLabel('Greeting (optional)').fill('Ciao, Luigi Bar!');
            await shot('business-edit');
            await form.getByRole('button', { name: 'Save changes' }).click();
            await page.getByText('Luigi Bar was saved.').waitFor();
            const shown = await page.locator('.business .greeting').textContent();
            if (shown !== 'Ciao, Luigi Bar!')
                return `the list shows "${shown}"`;
            const stored = (await apiAs('GET', '/v1/businesses')).data[0];
            if (stored.greeting !== 'Ciao, Luigi Bar!' || stored.hours.sat.length !== 2)
                return `stored: ${JSON.stringify(stored)}`;
        });

        await step(`${vp.name}: a second business meets the plan: an upgrade prompt`, async () => {
            allow(/\b402\b/);
            await page.getByRole('link', { name: 'Add a business' }).click();
            const form = await fillForm('Luigi Deli');
            await form.getByRole('button', { name: 'Add business' }).click();
            const alert = form.locator('.form-error.upgrade');
            await alert.waitFor();
            const text = await alert.textContent();
            if (!/business limit.*reached/.test(text))
                return `the prompt says "${text}"`;
            const href = await alert.getByRole('link', { name: 'Upgrade your plan' })
                                    .getAttribute('href');
            if (href !== '/app/billing')
                return `the upgrade link goes to ${href}`;
            const focused = await page.evaluate(() => document.activeElement.className);
            if (!/form-error/.test(focused))
                return `focus is on "${focused}"`;
            await shot('business-upgrade');
            allow();
            await form.getByRole('link', { name: 'Cancel' }).click();
            await page.waitForURL(`${base}/app/businesses`);
        });

        await step(`${vp.name}: delete through the confirmation dialog: empty again`, async () => {
            await page.locator('.business-name').waitFor();
            await page.getByRole('button', { name: 'Delete Luigi Bar' }).click();
            const dialog = page.getByRole('dialog', { name: 'Delete this business?' });
            await dialog.waitFor();
            await shot('business-delete-confirm');
            await dialog.getByRole('button', { name: 'Cancel' }).click();
            const focus = await page.evaluate(() => document.activeElement.textContent);
            if (focus !== 'Delete')
                return `after Cancel, focus is on "${focus}"`;
            if ((await apiAs('GET', '/v1/businesses')).data.length !== 1)
                return 'Cancel deleted the business';
            await page.getByRole('button', { name: 'Delete Luigi Bar' }).press('Enter');
            await dialog.getByRole('button', { name: 'Yes, delete' }).click();
            await page.getByText('Luigi Bar was deleted.').waitFor();
            await page.getByText('No business yet.').waitFor();
            if ((await apiAs('GET', '/v1/businesses')).data.length !== 0)
                return 'the business is still in the API';
            await shot('businesses-deleted');
        });
    }

    await noProblems(vp, problems);
    await context.close();
}
await browser.close();
