#!/usr/bin/env node
// tests/lib/e2e/billing.mjs BASE OUT — the dashboard's Billing and Help
// pages (gateway/www/page-billing.js, page-help.js) in Debian's headless
// Chromium (playwright-core), against a running suite at BASE with the
// fake Stripe API (tests/fakes/stripe_fake.py). Used by
// tests/t0056-dashboard-billing.sh; the step protocol of lib.mjs.
//
// Environment (from the test): STRIPE_FAKE_URL (the fake's control
// endpoints), E2E_WEBHOOK_SECRET (SWITCHBOARD_STRIPE_WEBHOOK_SECRET),
// E2E_STARTER_PRICE and E2E_PRO_PRICE (their Stripe prices, from
// stripe-sync), SWITCHBOARD_SUPPORT_EMAIL and E2E_PART. The trip to
// Stripe and back is a page load: the session resumes from the gateway's
// httpOnly cookie (api.js resume), so the user comes back signed in.
//
//
//   (unset)        Desktop: sign up; Billing through the nav: Free marked
//                  current, no invoices; the referral link shown equals the
//                  API's and the Copy button puts it on the clipboard;
//                  "Upgrade to Starter" → the browser is at the fake's
//                  Checkout URL (Stripe's own pages are stood in for by a
//                  route of the test) and the fake holds a Checkout Session
//                  for the organization and plan with our success and
//                  cancel URLs; back at success_url: signed in, "payment
//                  received" with Free still current; the test sends
//                  the signed webhooks Stripe would (checkout.session.
//                  completed, customer.subscription.created, invoice.paid;
//                  signed by tests/lib/stripe_sign.py); the success page
//                  shows Starter by itself (it reads the subscription every
//                  3 s); Billing: the
//                  renewal date and the invoice (number, amount, Paid, a
//                  new-tab link with rel=noopener); the spending cap saved
//                  (read back through the API); "Manage billing" → the
//                  fake's portal URL, the fake's portal session for the
//                  organization's customer with our return URL. Help: the
//                  guides' and the reference's links (a guide answers
//                  200), an empty request → the API's errors next to both
//                  fields, a request sent → the confirmation (reference,
//                  the mail to the user, not priority on starter); the
//                  support address gets the request's mail naming it and
//                  the organization, the user a confirmation naming it.
//                  Phone (390): Billing fits and Upgrade to Pro reaches
//                  Checkout; at /app/billing/success signed in (the
//                  success URL, or in the app after logging in again when
//                  the build cannot resume): "payment received", Free
//                  still current until the test sends the webhooks, then
//                  the page shows Pro by itself; Help fits and a request
//                  is answered as priority (the support mail's subject
//                  says [priority]).
//   unconfigured   (billing-svc without a Stripe key) Desktop: "Upgrade"
//                  and "Manage billing" say billing is not set up on this
//                  server; nothing reached the fake. Then (through the
//                  operator's route) past due on starter: the status and
//                  the grace period explained; on free with 3 businesses:
//                  the over-limit banner.
//
// Screenshots into OUT; no console error, CSP violation or failed request
// but those a step provokes on purpose.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { a11y, args, json as apiJson, launch, mailWait, noProblems, openPage, step,
         viewports } from './lib.mjs';

const { base, out } = args('billing.mjs');
const json = (method, path, body, token) => apiJson(base, method, path, body, token);
const part = process.env.E2E_PART || 'main';
const fake = process.env.STRIPE_FAKE_URL;
const secret = process.env.E2E_WEBHOOK_SECRET;
const starterPrice = process.env.E2E_STARTER_PRICE;
const proPrice = process.env.E2E_PRO_PRICE;
const support = process.env.SWITCHBOARD_SUPPORT_EMAIL;
const stamp = `${Date.now()}-${process.pid}`;
const password = 'correct horse battery';
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const scratch = mkdtempSync(join(tmpdir(), 'sb-e2e-billing-'));

