// gateway/www/page-billing.js — the Billing page (admins; the nav hides it
// from others and the API answers them 403):
//
//   /app/billing            the subscription, the plans, invoices, credits
//   /app/billing/success    the same, after Stripe Checkout's success_url
//   /app/billing/canceled   the same, after Checkout's cancel_url
//
// What it shows, from the public API only:
//   - the subscription (GET /v1/billing/subscription): the plan in force,
//     its status in words, the period (renews on / ends on when
//     cancel_at_period_end), a trial's end; past_due explained (the plan is
//     kept until grace_period_ends_at, then Free; once the grace has ended
//     `plan` is free while `subscribed_plan` is still the paid one);
//     over_limits named with the way out; "Manage billing" → POST
//     /v1/billing/portal {return_url: <origin>/app/billing} →
//     location.assign(url) (Stripe's portal, a full page load)
//   - the plans side by side (plans.js plansGrid, GET /v1/billing/plans),
//     the current one marked: "Upgrade" (a dearer plan) or "Switch" →
//     POST /v1/billing/checkout {plan, success_url: <origin>/app/billing/
//     success, cancel_url: <origin>/app/billing/canceled} →
//     location.assign(checkout_url). With a live paid subscription a plan
//     change goes through the portal instead (checkout would answer 409);
//     Free is reached by canceling there.
//   - the spending cap on a plan with overage (PUT /v1/billing/spending-cap)
//     and the month's overage so far
//   - invoices (GET /v1/billing/invoices, "Show older" follows
//     next_cursor): number, period, amount, status, Stripe's hosted
//     invoice in a new tab (rel=noopener noreferrer)
//   - credits and the referral link (GET /v1/billing/credits) with a copy
//     button (ui.js copyRow)
//
// Errors in words: 503 billing_not_configured ("billing is not set up on
// this server"), 409 conflict / no_billing_account, 502 stripe_error /
// stripe_unavailable (billingExplain below), else ui.js explain.
//
// Coming back from Stripe. Checkout and the portal are other sites: the
// browser leaves the dashboard and comes back with a page load. Where
// api.js resumes the session from the gateway's httpOnly cookie (main
// since e91145d), the admin lands here signed in: /app/billing/success
// says the payment was received and, while Free is still in force, reads
// the subscription again every 3 s (10 times at most) and draws itself
// again once a paid plan is (awaitPlan) — Stripe's webhook, not the
// return, changes the plan (docs/API.md "Checkout"). Where tokens live in
// memory only, the page load lands signed out on the landing page and
// the admin finds the new plan here after logging in.
//
// States: loading; the page's main data failing (an error in words with
// "Try again"); invoices or credits failing alone (said in their
// section; the rest is drawn); empty invoices and credits. A page whose
// answers arrive after the user moved on draws nothing.

import { api, ApiError, currentMe } from './api.js';
import { copyRow, day, el, explain, formError, shell } from './ui.js';
import { money, plansGrid } from './plans.js';

const STATUS = { active: 'Active', trialing: 'Trial', past_due: 'Payment past due',
                 canceled: 'Canceled' };
const INVOICE_STATUS = { draft: 'Draft', open: 'Open (not paid yet)', paid: 'Paid',
                         uncollectible: 'Uncollectible', void: 'Void' };
const CREDIT_STATUS = { pending: 'Pending (applied at the first payment)', applied: 'Applied',
                        canceled: 'Canceled' };
const LIMIT_NAMES = { businesses: 'businesses', seats: 'team members',
                      calls_per_month: 'calls this month' };

