#!/usr/bin/env node
// tests/lib/e2e/team.mjs BASE OUT — the dashboard's API keys, Team and
// invitation pages (gateway/www/page-api-keys.js, page-team.js,
// page-invitation.js) in Debian's headless Chromium (playwright-core),
// against a running suite at BASE whose free plan has 2 seats (tests/
// fixtures/plans-dashboard.json) and whose SMTP sink keeps the mails
// (SB_MAIL_DIR). Used by tests/t0055-dashboard-team.sh; the step/output
// protocol of lib.mjs.
//
// At each viewport (desktop 1280, phone 390) an admin signs up in the
// page, then:
//   API keys: create one (with an expiry) → the key is shown once, the
//   copy button puts it on the clipboard, the key answers 200 from the
//   API; the list says "never" used, then a last use after that call
//   (Refresh); Done removes the key from the page; revoke through the
//   dialog → marked revoked, and the key gets 401 from the API.
//   Team: invite a user → the mail → its link in a fresh browser context
//   → the token is gone from the address → accept with name and password
//   → Home as that user, whose nav has no Team, API keys or Billing; the
//   admin sees the member; a third invitation meets the 2 seats → the
//   upgrade prompt linking /app/billing.
// Desktop only: the invitee reaching /app/team and /app/api-keys by a
// link gets "only admins"; the used link again → invalid_token in words;
// the member made admin and back; the last admin demoting themselves →
// 409 last_admin in words; inviting a member's email → 409 explained;
// removing the member through the dialog; an invitation pending, the same
// email again → 409 explained, revoked through the dialog.
// Screenshots into OUT; accessibility (axe) on each page at the desktop;
// every page fits 390 px on the phone; no console error, CSP violation or
// failed request but those a step provokes.

import { a11y, args, step, json as apiJson, launch, mailLink, mailWait, noProblems, openPage,
         viewports } from './lib.mjs';

const { base, out } = args('team.mjs');
const json = (method, path, body, token) => apiJson(base, method, path, body, token);
const stamp = `${Date.now()}-${process.pid}`;
const password = 'correct horse battery';

// The API's answer status to GET /v1/businesses with an API key (the
// test's own fetch, outside the page).
async function keyStatus(key) {
    const response = await fetch(`${base}/v1/businesses`, { headers: { 'X-API-Key': key } });
    await response.arrayBuffer();
    return response.status;
}