const fakeObjects = async () => (await fetch(`${fake}/__fake/objects`)).json();
const fakeRequests = async () => (await fetch(`${fake}/__fake/requests`)).json();

// A Stripe event, signed as Stripe signs it (by the test's independent
// signer), posted to the webhook; its outcome must be "applied".
let eventN = 0;
async function webhook(type, object) {
    const file = join(scratch, `event-${++eventN}.json`);
    const body = JSON.stringify({ id: `evt_e2e_${stamp}_${eventN}`, object: 'event', type,
                                  created: Math.floor(Date.now() / 1000) + eventN,
                                  api_version: '2025-03-31.basil', livemode: false,
                                  data: { object } });
    writeFileSync(file, body);
    const signature = execFileSync('/usr/bin/python3', ['tests/lib/stripe_sign.py', secret, file],
                                   { encoding: 'utf8' }).trim();
    const response = await fetch(`${base}/v1/billing/webhook`, {
        method: 'POST', body, headers: { 'Content-Type': 'application/json',
                                         'Stripe-Signature': signature } });
    const answer = await response.json();
    if (response.status !== 200 || answer.outcome !== 'applied')
        throw new Error(`${type}: ${response.status} ${JSON.stringify(answer)}`);
}

// Stripe's own pages (checkout.stripe.test, billing.stripe.test) do not
// exist: the test stands in for them with a page that says where it is.
async function standInForStripe(context) {
    for (const host of ['checkout.stripe.test', 'billing.stripe.test'])
        await context.route(`https://${host}/**`, (route) => route.fulfill({
            status: 200, contentType: 'text/html',
            body: `<!doctype html><html lang="en"><title>Stripe (stand-in)</title>` +
                  `<h1>Stripe stand-in: ${host}</h1></html>` }));
}

const browser = await launch('billing.mjs');

async function signUp(page, email, org) {
    await page.goto(`${base}/`);
    const form = page.getByRole('form', { name: 'Create your account' });
    await form.getByLabel('Your name').fill('Bea');
    await form.getByLabel('Business name').fill(org);
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill(password);
    await form.getByLabel('Password').press('Enter');
    await page.waitForURL(`${base}/app/`);
}

// A page load of the dashboard as the user who signed up in this context:
// the session resumes from the gateway's cookie.
async function backIn(page) {
    await page.goto(`${base}/`);
    await page.waitForURL(`${base}/app/`);
}

async function openNav(page, name, path) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
    await page.waitForURL(`${base}${path}`);
}

async function billingLoaded(page) {
    await openNav(page, 'Billing', '/app/billing');
    await page.locator('.plans-grid').waitFor();
}

// ---- the part without a Stripe key ------------------------------------------------