// Words for the errors of checkout and the portal; the rest as ui.js says.
export function billingExplain(error) {
    if (!(error instanceof ApiError))
        return explain(error);
    switch (error.code) {
    case 'billing_not_configured':
        return 'Billing is not set up on this server: plans cannot be bought or changed here ' +
               'yet. Please ask the people who run it.';
    case 'conflict':
        return 'You already have a subscription: change plans in "Manage billing".';
    case 'no_billing_account':
        return 'There is no billing account yet: choose a paid plan first.';
    case 'stripe_unavailable':
        return 'Stripe, our payment provider, cannot be reached right now. Nothing was ' +
               'charged: please try again in a moment.';
    case 'stripe_error':
        return `Stripe, our payment provider, refused the request: ${error.message}`;
    case 'validation_failed':
        if (error.fields && error.fields.plan)
            return 'This plan cannot be bought online yet. Please contact support.';
        return explain(error);
    default:
        return explain(error);
    }
}

const capitalized = (text) => (text ? text[0].toUpperCase() + text.slice(1) : '');

function planName(plans, id) {
    const plan = plans.find((p) => p.id === id);
    return plan ? plan.name : capitalized(id);
}

function row(term, value, cls) {
    return el('div', {}, el('dt', {}, term), el('dd', { class: cls || null }, value));
}

// A live subscription at Stripe (or one the operator gave): plan changes
// go through the portal.
function live(sub) {
    return sub.subscribed_plan && sub.subscribed_plan !== 'free' && sub.status !== 'canceled';
}

// ---- redirects to Stripe ------------------------------------------------------

async function toStripe(button, box, busyText, call) {
    const label = button.textContent;
    button.disabled = true;
    button.textContent = busyText;
    box.hidden = true;
    try {
        const url = await call();
        window.location.assign(url);
    } catch (error) {
        if (error instanceof ApiError && error.status === 401)
            return;
        box.textContent = billingExplain(error);
        box.hidden = false;
        box.focus();
        button.disabled = false;
        button.textContent = label;
    }
}

const checkout = (plan) => api('POST', '/v1/billing/checkout', {
    plan, success_url: `${location.origin}/app/billing/success`,
    cancel_url: `${location.origin}/app/billing/canceled` }).then((a) => a.checkout_url);
const portal = () => api('POST', '/v1/billing/portal',
                         { return_url: `${location.origin}/app/billing` }).then((a) => a.url);

// ---- the sections ---------------------------------------------------------------

function subscriptionSection(sub, plans, box) {
    const notes = [];
    const paidName = planName(plans, sub.subscribed_plan);
    if (sub.status === 'past_due') {
        if (sub.plan !== sub.subscribed_plan)
            notes.push(el('p', { class: 'banner over', role: 'alert' },
                          `Your payment for ${paidName} is overdue and the grace period has ` +
                          'ended: the organization is on Free until it is paid. Update your ' +
                          'card in "Manage billing".'));
        else
            notes.push(el('p', { class: 'banner over', role: 'alert' },
                          'Your last payment did not go through. You keep ' +
                          `${paidName}${sub.grace_period_ends_at
                              ? ` until ${day(sub.grace_period_ends_at)}` : ' for a few days'}; ` +
                          'after that the organization moves to Free. Update your card in ' +
                          '"Manage billing".'));
    }
    const over = sub.over_limits || [];
    if (over.length)
        notes.push(el('p', { class: 'banner near', role: 'alert' },
                      `Over your plan's limit: ${over.map((k) => LIMIT_NAMES[k] || k).join(', ')}. ` +
                      'New ones are refused until you are within the limits or choose a larger plan.'));
    const period = sub.current_period_end
        ? row(sub.cancel_at_period_end ? 'Ends on' : 'Renews on', day(sub.current_period_end),
              'period-end')
        : null;
    const manage = el('button', { type: 'button', class: 'manage' }, 'Manage billing');
    manage.addEventListener('click', () => toStripe(manage, box, 'Opening Stripe…', portal));
    return el('section', { class: 'card summary billing-sub', 'aria-labelledby': 'sub-title' },
              el('h2', { id: 'sub-title' }, 'Your subscription'),
              ...notes,
              el('dl', {},
                 row('Plan', planName(plans, sub.plan), 'plan current-plan'),
                 row('Status', STATUS[sub.status] || sub.status, `status ${sub.status}`),
                 period,
                 sub.trial_end && sub.status === 'trialing'
                     ? row('Trial ends', day(sub.trial_end)) : null),
              sub.cancel_at_period_end
                  ? el('p', { class: 'hint' }, 'Canceled: the plan stays until the end of the ' +
                                               'period, then the organization moves to Free.')
                  : null,
              el('div', { class: 'actions' }, manage),
              el('p', { class: 'hint' }, 'Change your card, see receipts or cancel at Stripe, ' +
                                         'our payment provider.'));
}

