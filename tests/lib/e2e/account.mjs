#!/usr/bin/env node
// tests/lib/e2e/account.mjs BASE OUT — the dashboard's account pages
// (gateway/www/page-account.js: the landing page's plans, forgot and
// reset password) and Settings (gateway/www/page-settings.js) in Debian's
// headless Chromium (playwright-core), against a running suite at BASE
// with the SMTP sink (SB_MAIL_DIR). Used by
// tests/t0052-dashboard-account.sh; the step/output protocol of lib.mjs:
// one line per step, "pass<TAB>what" or "fail<TAB>what<TAB>why"; exit 2
// only when the browser cannot be driven.
//
// Desktop (1280x900): the landing page shows the catalogue's four plans
// with their prices (read from GET /v1/billing/plans by the test), "Start
// with Pro" focuses the sign-up form; forgot password → the mail → its
// link opened in the page → the token is gone from the address bar → a
// mismatched confirmation is refused in words without a request → the new
// password is set → the old one fails and the new one logs in; the same
// link again is refused in words. Settings: rename (the top bar and the
// API follow), a subdomain another organization owns (the error by the
// field), a wrong current password explained, a password change (the new
// one logs in through the API, the old one not), log out everywhere (a
// token from an earlier API login is refused afterwards), delete the
// organization by typing its name (disabled until it matches; afterwards
// the API refuses the old token and the login). Phone (390x844): the
// landing page, the forgot flow, the reset page and Settings fit and work.
// A member who is not an admin (invited through the API) sees the
// organization read-only and no delete.
// Each page state is saved as a screenshot in OUT; each page passes the
// accessibility check on the desktop; no console error, CSP violation or
// failed request beyond those a step provokes.

import { a11y, args, json as apiJson, launch, mailLink, mailWait, noProblems, openPage, step,
         viewports } from './lib.mjs';

const { base, out } = args('account.mjs');
const json = (method, path, body, token) => apiJson(base, method, path, body, token);
const stamp = `${Date.now()}-${process.pid}`;
const first = 'correct horse battery';
const second = 'a brand new passphrase';
const third = 'the third one, at last';