async function unconfigured() {
    const vp = viewports[0];
    const { context, page, problems, allow, shot } = await openPage(browser, vp, out);
    const email = `nokey-${stamp}@example.com`;
    await step(`${vp.name}: without a Stripe key, Upgrade says billing is not set up`, async () => {
        await signUp(page, email, 'No Key Diner');
        await billingLoaded(page);
        allow(/\b503\b.*\/v1\/billing\/(checkout|portal)\b/);
        await page.getByRole('button', { name: 'Upgrade to Starter' }).click();
        const alert = page.locator('.billing-error');
        await alert.waitFor();
        const text = await alert.textContent();
        if (!/Billing is not set up on this server/.test(text))
            return `the page says "${text}"`;
        if (page.url() !== `${base}/app/billing`)
            return `the page left for ${page.url()}`;
        const focus = await page.evaluate(() => document.activeElement.className);
        if (!/billing-error/.test(focus))
            return `focus is on "${focus}"`;
        await shot('billing-not-configured');
    });
    await step(`${vp.name}: without a Stripe key, Manage billing says so too`, async () => {
        await page.getByRole('button', { name: 'Manage billing' }).click();
        await page.locator('.billing-error').filter({ hasText: 'not set up' }).waitFor();
        const at = await page.getByRole('button', { name: 'Upgrade to Starter' }).textContent();
        if (at !== 'Upgrade')
            return `the Upgrade button is left as "${at}"`;
        allow();
    });
    await step(`${vp.name}: past due and over a limit: both explained on Billing`, async () => {
        const op = process.env.SWITCHBOARD_OPERATOR_TOKEN;
        const token = (await json('POST', '/v1/auth/login', { email, password })).access_token;
        const orgId = (await json('GET', '/v1/me', undefined, token)).organization.id;
        await json('PUT', `/v1/sys/subscriptions/${orgId}`, { plan: 'starter', status: 'past_due' },
                   op);
        const reopen = async () => {
            await openNav(page, 'Home', '/app/');
            await billingLoaded(page);
        };
        await reopen();
        const banner = page.locator('.billing-sub .banner.over');
        const text = await banner.textContent();
        const grace = (await json('GET', '/v1/billing/subscription', undefined, token))
            .grace_period_ends_at;
        if (!/did not go through\. You keep Starter until .+; after that the organization moves to Free/
            .test(text) || !grace)
            return `the banner says "${text}" (grace ends ${grace})`;
        const status = await page.locator('.billing-sub .status').textContent();
        if (status !== 'Payment past due')
            return `the status reads "${status}"`;
        await shot('billing-past-due');
        for (const name of ['Two', 'Three'])
            await json('POST', '/v1/businesses', { name: `No Key ${name}`, timezone: 'UTC',
                                                   phone_number: '+14155550142' }, token);
        await json('PUT', `/v1/sys/subscriptions/${orgId}`, { plan: 'free' }, op);
        await reopen();
        const over = await page.locator('.billing-sub .banner.near').textContent();
        if (!/^Over your plan's limit: businesses\. New ones are refused/.test(over))
            return `the over-limit banner says "${over}"`;
        if (await page.locator('.billing-sub .banner.over').count())
            return 'a past-due banner is still shown';
        await shot('billing-over-limit');
    });
    await step(`${vp.name}: the not-configured page has no serious accessibility violation`,
               () => a11y(page));
    await step(`${vp.name}: nothing reached the fake Stripe`, async () => {
        const posts = (await fakeRequests()).filter((r) => r.method === 'POST');
        if (posts.length)
            return `${posts.length} requests: ${posts.map((r) => r.path).join(', ')}`;
    });
    await noProblems(vp, problems);
    await context.close();
}

// ---- the main part --------------------------------------------------------------------

async function desktop(vp) {
    const { context, page, problems, allow, shot } = await openPage(browser, vp, out);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await standInForStripe(context);
    const email = `bill-${vp.name}-${stamp}@example.com`;
    const orgName = `Bistro Billing ${vp.name}`;
    let token = null, orgId = null, session = null;
    const apiAs = async (method, path, body) => {
        if (!token)
            token = (await json('POST', '/v1/auth/login', { email, password })).access_token;
        return json(method, path, body, token);
    };

    await step(`${vp.name}: Billing shows the plans with Free current, no invoice yet`, async () => {
        await signUp(page, email, orgName);
        orgId = (await apiAs('GET', '/v1/me')).organization.id;
        await billingLoaded(page);
        const current = await page.locator('.plan-card.current').getAttribute('data-plan');
        if (current !== 'free')
            return `the current card is ${current}`;
        const cards = await page.locator('.plan-card').count();
        if (cards !== 4)
            return `${cards} plan cards`;
        const badge = await page.locator('.plan-card.current .badge').textContent();
        if (badge !== 'Your plan')
            return `the badge says "${badge}"`;
        const plan = await page.locator('.current-plan').textContent();
        const status = await page.locator('.billing-sub .status').textContent();
        if (`${plan}|${status}` !== 'Free|Active')
            return `the subscription reads ${plan}|${status}`;
        for (const name of ['Upgrade to Starter', 'Upgrade to Pro', 'Upgrade to Enterprise'])
            await page.getByRole('button', { name }).waitFor();
        await page.getByText('No invoices yet.').waitFor();
        await shot('billing-free');
    });
    await step(`${vp.name}: Billing has no serious accessibility violation`, () => a11y(page));

    await step(`${vp.name}: the referral link is shown, copied, and opens the sign-up form`, async () => {
        const credits = await apiAs('GET', '/v1/billing/credits');
        if (!/\/signup\?ref=[0-9A-F]{10}$/.test(credits.referral_link || ''))
            return `the API's link is ${credits.referral_link}`;
        const shown = await page.locator('.billing-credits .copy-text').textContent();
        if (shown !== credits.referral_link)
            return `the page shows ${shown}, the API ${credits.referral_link}`;
        await page.getByRole('button', { name: 'Copy the referral link' }).click();
        await page.locator('.billing-credits .copy-status').filter({ hasText: 'Copied.' }).waitFor();
        const copied = await page.evaluate(() => navigator.clipboard.readText());
        if (copied !== credits.referral_link)
            return `the clipboard holds "${copied}"`;
        // The link opens the sign-up form with the code, for a visitor.
        const visitor = await browser.newContext();
        try {
            const fresh = await visitor.newPage();
            const code = credits.referral_link.split('ref=')[1];
            const response = await fresh.goto(`${base}/signup?ref=${code}`);
            if (response.status() !== 200)
                return `the referral link answered ${response.status()}`;
            await fresh.getByRole('form', { name: 'Create your account' }).waitFor();
            await fresh.getByText(`You were invited with the referral code ${code}.`).waitFor();
        } finally {
            await visitor.close();
        }
    });

    await step(`${vp.name}: Upgrade to Starter goes to the fake's Checkout with a session for the organization`,
               async () => {
        await page.getByRole('button', { name: 'Upgrade to Starter' }).click();
        await page.waitForURL(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
        const id = page.url().split('/').pop();
        session = (await fakeObjects()).checkout_sessions.find((s) => s.id === id);
        if (!session)
            return `the fake has no session ${id}`;
        const got = `${session.client_reference_id}|${session.metadata.organization_id}|` +
                    `${session.metadata.plan}|${session.mode}|${session.success_url}|` +
                    `${session.cancel_url}`;
        const want = `${orgId}|${orgId}|starter|subscription|${base}/app/billing/success|` +
                     `${base}/app/billing/canceled`;
        if (got !== want)
            return `the session: ${got}`;
        if (!/^cus_/.test(session.customer || ''))
            return `the session's customer is ${session.customer}`;
        await shot('checkout-stand-in');
    });

    await step(`${vp.name}: back at success_url still signed in: "payment received", Free until Stripe's webhook`,
               async () => {
        await page.goto(session.success_url);
        await page.locator('main .billing-notice')
                  .filter({ hasText: 'as soon as Stripe confirms it' }).waitFor();
        const current = await page.locator('.plan-card.current').getAttribute('data-plan');
        if (current !== 'free')
            return `before the webhook the current plan is ${current}`;
        await shot('billing-back-from-checkout');
    });

    await step(`${vp.name}: Stripe's webhooks (checkout completed, subscription created, invoice paid) applied`,
               async () => {
        if (!session)
            return 'no session';
        const now = Math.floor(Date.now() / 1000);
        const sub = `sub_e2e_desktop_${process.pid}`;
        await subscribed(session, orgId, 'starter', starterPrice, sub);
        await webhook('invoice.paid', {
            id: 'in_e2e_1', object: 'invoice', customer: session.customer, subscription: sub,
            number: 'E2E-0001', amount_due: 2900, amount_paid: 2900, currency: 'usd',
            status: 'paid', created: now, period_start: now, period_end: now + 30 * 86400,
            hosted_invoice_url: 'https://invoice.stripe.test/i/in_e2e_1',
            metadata: { organization_id: orgId } });
        const api = await apiAs('GET', '/v1/billing/subscription');
        if (api.plan !== 'starter')
            return `the API says the plan is ${api.plan}`;
    });

    await step(`${vp.name}: the success page shows Starter by itself; Billing: its renewal and the invoice`,
               async () => {
        await page.locator('.plan-card.current[data-plan="starter"]')
                  .waitFor({ timeout: 40000 });
        const said = await page.locator('main .billing-notice').textContent();
        if (said !== 'Payment received, thank you: your plan is now Starter.')
            return `the notice says "${said}"`;
        await billingLoaded(page);
        const current = await page.locator('.plan-card.current').getAttribute('data-plan');
        const plan = await page.locator('.current-plan').textContent();
        if (`${current}|${plan}` !== 'starter|Starter')
            return `the page shows ${current}|${plan}`;
        const renews = await page.locator('.billing-sub dt').allTextContents();
        if (!renews.includes('Renews on'))
            return `the subscription rows are ${renews.join(', ')}`;
        const free = await page.locator('.plan-card[data-plan="free"]').textContent();
        if (!/cancel in "Manage billing"/.test(free))
            return `the Free card says "${free}"`;
        const invoice = page.locator('.invoice');
        const text = (await invoice.allTextContents()).join(' | ');
        if ((await invoice.count()) !== 1 || !/E2E-0001/.test(text) || !/\$29/.test(text)
            || !/Paid/.test(text))
            return `the invoices read "${text}"`;
        const link = invoice.getByRole('link', { name: /View invoice E2E-0001/ });
        const attrs = `${await link.getAttribute('href')}|${await link.getAttribute('target')}|` +
                      `${await link.getAttribute('rel')}`;
        if (attrs !== 'https://invoice.stripe.test/i/in_e2e_1|_blank|noopener noreferrer')
            return `the invoice link is ${attrs}`;
        await shot('billing-starter');
    });
    await step(`${vp.name}: Billing on starter has no serious accessibility violation`,
               () => a11y(page));

    await step(`${vp.name}: the spending cap is saved`, async () => {
        const form = page.getByRole('form', { name: 'Extra calls' });
        await form.getByLabel('Spending cap per month (USD)').fill('12.50');
        await form.getByRole('button', { name: 'Save the cap' }).click();
        await form.getByText('Saved: at most $12.50 a month.').waitFor();
        const cap = (await apiAs('GET', '/v1/billing/subscription')).spending_cap_cents;
        if (cap !== 1250)
            return `the API says ${cap}`;
    });

    await step(`${vp.name}: Manage billing goes to the fake's portal for the organization's customer`,
               async () => {
        await page.getByRole('button', { name: 'Manage billing' }).click();
        await page.waitForURL(/^https:\/\/billing\.stripe\.test\/p\/session\//);
        const portals = (await fakeObjects()).portal_sessions;
        const last = portals[portals.length - 1];
        if (!last || last.url !== page.url())
            return `the fake's last portal session is ${JSON.stringify(last)}`;
        if (`${last.customer}|${last.return_url}` !== `${session.customer}|${base}/app/billing`)
            return `the portal session: ${last.customer}|${last.return_url}`;
    });

    // ---- Help ----
    let request = null;
    await step(`${vp.name}: Help links to the guides and the reference`, async () => {
        await backIn(page);
        await openNav(page, 'Help', '/app/help');
        const guides = page.locator('a.guide-link');
        const hrefs = await guides.evaluateAll((as) => as.map((a) =>
            `${a.getAttribute('href')} ${a.target} ${a.rel}`));
        const want = ['getting-started', 'api-guide', 'migrating', 'operators']
            .map((g) => `/docs/guides/${g} _blank noopener`);
        if (hrefs.join('|') !== want.join('|'))
            return `the guides' links: ${hrefs.join('|')}`;
        const ref = await page.locator('a.reference-link').getAttribute('href');
        if (ref !== '/docs')
            return `the reference's link: ${ref}`;
        for (const path of ['/docs/guides/getting-started', '/docs']) {
            const response = await fetch(`${base}${path}`);
            if (response.status !== 200)
                return `${path} answers ${response.status}`;
        }
        await shot('help');
    });
    await step(`${vp.name}: Help has no serious accessibility violation`, () => a11y(page));

    await step(`${vp.name}: an empty request: the API's errors next to both fields`, async () => {
        allow(/\b400\b.*\/v1\/support\/requests\b/);
        const form = page.getByRole('form', { name: 'Contact support' });
        await form.getByRole('button', { name: 'Send request' }).click();
        await form.locator('#support-subject-error:visible').waitFor();
        const subject = await form.locator('#support-subject-error').textContent();
        const message = await form.locator('#support-message-error').textContent();
        if (!/^Subject: ./.test(subject) || !/^Message: ./.test(message))
            return `the field errors: "${subject}" / "${message}"`;
        const invalid = await form.getByLabel('Subject').getAttribute('aria-invalid');
        if (invalid !== 'true')
            return 'the subject is not marked invalid';
        const focus = await page.evaluate(() => document.activeElement.id);
        if (focus !== 'support-subject')
            return `focus is on ${focus}`;
        await shot('help-errors');
        allow();
    });

    await step(`${vp.name}: a request sent: the confirmation, not priority on starter`, async () => {
        const form = page.getByRole('form', { name: 'Contact support' });
        await form.getByLabel('Subject').fill('Calls drop at lunch');
        await form.getByLabel('Message').fill('Since Monday the line drops calls.\nAround noon.');
        const count = await form.locator('.counter').textContent();
        if (count !== '47 of 10,000 characters')
            return `the counter says "${count}"`;
        await form.getByRole('button', { name: 'Send request' }).click();
        const sent = page.getByRole('region', { name: 'Your request was sent' });
        await sent.waitFor();
        request = await sent.locator('.support-id').textContent();
        if (!uuid.test(request))
            return `the reference is "${request}"`;
        const mail = await sent.locator('.support-mail').textContent();
        if (mail !== `We sent a confirmation to ${email}.`)
            return `it says "${mail}"`;
        const priority = await sent.locator('.support-priority').textContent();
        if (!/^Requests are answered in the order they arrive/.test(priority))
            return `about priority it says "${priority}"`;
        const focus = await page.evaluate(() => document.activeElement.className);
        if (!/support-sent/.test(focus))
            return `focus is on "${focus}"`;
        await shot('help-sent');
    });
    await step(`${vp.name}: the confirmation has no serious accessibility violation`,
               () => a11y(page));

    await step(`${vp.name}: the support address gets the request, the user a confirmation`,
               async () => {
        if (!request)
            return 'no request';
        const toSupport = await mailWait(support, 30);
        const all = `${toSupport.subject}\n${toSupport.body}`;
        for (const want of [request, orgId, orgName, email, 'Calls drop at lunch',
                            'Since Monday the line drops calls.'])
            if (!all.includes(want))
                return `the support mail lacks "${want}": ${all.slice(0, 300)}`;
        if (/\[priority\]/.test(toSupport.subject))
            return `a starter request is marked priority: ${toSupport.subject}`;
        const toUser = await mailWait(email, 30);
        if (!`${toUser.subject}\n${toUser.body}`.includes(request))
            return `the confirmation does not name ${request}: ${toUser.subject}`;
    });

    await noProblems(vp, problems);
    await context.close();
}

// The webhooks Stripe sends when a checkout completes: the session, then
// its subscription (active, a 30-day period) for the plan's price.
async function subscribed(session, orgId, plan, price, sub) {
    const now = Math.floor(Date.now() / 1000);
    await webhook('checkout.session.completed', {
        id: session.id, object: 'checkout.session', mode: 'subscription',
        client_reference_id: orgId, customer: session.customer, subscription: sub,
        metadata: { organization_id: orgId, plan } });
    await webhook('customer.subscription.created', {
        id: sub, object: 'subscription', customer: session.customer, status: 'active',
        cancel_at_period_end: false, metadata: { organization_id: orgId, plan },
        items: { object: 'list', data: [{ id: `si_${sub}`, price: { id: price },
                                          current_period_start: now,
                                          current_period_end: now + 30 * 86400 }] } });
}

async function phone(vp) {
    const { context, page, problems, shot, fits } = await openPage(browser, vp, out);
    await standInForStripe(context);
    const email = `bill-${vp.name}-${stamp}@example.com`;
    let orgId = null, session = null;

    await step(`${vp.name}: Billing fits 390 px, Upgrade reaches Checkout`, async () => {
        await signUp(page, email, 'Phone Pizzeria');
        const token = (await json('POST', '/v1/auth/login', { email, password })).access_token;
        orgId = (await json('GET', '/v1/me', undefined, token)).organization.id;
        await billingLoaded(page);
        const why = await fits();
        if (why)
            return why;
        await shot('billing-free');
        await page.getByRole('button', { name: 'Upgrade to Pro' }).click();
        await page.waitForURL(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
        const id = page.url().split('/').pop();
        session = (await fakeObjects()).checkout_sessions.find((x) => x.id === id);
        if (!session || session.client_reference_id !== orgId || session.metadata.plan !== 'pro')
            return `the fake's session: ${JSON.stringify(session)}`;
    });

    await step(`${vp.name}: signed in at /app/billing/success: "payment received", then Pro once Stripe's webhook comes`,
               async () => {
        if (!session)
            return 'no session';
        await page.goto(session.success_url);
        const notice = page.locator('main .billing-notice');
        await notice.filter({ hasText: 'as soon as Stripe confirms it' }).waitFor();
        const before = await page.locator('.plan-card.current').getAttribute('data-plan');
        if (before !== 'free')
            return `before the webhook the current plan is ${before}`;
        await subscribed(session, orgId, 'pro', proPrice, `sub_e2e_phone_${process.pid}`);
        await page.locator('.plan-card.current[data-plan="pro"]').waitFor({ timeout: 40000 });
        const said = await notice.textContent();
        if (said !== 'Payment received, thank you: your plan is now Pro.')
            return `the notice says "${said}"`;
        const why = await fits();
        if (why)
            return `Billing on pro: ${why}`;
        await shot('billing-pro');
    });

    await step(`${vp.name}: on pro, Help fits and a request is priority`, async () => {
        await openNav(page, 'Help', '/app/help');
        let why = await fits();
        if (why)
            return `Help: ${why}`;
        await shot('help');
        const form = page.getByRole('form', { name: 'Contact support' });
        await form.getByLabel('Subject').fill('Menu upload');
        await form.getByLabel('Message').fill('How do I add a menu?');
        await form.getByRole('button', { name: 'Send request' }).click();
        const sent = page.getByRole('region', { name: 'Your request was sent' });
        await sent.waitFor();
        const priority = await sent.locator('.support-priority').textContent();
        if (!/priority support/.test(priority) || !/answered first/.test(priority)
            || /order they arrive/.test(priority))
            return `about priority it says "${priority}"`;
        why = await fits();
        if (why)
            return `the confirmation: ${why}`;
        await shot('help-sent');
        const request = await sent.locator('.support-id').textContent();
        const mail = await mailWait(support, 30);
        if (!mail.body.includes(request) || !/\[priority\]/.test(mail.subject))
            return `the support mail: ${mail.subject}`;
    });

    await noProblems(vp, problems);
    await context.close();
}

if (part === 'unconfigured') {
    await unconfigured();
} else {
    await desktop(viewports[0]);
    await phone(viewports[1]);
}
await browser.close();