function plansSection(sub, plans, box) {
    const current = plans.find((p) => p.id === sub.plan);
    const price = current ? current.price_cents : 0;
    const action = (plan) => {
        if (plan.id === 'free')
            return live(sub) ? el('p', { class: 'hint' },
                                  'To move to Free, cancel in "Manage billing".') : null;
        const word = plan.price_cents > price ? 'Upgrade' : 'Switch';
        const button = el('button', { type: 'button', class: 'primary',
                                      'aria-label': `${word} to ${plan.name}` }, word);
        button.addEventListener('click', () => toStripe(button, box, 'Opening Stripe…', async () => {
            if (!live(sub))
                return checkout(plan.id);
            try {
                return await portal();
            } catch (error) {
                // A plan given by the operator has no Stripe account: buy one.
                if (error instanceof ApiError && error.code === 'no_billing_account')
                    return checkout(plan.id);
                throw error;
            }
        }));
        return button;
    };
    return el('section', { class: 'billing-plans', 'aria-labelledby': 'plans-title' },
              el('h2', { id: 'plans-title' }, 'Plans'),
              el('p', { class: 'hint' }, 'Prices per month. Paying happens at Stripe; your plan ' +
                                         'changes here as soon as Stripe confirms it.'),
              plansGrid(plans, { current: sub.plan, action }));
}

function capSection(sub, plans) {
    const plan = plans.find((p) => p.id === sub.plan);
    const overage = plan && plan.overage && plan.overage.calls;
    if (!overage || !live(sub))
        return null;
    const id = 'cap-amount';
    const input = el('input', { id, name: 'spending_cap_cents', type: 'number', min: '0',
                                step: '0.01', inputmode: 'decimal',
                                'aria-describedby': `${id}-hint ${id}-error`,
                                value: sub.spending_cap_cents === null ||
                                       sub.spending_cap_cents === undefined
                                    ? '' : (sub.spending_cap_cents / 100).toFixed(2) });
    const status = el('p', { class: 'notice', role: 'status', hidden: true });
    const used = sub.overage && sub.overage.calls;
    const form = el('form', { class: 'card cap-form', novalidate: true,
                              'aria-labelledby': 'cap-title' },
                    el('h2', { id: 'cap-title' }, 'Extra calls'),
                    el('p', {}, `Past the plan's ${plan.limits.calls_per_month.toLocaleString()} ` +
                                `calls, each call costs ${money(overage.unit_amount_cents,
                                                                plan.currency)}.` +
                                (used ? ` This month: ${used.quantity.toLocaleString()} extra ` +
                                        `calls, ${money(used.amount_cents, plan.currency)}.` : '')),
                    el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true }),
                    el('div', { class: 'field' },
                       el('label', { for: id }, 'Spending cap per month (USD)'), input,
                       el('p', { class: 'hint', id: `${id}-hint` },
                          'Calls beyond what the cap pays for are refused. Empty: no cap.'),
                       el('p', { class: 'field-error', id: `${id}-error`, hidden: true })),
                    el('button', { type: 'submit' }, 'Save the cap'), status);
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        status.hidden = true;
        const text = input.value.trim();
        const cents = text === '' ? null : Math.round(Number(text) * 100);
        if (cents !== null && !(Number.isFinite(cents) && cents >= 0)) {
            formError(form, new ApiError(400, { error: { code: 'validation_failed',
                fields: { spending_cap_cents: 'must be an amount of 0 or more' } } }),
                      { spending_cap_cents: 'Spending cap' });
            return;
        }
        formError(form, null);
        try {
            const answer = await api('PUT', '/v1/billing/spending-cap',
                                     { spending_cap_cents: cents });
            status.textContent = answer.spending_cap_cents === null
                ? 'Saved: no cap.'
                : `Saved: at most ${money(answer.spending_cap_cents, plan.currency)} a month.`;
            status.hidden = false;
        } catch (error) {
            formError(form, error, { spending_cap_cents: 'Spending cap' });
        }
    });
    return form;
}

