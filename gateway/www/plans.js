// gateway/www/plans.js — the plans side by side, from GET /v1/billing/plans
// (public): the landing page shows them to visitors, Billing to admins with
// the current plan marked and a button on the others.
//
//   plansGrid(plans, { current, action })
//       plans    the answer's data (in the catalogue's order)
//       current  the organization's plan id (marked "Your plan"), or null
//       action   (plan) => a node for the plan's card (a button or link),
//                or null for none; not called for the current plan
//   money(cents, currency)   "$29" / "$0.05" in the browser's locale
//
// Limits of -1 read "Unlimited"; features are named in words; overage
// says what a call past the plan's limit costs.

import { el, money as uiMoney } from './ui.js';

const FEATURES = { analytics: 'Analytics', webhooks: 'Webhooks',
                   priority_support: 'Priority support', audit_log_export: 'Audit log export',
                   sso: 'Single sign-on' };

// A price: a whole amount without decimals ("$29"), else with ("$0.05").
export function money(cents, currency = 'USD') {
    return uiMoney(cents, currency, { trim: true });
}

function limit(value, noun, nouns) {
    if (value === undefined || value === null)
        return null;
    if (value < 0)
        return `Unlimited ${nouns}`;
    return `${value.toLocaleString()} ${value === 1 ? noun : nouns}`;
}

function card(plan, current, action) {
    const limits = plan.limits || {};
    const items = [
        limit(limits.calls_per_month, 'call a month', 'calls a month'),
        limit(limits.businesses, 'business', 'businesses'),
        limit(limits.seats, 'team member', 'team members'),
        limit(limits.api_requests_per_minute, 'API request a minute', 'API requests a minute'),
        ...(plan.features || []).map((f) => FEATURES[f] || f.replace(/_/g, ' ')),
        plan.overage && plan.overage.calls
            ? `Extra calls ${money(plan.overage.calls.unit_amount_cents, plan.currency)} each`
            : null
    ].filter(Boolean);
    const mine = current === plan.id;
    const id = `plan-${plan.id}`;
    return el('li', { class: `card plan-card${mine ? ' current' : ''}`, 'data-plan': plan.id,
                      'aria-labelledby': id },
              el('h3', { id }, plan.name),
              el('p', { class: 'price' },
                 el('span', { class: 'amount' }, money(plan.price_cents, plan.currency)),
                 ` / ${plan.interval || 'month'}`),
              mine ? el('p', { class: 'badge' }, 'Your plan') : null,
              el('ul', { class: 'plan-limits' }, items.map((item) => el('li', {}, item))),
              !mine && action ? action(plan) : null);
}

export function plansGrid(plans, { current = null, action = null } = {}) {
    return el('ul', { class: 'plans-grid' }, plans.map((plan) => card(plan, current, action)));
}