async function until(what, fn, seconds = 15) {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        const value = await fn();
        if (value)
            return value;
        if (Date.now() > deadline)
            throw new Error(`${what}: not within ${seconds} s`);
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

const browser = await launch('team.mjs');

for (const vp of viewports) {
    const desktop = vp.name === 'desktop';
    const { context, page, problems, allow, shot, fits } = await openPage(browser, vp, out);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const admin = `team-admin-${vp.name}-${stamp}@example.com`;
    const invitee = `team-member-${vp.name}-${stamp}@example.com`;
    const nav = page.getByRole('navigation', { name: 'Main' });
    let token = null;
    const apiAs = async (method, path, body) => {
        if (!token)
            token = (await json('POST', '/v1/auth/login', { email: admin, password })).access_token;
        return json(method, path, body, token);
    };
    const fitsHere = async (what) => {
        if (vp.name === 'phone') {
            const why = await fits();
            if (why)
                return `${what}: ${why}`;
        }
    };
    const checkA11y = async (what) => {
        if (desktop) {
            const why = await a11y(page);
            if (why)
                return `${what}'s accessibility: ${why}`;
        }
    };
    const team = async (notice) => {
        await nav.getByRole('link', { name: 'Team' }).click();
        await page.waitForURL(`${base}/app/team`);
        if (notice)
            await page.getByText(notice).waitFor();
        await page.locator('.seats').waitFor();
    };

    await step(`${vp.name}: an admin signs up in the page`, async () => {
        await page.goto(`${base}/`);
        const form = page.getByRole('form', { name: 'Create your account' });
        await form.getByLabel('Your name').fill('Ada Admin');
        await form.getByLabel('Business name').fill(`Team ${vp.name}`);
        await form.getByLabel('Email').fill(admin);
        await form.getByLabel('Password').fill(password);
        await form.getByLabel('Password').press('Enter');
        await page.waitForURL(`${base}/app/`);
    });

    // ---- API keys -------------------------------------------------------------
    let key = null;
    await step(`${vp.name}: API keys from the nav: the empty state`, async () => {
        await nav.getByRole('link', { name: 'API keys' }).click();
        await page.waitForURL(`${base}/app/api-keys`);
        await page.getByText('No API key yet.').waitFor();
        await shot('api-keys-empty');
        return (await checkA11y('the empty page')) || fitsHere('the empty page');
    });

    await step(`${vp.name}: create a key: shown once, with "you will not see it again"`, async () => {
        const form = page.getByRole('form', { name: 'Create an API key' });
        await form.getByLabel('Name').fill('Website orders');
        await form.getByLabel('Role').selectOption('user');
        const next = new Date(Date.now() + 200 * 86400000);
        const date = `${next.getFullYear()}-${String(next.getMonth() + 1).padStart(2, '0')}-` +
                     `${String(next.getDate()).padStart(2, '0')}`;
        await form.getByLabel('Expires (optional)').fill(date);
        await form.getByRole('button', { name: 'Create key' }).click();
        const box = page.locator('.new-key');
        await box.waitFor();
        key = (await box.locator('.copy-text').textContent()).trim();
        if (!/^sbk_[0-9a-f]{8}_\S+$/.test(key))
            return `the box shows "${key}"`;
        const text = await box.textContent();
        if (!/you will not see it again/.test(text))
            return `the box says "${text}"`;
        await page.locator('.api-key .key-name', { hasText: 'Website orders' }).waitFor();
        const used = await page.locator('.api-key .last-used').textContent();
        if (used !== 'never')
            return `last used: "${used}" before any use`;
        const expires = await page.locator('.api-key .expires').textContent();
        if (expires === 'never' || !expires)
            return `expires: "${expires}"`;
        const prefix = await page.locator('.api-key .prefix').textContent();
        if (prefix !== `${key.slice(0, 12)}…`)
            return `the list shows the prefix "${prefix}" for ${key.slice(0, 12)}`;
        const by = await page.locator('.api-key .created-by').textContent();
        if (by !== admin)
            return `created by "${by}"`;
        await shot('api-key-created');
        return (await checkA11y('the new key')) || fitsHere('the new key');
    });

    await step(`${vp.name}: the copy button puts the key on the clipboard`, async () => {
        await page.getByRole('button', { name: 'Copy the key Website orders' }).click();
        await page.locator('.new-key .copy-status', { hasText: 'Copied.' }).waitFor();
        const copied = await page.evaluate(() => navigator.clipboard.readText());
        if (copied !== key)
            return `the clipboard holds "${copied}"`;
    });

    await step(`${vp.name}: the key works against the API (GET /v1/businesses: 200)`, async () => {
        const status = await keyStatus(key);
        if (status !== 200)
            return `answered ${status}`;
    });

    await step(`${vp.name}: the list shows the key's last use after that call`, async () => {
        const used = await until('a last use', async () => {
            await page.getByRole('button', { name: 'Refresh' }).click();
            await page.locator('.key-list-box[aria-busy="false"]').waitFor();
            const text = await page.locator('.api-key .last-used').textContent();
            return text !== 'never' ? text : null;
        });
        if (!/\d/.test(used))
            return `last used: "${used}"`;
    });

    await step(`${vp.name}: Done takes the key off the page`, async () => {
        await page.getByRole('button', { name: 'Done: I have copied it' }).click();
        if (await page.locator('.new-key').isVisible())
            return 'the box is still shown';
        const html = await page.content();
        if (html.includes(key))
            return 'the key is still in the page';
    });

    await step(`${vp.name}: revoke the key through the dialog: it gets 401`, async () => {
        await page.getByRole('button', { name: 'Revoke the key Website orders' }).click();
        const dialog = page.getByRole('dialog', { name: 'Revoke this API key?' });
        await dialog.waitFor();
        await shot('api-key-revoke-confirm');
        await dialog.getByRole('button', { name: 'Yes, revoke' }).click();
        await page.getByText('The key Website orders was revoked.').waitFor();
        const state = await page.locator('.api-key .key-state').textContent();
        if (!/^Revoked /.test(state))
            return `the key is marked "${state}"`;
        if (await page.getByRole('button', { name: 'Revoke the key Website orders' }).count())
            return 'a revoked key still has a Revoke button';
        await until('401 for the revoked key', async () => (await keyStatus(key)) === 401, 5);
        await shot('api-key-revoked');
        return fitsHere('the revoked key');
    });

    // ---- Team -----------------------------------------------------------------
    await step(`${vp.name}: Team from the nav: the admin, no pending invitation`, async () => {
        await team();
        const me = await page.locator('.member').textContent();
        if (!me.includes('Ada Admin (you)') || !me.includes(admin))
            return `the member reads "${me}"`;
        if (await page.getByRole('button', { name: 'Remove Ada Admin' }).count())
            return 'the admin can remove themselves';
        await page.getByText('No pending invitations.').waitFor();
        const seats = await page.locator('.seats').textContent();
        if (!seats.startsWith('1 of 2 seats used on the free plan'))
            return `seats: "${seats}"`;
        await shot('team');
        return (await checkA11y('Team')) || fitsHere('Team');
    });

    await step(`${vp.name}: invite a user: listed as pending`, async () => {
        const form = page.getByRole('form', { name: 'Invite someone' });
        await form.getByLabel('Email').fill(invitee);
        await form.getByLabel('Role', { exact: true }).selectOption('user');
        await form.getByRole('button', { name: 'Send invitation' }).click();
        await page.getByText(`An invitation was mailed to ${invitee}.`).waitFor();
        const pending = await page.locator('.invitation-email').allTextContents();
        if (pending.join() !== invitee)
            return `pending: ${pending.join()}`;
        await shot('team-invited');
        return fitsHere('Team with an invitation');
    });

    // The mailed link, in a fresh context (no session).
    const guest = await openPage(browser, vp, out);
    let link = null;
    await step(`${vp.name}: the mail's link opens the page and leaves the address`, async () => {
        const mail = await mailWait(invitee);
        link = mailLink(mail, `${base}/accept-invitation?token=`);
        await guest.page.goto(link);
        await guest.page.getByRole('form', { name: 'Accept your invitation' }).waitFor();
        if (guest.page.url() !== `${base}/accept-invitation`)
            return `the address is ${guest.page.url()}`;
        const href = await guest.page.evaluate(() => location.href);
        if (href.includes('token'))
            return `the token is still in the address: ${href}`;
        await guest.shot('invitation');
        if (desktop) {
            const why = await a11y(guest.page);
            if (why)
                return `the invitation page's accessibility: ${why}`;
        } else {
            const why = await guest.fits();
            if (why)
                return `the invitation page: ${why}`;
        }
    });

    await step(`${vp.name}: accept: Home as the new member, without admin pages`, async () => {
        const form = guest.page.getByRole('form', { name: 'Accept your invitation' });
        await form.getByLabel('Your name').fill('Bea Member');
        await form.getByLabel('Password').fill(password);
        await form.getByRole('button', { name: 'Join the team' }).click();
        await guest.page.waitForURL(`${base}/app/`);
        await guest.page.getByText(invitee).waitFor();
        const links = await guest.page.getByRole('navigation', { name: 'Main' })
                                      .getByRole('link').allTextContents();
        const admins = links.filter((text) => ['Team', 'API keys', 'Billing'].includes(text));
        if (admins.length)
            return `the member's nav has ${admins.join(', ')}`;
        if (!links.includes('Businesses'))
            return `the nav is ${links.join(', ')}`;
        await guest.shot('member-home');
        const me = await json('POST', '/v1/auth/login', { email: invitee, password });
        if (!me.access_token)
            return 'the member cannot log in with the chosen password';
    });

    if (desktop) {
        await step(`${vp.name}: the member reaching Team or API keys by a link: only admins`,
                   async () => {
            for (const [path, title] of [['/app/team', 'Team'], ['/app/api-keys', 'API keys']]) {
                await guest.page.evaluate((to) => {
                    history.pushState(null, '', to);
                    dispatchEvent(new PopStateEvent('popstate'));
                }, path);
                await guest.page.getByRole('heading', { name: title, level: 1 }).waitFor();
                const alert = await guest.page.locator('main [role="alert"]').textContent();
                if (!/^Only admins can/.test(alert))
                    return `${path} says "${alert}"`;
            }
            await guest.shot('member-only-admins');
            const why = await a11y(guest.page);
            if (why)
                return `the "only admins" page's accessibility: ${why}`;
        });

        await step(`${vp.name}: the used link again: invalid_token in words`, async () => {
            guest.allow(/\b400\b/);
            await guest.page.goto(link);
            const form = guest.page.getByRole('form', { name: 'Accept your invitation' });
            await form.getByLabel('Your name').fill('Bea Again');
            await form.getByLabel('Password').fill(password);
            await form.getByRole('button', { name: 'Join the team' }).click();
            const alert = form.locator('.form-error');
            await alert.waitFor();
            const text = await alert.textContent();
            if (!/invalid, already used, revoked or expired.*new invitation/.test(text))
                return `the page says "${text}"`;
            if (guest.page.url() !== `${base}/accept-invitation`)
                return `the address is ${guest.page.url()}`;
            await guest.shot('invitation-invalid');
            guest.allow();
        });
    }
    await noProblems({ name: `${vp.name} (the member's browser)` }, guest.problems);
    await guest.context.close();

    await step(`${vp.name}: the admin sees the new member`, async () => {
        await team();
        await page.locator('.member-name', { hasText: 'Bea Member' }).waitFor();
        const role = await page.getByLabel('Bea Member: Role').inputValue();
        if (role !== 'user')
            return `the member's role reads ${role}`;
        await page.getByText('No pending invitations.').waitFor();
        return fitsHere('Team with two members');
    });

    if (desktop) {
        await step(`${vp.name}: make the member an admin, then a user again`, async () => {
            for (const [to, words] of [['admin', 'an admin'], ['user', 'a user']]) {
                await page.getByLabel('Bea Member: Role').selectOption(to);
                await page.getByRole('button', { name: 'Save role of Bea Member' }).click();
                await page.getByText(`Bea Member is now ${words}.`).waitFor();
                const users = (await apiAs('GET', '/v1/users')).data;
                const bea = users.find((u) => u.email === invitee);
                if (!bea || bea.role !== to)
                    return `the API has Bea as ${bea && bea.role}, not ${to}`;
                if (to === 'admin')
                    await shot('team-role-changed');
            }
        });

        await step(`${vp.name}: the last admin cannot demote themselves: explained`, async () => {
            allow(/\b409\b/);
            await page.getByLabel('Ada Admin: Role').selectOption('user');
            await page.getByRole('button', { name: 'Save role of Ada Admin' }).click();
            const dialog = page.getByRole('dialog', { name: 'Stop being an admin?' });
            await dialog.getByRole('button', { name: 'Yes, make me a user' }).click();
            const alert = dialog.locator('.form-error');
            await alert.waitFor();
            const text = await alert.textContent();
            if (!/at least one admin/.test(text))
                return `the dialog says "${text}"`;
            await shot('team-last-admin');
            await dialog.getByRole('button', { name: 'Cancel' }).click();
            allow();
            const me = (await apiAs('GET', '/v1/me'));
            if (me.role !== 'admin')
                return `the admin is now ${me.role}`;
        });
    }

    await step(`${vp.name}: a third person meets the plan's 2 seats: an upgrade prompt`,
               async () => {
        allow(/\b402\b/);
        await team();
        const form = page.getByRole('form', { name: 'Invite someone' });
        await form.getByLabel('Email').fill(`team-third-${vp.name}-${stamp}@example.com`);
        await form.getByRole('button', { name: 'Send invitation' }).click();
        const alert = form.locator('.form-error.upgrade');
        await alert.waitFor();
        const text = await alert.textContent();
        if (!/All 2 seats of your plan are taken/.test(text))
            return `the prompt says "${text}"`;
        const href = await alert.getByRole('link', { name: 'Upgrade your plan' })
                                .getAttribute('href');
        if (href !== '/app/billing')
            return `the upgrade link goes to ${href}`;
        await shot('team-upgrade');
        allow();
        return fitsHere('the upgrade prompt');
    });

    if (desktop) {
        await step(`${vp.name}: inviting a member's email: 409 explained`, async () => {
            allow(/\b409\b/);
            const form = page.getByRole('form', { name: 'Invite someone' });
            await form.getByLabel('Email').fill(invitee);
            await form.getByRole('button', { name: 'Send invitation' }).click();
            await form.locator('.form-error', { hasText: 'already has a Switchboard account' })
                      .waitFor();
            allow();
        });

        await step(`${vp.name}: remove the member through the dialog`, async () => {
            await page.getByRole('button', { name: 'Remove Bea Member' }).click();
            const dialog = page.getByRole('dialog', { name: 'Remove this member?' });
            await dialog.waitFor();
            await shot('team-remove-confirm');
            await dialog.getByRole('button', { name: 'Yes, remove' }).click();
            await page.getByText('Bea Member was removed from the team.').waitFor();
            if (await page.locator('.member').count() !== 1)
                return `${await page.locator('.member').count()} members listed`;
            const users = (await apiAs('GET', '/v1/users')).data;
            if (users.length !== 1)
                return `the API has ${users.length} users`;
        });

        await step(`${vp.name}: an invitation pending, again: 409 explained; revoked`, async () => {
            const third = `team-third-${vp.name}-${stamp}@example.com`;
            const form = page.getByRole('form', { name: 'Invite someone' });
            await form.getByLabel('Email').fill(third);
            await form.getByLabel('Role', { exact: true }).selectOption('admin');
            await form.getByRole('button', { name: 'Send invitation' }).click();
            await page.getByText(`An invitation was mailed to ${third}.`).waitFor();
            const role = await page.locator('.invitation .role').textContent();
            if (role !== 'Admin')
                return `the pending invitation's role reads ${role}`;
            allow(/\b409\b/);
            await form.getByLabel('Email').fill(third);
            await form.getByRole('button', { name: 'Send invitation' }).click();
            await form.locator('.form-error', { hasText: 'already has a pending invitation' })
                      .waitFor();
            allow();
            await page.getByRole('button', { name: `Revoke the invitation to ${third}` }).click();
            const dialog = page.getByRole('dialog', { name: 'Revoke this invitation?' });
            await dialog.waitFor();
            await shot('team-revoke-confirm');
            await dialog.getByRole('button', { name: 'Yes, revoke' }).click();
            await page.getByText(`The invitation to ${third} was revoked.`).waitFor();
            await page.getByText('No pending invitations.').waitFor();
            const pending = (await apiAs('GET', '/v1/invitations')).data;
            if (pending.length)
                return `the API still has ${pending.length} pending`;
            await shot('team-revoked');
        });
    }

    await noProblems(vp, problems);
    await context.close();
}
await browser.close();