function invoiceItem(inv) {
    const label = inv.number || inv.stripe_invoice_id || 'Invoice';
    const period = inv.period_start && inv.period_end
        ? `${day(inv.period_start)} – ${day(inv.period_end)}` : day(inv.created);
    const paid = inv.status === 'paid' ? inv.amount_paid : inv.amount_due;
    return el('li', { class: 'invoice', 'data-id': inv.id },
              el('span', { class: 'invoice-number' }, label),
              el('span', { class: 'invoice-period' }, period),
              el('span', { class: 'invoice-amount' }, money(paid || 0, inv.currency || 'USD')),
              el('span', { class: `invoice-status ${inv.status}` },
                 INVOICE_STATUS[inv.status] || inv.status),
              inv.hosted_invoice_url
                  ? el('a', { href: inv.hosted_invoice_url, target: '_blank',
                              rel: 'noopener noreferrer',
                              'aria-label': `View invoice ${label} at Stripe (opens in a new tab)` },
                       'View invoice')
                  : null);
}

function invoicesSection(result) {
    const section = el('section', { class: 'card billing-invoices',
                                    'aria-labelledby': 'invoices-title' },
                       el('h2', { id: 'invoices-title' }, 'Invoices'));
    if (result.status === 'rejected') {
        section.append(el('p', { class: 'form-error', role: 'alert' },
                          `The invoices cannot be shown: ${explain(result.reason)}`));
        return section;
    }
    const first = result.value;
    if (!(first.data || []).length) {
        section.append(el('p', { class: 'empty' },
                          'No invoices yet. They appear here after your first payment.'));
        return section;
    }
    const list = el('ul', { class: 'invoice-list' }, first.data.map(invoiceItem));
    section.append(list);
    let cursor = first.next_cursor;
    if (cursor) {
        const more = el('button', { type: 'button', class: 'small' }, 'Show older invoices');
        const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
        more.addEventListener('click', async () => {
            more.disabled = true;
            try {
                const next = await api('GET', `/v1/billing/invoices?limit=20&cursor=${
                    encodeURIComponent(cursor)}`);
                list.append(...(next.data || []).map(invoiceItem));
                cursor = next.next_cursor;
                more.hidden = !cursor;
                error.hidden = true;
            } catch (failure) {
                error.textContent = explain(failure);
                error.hidden = false;
            } finally {
                more.disabled = false;
            }
        });
        section.append(more, error);
    }
    return section;
}