// The HTTP status of a call from the test itself (no throw).
async function status(method, path, body, token) {
    const headers = { 'Content-Type': 'application/json' };
    if (token)
        headers.Authorization = `Bearer ${token}`;
    const response = await fetch(`${base}${path}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    await response.arrayBuffer();
    return response.status;
}

// Waits until fn() is true (up to seconds): an outcome the API reaches
// "within a second" (a revoked token at the gateway) is polled, not timed.
async function eventually(fn, seconds = 10) {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        if (await fn())
            return true;
        if (Date.now() > deadline)
            return false;
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

const loginStatus = (email, password) => status('POST', '/v1/auth/login', { email, password });

const catalogue = (await json('GET', '/v1/billing/plans')).data;
const browser = await launch('account.mjs');

for (const vp of viewports) {
    const { context, page, problems, allow, shot, fits } = await openPage(browser, vp, out);
    const desktop = vp.name === 'desktop';
    const email = `acct-${vp.name}-${stamp}@example.com`;
    const orgName = `Osteria ${vp.name} ${stamp}`;
    let link = null;

    const fitting = async (what) => {
        if (!desktop) {
            const why = await fits();
            if (why)
                return `${what}: ${why}`;
        }
    };
    const logInForm = async (password) => {
        const form = page.getByRole('form', { name: 'Log in', exact: true });
        await form.getByLabel('Email').fill(email);
        await form.getByLabel('Password').fill(password);
        await form.getByRole('button', { name: 'Log in' }).click();
        await page.waitForURL(`${base}/app/`);
    };
    const openSettings = async () => {
        await page.getByRole('navigation', { name: 'Main' })
                  .getByRole('link', { name: 'Settings' }).click();
        await page.waitForURL(`${base}/app/settings`);
        await page.getByRole('heading', { name: 'Password', exact: true }).waitFor();
    };

    await step(`${vp.name}: the landing page shows the four plans with the catalogue's prices`,
               async () => {
        const response = await page.goto(`${base}/`);
        if (response.status() !== 200)
            return `GET / answered ${response.status()}`;
        await page.locator('.plan-card').first().waitFor();
        const cards = await page.locator('.plan-card').evaluateAll((nodes) => nodes.map((n) => ({
            id: n.dataset.plan, name: n.querySelector('h3').textContent,
            amount: n.querySelector('.amount').textContent })));
        const seen = cards.map((c) => `${c.id}:${c.name}:${c.amount.replace(/[^0-9.]/g, '')}`);
        const want = catalogue.map((p) => `${p.id}:${p.name}:${p.price_cents / 100}`);
        if (catalogue.length !== 4 || seen.join(' ') !== want.join(' '))
            return `cards ${seen.join(' ')}, the catalogue ${want.join(' ')}`;
        const why = await fitting('the landing page');
        if (why)
            return why;
        await shot('landing');
    });

    if (desktop) {
        await step(`${vp.name}: the landing page has no serious accessibility violation`,
                   () => a11y(page));
        await step(`${vp.name}: "Start with Pro" moves focus to the sign-up form`, async () => {
            await page.getByRole('button', { name: 'Start with Pro' }).click();
            const focused = await page.evaluate(() => [document.activeElement.name,
                                                       document.activeElement.form?.id]);
            if (focused.join() !== 'name,signup')
                return `focus is on ${focused.join()}`;
        });
    }

    await step(`${vp.name}: "Forgot your password?" sends a link and says so without telling ` +
               'whether the account exists', async () => {
        await json('POST', '/v1/auth/signup', { email, password: first, name: 'Olga',
                                                organization_name: orgName });
        await page.getByRole('button', { name: 'Forgot your password?' }).click();
        const form = page.getByRole('form', { name: 'Forgot your password?' });
        const focused = await page.evaluate(() => document.activeElement.name);
        if (focused !== 'email')
            return `focus is on "${focused}", not the email`;
        if (await page.getByRole('form', { name: 'Log in', exact: true }).isVisible())
            return 'the log-in form is still shown';
        await form.getByLabel('Email').fill(email);
        await form.getByRole('button', { name: 'Send me a link' }).click();
        const done = form.locator('.forgot-done');
        await done.waitFor();
        const text = await done.textContent();
        if (!text.startsWith(`If an account exists for ${email}, a link`))
            return `it says "${text}"`;
        const why = await fitting('the forgot form');
        if (why)
            return why;
        await shot('forgot-sent');
    });
    if (desktop)
        await step(`${vp.name}: the forgot form has no serious accessibility violation`,
                   () => a11y(page));

    await step(`${vp.name}: the mailed link opens the reset page and the token leaves the ` +
               'address bar', async () => {
        const mail = await mailWait(email, 30);
        link = mailLink(mail, `${base}/reset-password?token=`);
        await page.goto(link);
        await page.getByRole('form', { name: 'Choose a new password' }).waitFor();
        const href = await page.evaluate(() => location.href);
        if (href !== `${base}/reset-password`)
            return `the address bar shows ${href}`;
        const focused = await page.evaluate(() => document.activeElement.name);
        if (focused !== 'password')
            return `focus is on "${focused}"`;
        const why = await fitting('the reset page');
        if (why)
            return why;
        await shot('reset');
    });

    if (desktop) {
        await step(`${vp.name}: the reset page has no serious accessibility violation`,
                   () => a11y(page));
        await step(`${vp.name}: a confirmation that differs is refused in words, nothing sent`,
                   async () => {
            let sent = 0;
            const count = (request) => {
                if (request.url().endsWith('/v1/auth/password/reset'))
                    sent++;
            };
            page.on('request', count);
            const form = page.getByRole('form', { name: 'Choose a new password' });
            await form.getByLabel('New password', { exact: true }).fill(second);
            await form.getByLabel('Confirm the new password').fill(`${second}!`);
            await form.getByRole('button', { name: 'Set the new password' }).click();
            const slot = form.locator('.field-error:visible');
            await slot.waitFor();
            const text = await slot.textContent();
            page.off('request', count);
            if (text !== 'Confirmation: does not match the new password')
                return `the field says "${text}"`;
            if (sent)
                return 'the page sent the form anyway';
            await shot('reset-mismatch');
        });
    }

    await step(`${vp.name}: a new password is set; the log-in form opens with a notice`,
               async () => {
        const form = page.getByRole('form', { name: 'Choose a new password' });
        await form.getByLabel('New password', { exact: true }).fill(second);
        await form.getByLabel('Confirm the new password').fill(second);
        await form.getByRole('button', { name: 'Set the new password' }).click();
        await page.waitForURL(`${base}/`);
        await page.getByText('Your new password is set: log in with it.').waitFor();
        const focused = await page.evaluate(() => [document.activeElement.name,
                                                   document.activeElement.form?.getAttribute('aria-label')]);
        if (focused.join() !== 'email,Log in')
            return `focus is on ${focused.join()}`;
        await shot('reset-done');
    });
    await step(`${vp.name}: the old password no longer logs in, the new one does (API)`,
               async () => {
        const old = await loginStatus(email, first);
        const now = await loginStatus(email, second);
        if (old !== 401 || now !== 200)
            return `old password: ${old}, new password: ${now}`;
    });

    if (desktop)
        await step(`${vp.name}: the same link a second time is refused in words`, async () => {
            allow(/\b400 \/v1\/auth\/password\/reset\b/, /status of 400/);
            await page.goto(link);
            const form = page.getByRole('form', { name: 'Choose a new password' });
            await form.getByLabel('New password', { exact: true }).fill(third);
            await form.getByLabel('Confirm the new password').fill(third);
            await form.getByRole('button', { name: 'Set the new password' }).click();
            const box = form.locator('.invalid-link');
            await box.waitFor();
            const text = await box.textContent();
            if (text !== 'This link is invalid, used or expired — ask for a new one.')
                return `it says "${text}"`;
            if (await loginStatus(email, third) !== 401)
                return 'the used link changed the password again';
            await shot('reset-used');
            allow();
            await box.getByRole('link', { name: 'ask for a new one' }).click();
            await page.waitForURL(`${base}/`);
            await page.getByRole('form', { name: 'Forgot your password?' }).waitFor();
            await page.goto(`${base}/`);
        });

    await step(`${vp.name}: log in with the new password through the form; Settings shows ` +
               'the organization', async () => {
        await page.getByRole('form', { name: 'Log in', exact: true }).waitFor();
        await logInForm(second);
        await openSettings();
        const form = page.getByRole('form', { name: 'Organization', exact: true });
        const name = await form.getByLabel('Organization name').inputValue();
        const sub = await form.getByLabel('Subdomain').inputValue();
        const org = await json('GET', '/v1/organization', undefined,
                               (await json('POST', '/v1/auth/login',
                                           { email, password: second })).access_token);
        if (name !== orgName || sub !== org.subdomain)
            return `the form shows ${name} / ${sub}, the API ${org.name} / ${org.subdomain}`;
        if (!await page.getByRole('button', { name: 'Delete the organization' }).isDisabled())
            return 'the delete button is enabled before the name is typed';
        const why = await fitting('Settings');
        if (why)
            return why;
        await shot('settings');
    });
    if (!desktop) {
        await noProblems(vp, problems);
        await context.close();
        continue;
    }

    await step(`${vp.name}: Settings has no serious accessibility violation`, () => a11y(page));

    let token = null;
    const renamed = `Osteria Nuova ${stamp}`;
    await step(`${vp.name}: rename the organization: the top bar and the API follow`, async () => {
        const form = page.getByRole('form', { name: 'Organization', exact: true });
        await form.getByLabel('Organization name').fill(renamed);
        await form.getByRole('button', { name: 'Save the organization' }).click();
        await page.getByText('The organization is saved.').waitFor();
        const top = await page.locator('.topbar .who').textContent();
        if (top !== renamed)
            return `the top bar says "${top}"`;
        token = (await json('POST', '/v1/auth/login', { email, password: second })).access_token;
        const org = await json('GET', '/v1/organization', undefined, token);
        if (org.name !== renamed)
            return `the API says "${org.name}"`;
        const shown = await page.getByRole('form', { name: 'Organization', exact: true })
                                .getByLabel('Organization name').inputValue();
        if (shown !== renamed)
            return `the form shows "${shown}" after the save`;
        await shot('settings-renamed');
    });

    await step(`${vp.name}: a subdomain another organization owns: the error by the field`,
               async () => {
        const taken = `taken-${stamp}`.toLowerCase();
        await json('POST', '/v1/auth/signup', { email: `other-${stamp}@example.com`,
                                                password: first, name: 'Other',
                                                organization_name: 'Other', subdomain: taken });
        allow(/\b409 \/v1\/organization\b/, /status of 409/);
        const form = page.getByRole('form', { name: 'Organization', exact: true });
        const input = form.getByLabel('Subdomain');
        await input.fill(taken);
        await form.getByRole('button', { name: 'Save the organization' }).click();
        const slot = form.locator(`[id="${await input.getAttribute('id')}-error"]`);
        await slot.waitFor();
        const text = await slot.textContent();
        if (!/taken/.test(text))
            return `the field says "${text}"`;
        if (await input.getAttribute('aria-invalid') !== 'true')
            return 'the field is not marked invalid';
        const focused = await page.evaluate(() => document.activeElement.name);
        if (focused !== 'subdomain')
            return `focus is on "${focused}"`;
        const org = await json('GET', '/v1/organization', undefined, token);
        if (org.subdomain === taken)
            return 'the API took the subdomain';
        await shot('settings-subdomain-taken');
        allow();
    });

    await step(`${vp.name}: a wrong current password is explained; nothing changes`,
               async () => {
        allow(/\b401 \/v1\/auth\/password\/change\b/, /status of 401/);
        const form = page.getByRole('form', { name: 'Password', exact: true });
        await form.getByLabel('Current password').fill('not my password at all');
        await form.getByLabel('New password', { exact: true }).fill(third);
        await form.getByLabel('Confirm the new password').fill(third);
        await form.getByRole('button', { name: 'Change the password' }).click();
        const box = form.locator('.form-error');
        await box.waitFor();
        const text = await box.textContent();
        if (text !== 'Your current password is not right: nothing was changed.')
            return `it says "${text}"`;
        const by = await form.locator('.field-error:visible').textContent();
        if (by !== 'Current password: is not right')
            return `next to the field: "${by}"`;
        if (await loginStatus(email, second) !== 200)
            return 'the password changed';
        await shot('settings-password-wrong');
        allow();
    });

    await step(`${vp.name}: change the password: the new one logs in through the API`,
               async () => {
        const form = page.getByRole('form', { name: 'Password', exact: true });
        await form.getByLabel('Current password').fill(second);
        await form.getByLabel('New password', { exact: true }).fill(third);
        await form.getByLabel('Confirm the new password').fill(third);
        await form.getByRole('button', { name: 'Change the password' }).click();
        await form.getByText('Your password is changed.').waitFor();
        const old = await loginStatus(email, second);
        const now = await loginStatus(email, third);
        if (old !== 401 || now !== 200)
            return `old password: ${old}, new password: ${now}`;
        if (await form.getByLabel('Current password').inputValue() !== '')
            return 'the form keeps the passwords';
        await shot('settings-password-changed');
    });

    await step(`${vp.name}: log out everywhere: the page logs out and an API session ends too`,
               async () => {
        const other = (await json('POST', '/v1/auth/login', { email, password: third }))
            .access_token;
        if (await status('GET', '/v1/me', undefined, other) !== 200)
            return 'the API session does not work to begin with';
        await page.getByRole('button', { name: 'Log out everywhere' }).click();
        await page.waitForURL(`${base}/`);
        await page.getByText('You are logged out on every device and browser.').waitFor();
        await shot('logged-out-everywhere');
        if (!await eventually(async () => await status('GET', '/v1/me', undefined, other) === 401))
            return 'the API session still works';
    });

    await step(`${vp.name}: a member who is not an admin sees the organization read-only`,
               async () => {
        const member = `member-${stamp}@example.com`;
        const admin = (await json('POST', '/v1/auth/login', { email, password: third }))
            .access_token;
        await json('POST', '/v1/invitations', { email: member, role: 'user' }, admin);
        const invite = mailLink(await mailWait(member, 30), `${base}/accept-invitation?token=`);
        await json('POST', '/v1/invitations/accept',
                   { token: new URL(invite).searchParams.get('token'), name: 'Marco',
                     password: first });
        const form = page.getByRole('form', { name: 'Log in', exact: true });
        await form.getByLabel('Email').fill(member);
        await form.getByLabel('Password').fill(first);
        await form.getByRole('button', { name: 'Log in' }).click();
        await page.waitForURL(`${base}/app/`);
        await openSettings();
        const shown = `${await page.locator('.org-name').textContent()}|` +
                      `${await page.locator('.org-subdomain').textContent()}`;
        const org = await json('GET', '/v1/organization', undefined, admin);
        if (shown !== `${renamed}|${org.subdomain}`)
            return `shown: ${shown}`;
        const controls = await page.locator('main input').count();
        if (controls !== 3)
            return `${controls} inputs (only the password form's 3 were expected)`;
        if (await page.getByRole('heading', { name: 'Delete the organization' }).count())
            return 'a member is offered to delete the organization';
        await shot('settings-member');
        const why = await a11y(page);
        if (why)
            return why;
        await page.getByRole('button', { name: 'Log out', exact: true }).click();
        await page.waitForURL(`${base}/`);
    });

    await step(`${vp.name}: delete the organization by typing its name`, async () => {
        await logInForm(third);
        await openSettings();
        const form = page.getByRole('form', { name: 'Delete the organization' });
        const button = form.getByRole('button', { name: 'Delete the organization' });
        const typed = form.getByLabel('Type the organization\'s name to confirm');
        if (!await button.isDisabled())
            return 'the button is enabled before anything is typed';
        await typed.fill(renamed.slice(0, -1));
        if (!await button.isDisabled())
            return 'the button is enabled for a name one letter short';
        await typed.fill(renamed.toUpperCase());
        if (!await button.isDisabled())
            return 'the button is enabled for the name in other case';
        await typed.fill(renamed);
        if (await button.isDisabled())
            return 'the button stays disabled for the exact name';
        await shot('settings-delete');
        const kept = (await json('POST', '/v1/auth/login', { email, password: third }))
            .access_token;
        await button.click();
        await page.waitForURL(`${base}/`);
        await page.getByText(`${renamed} is deleted and you are logged out.`).waitFor();
        await shot('deleted');
        if (!await eventually(async () => await status('GET', '/v1/me', undefined, kept) === 401))
            return 'the old token still works';
        const login = await loginStatus(email, third);
        if (login !== 401)
            return `logging in answers ${login}`;
    });

    await noProblems(vp, problems);
    await context.close();
}
await browser.close();