function creditsSection(result, credit) {
    const section = el('section', { class: 'card billing-credits',
                                    'aria-labelledby': 'credits-title' },
                       el('h2', { id: 'credits-title' }, 'Credits and referrals'));
    if (result.status === 'rejected') {
        section.append(el('p', { class: 'form-error', role: 'alert' },
                          `The credits cannot be shown: ${explain(result.reason)}`));
        return section;
    }
    const c = result.value;
    section.append(
        el('p', {}, credit
            ? `Share your link: when a business signs up through it and pays its first ` +
              `invoice, you both get ${money(credit, 'USD')} off.`
            : 'Share your link with other businesses.'),
        c.referral_link
            ? el('div', { class: 'referral' }, el('p', { class: 'referral-label' },
                                                  'Your referral link'),
                 copyRow(c.referral_link, 'Copy the referral link'))
            : el('p', { class: 'empty' }, 'Your referral link cannot be shown right now: ' +
                                          'please try again later.'),
        el('dl', { class: 'credit-totals' },
           row('Balance', money(c.balance_cents || 0, 'USD'), 'credit-balance'),
           row('Pending', money(c.pending_cents || 0, 'USD'), 'credit-pending'),
           row('Applied to invoices', money(c.applied_cents || 0, 'USD'), 'credit-applied')));
    const credits = c.data || [];
    section.append(credits.length
        ? el('ul', { class: 'credit-list' }, credits.map((k) => el('li', {},
              `${money(k.amount_cents, k.currency || 'USD')} referral credit · ` +
              `${CREDIT_STATUS[k.status] || k.status} · ${day(k.created_at)}`)))
        : el('p', { class: 'empty' }, 'No credits yet.'));
    return section;
}

// ---- the page ---------------------------------------------------------------------

const RETURNS = {
    success: 'Payment received, thank you. Your new plan shows here as soon as Stripe ' +
             'confirms it, usually within seconds.',
    canceled: 'Checkout was canceled: nothing was charged and your plan is unchanged.'
};

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Back from Checkout while signed in: the webhook may come a moment after
// the browser. The subscription is read again every 3 s (10 times at
// most, only while the page is still shown); once a paid plan is in
// force the page is drawn again, saying so.
async function awaitPlan(at) {
    for (let tries = 0; tries < 10; tries++) {
        await pause(3000);
        if (location.pathname !== at)
            return;
        let sub;
        try {
            sub = await api('GET', '/v1/billing/subscription');
        } catch {
            continue;
        }
        if (location.pathname !== at)
            return;
        if (sub.plan !== 'free')
            return draw(null, `Payment received, thank you: your plan is now ${
                capitalized(sub.plan)}.`);
    }
}

async function draw(which, notice) {
    const at = location.pathname;
    shell('Billing', el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    const me = currentMe();
    if (me && me.role !== 'admin')
        return shell('Billing', el('p', { class: 'empty' },
                                   'Only an admin of the organization can see and change billing.'));
    let sub, catalogue, invoices, credits;
    try {
        [sub, catalogue] = await Promise.all([api('GET', '/v1/billing/subscription'),
                                              api('GET', '/v1/billing/plans')]);
        [invoices, credits] = await Promise.allSettled([
            api('GET', '/v1/billing/invoices?limit=20'), api('GET', '/v1/billing/credits')]);
    } catch (error) {
        if ((error instanceof ApiError && error.status === 401) || location.pathname !== at)
            return;
        return shell('Billing', el('p', { class: 'form-error', role: 'alert' }, explain(error)),
                     el('button', { type: 'button', onclick: () => draw(which, notice) },
                        'Try again'));
    }
    if (location.pathname !== at)
        return;             // the user moved on while Billing was loading
    const plans = catalogue.data || [];
    const box = el('p', { class: 'form-error billing-error', role: 'alert', tabindex: '-1',
                          hidden: true });
    const said = notice || RETURNS[which] || null;
    shell('Billing',
          said ? el('p', { class: 'notice billing-notice', role: 'status', tabindex: '-1' }, said)
               : null,
          box,
          subscriptionSection(sub, plans, box),
          plansSection(sub, plans, box),
          capSection(sub, plans),
          invoicesSection(invoices),
          creditsSection(credits, catalogue.referral_credit_cents));
    (document.querySelector('main .billing-notice') || document.getElementById('main')).focus();
    if (which === 'success' && sub.plan === 'free')
        awaitPlan(at);
}

export function billingPage(which, notice) {
    return draw(which, notice);
}
