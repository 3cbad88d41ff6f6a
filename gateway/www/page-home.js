// gateway/www/page-home.js — Home (/app/): the organization, its plan and
// status, usage this period against the plan's limits (bars that turn
// amber at 80 % and red at 100 %), a banner when the subscription is past
// due or over a limit. The bars' widths are set through the CSSOM, which
// the CSP allows.

import { api, signedIn } from './api.js';
import { el, explain, shell } from './ui.js';

const METRICS = { api_requests: 'API requests', calls: 'Calls', call_minutes: 'Call minutes',
                  orders: 'Orders', businesses: 'Businesses', users: 'Team members' };

function label(metric) {
    if (METRICS[metric])
        return METRICS[metric];
    const text = metric.replace(/_/g, ' ');
    return text.charAt(0).toUpperCase() + text.slice(1);
}

function usageBar(metric, { used, limit }) {
    const unlimited = limit === undefined || limit === null || limit < 0;
    const ratio = unlimited ? 0 : limit === 0 ? (used > 0 ? 1 : 0) : used / limit;
    const level = unlimited ? 'ok' : ratio >= 1 ? 'over' : ratio >= 0.8 ? 'near' : 'ok';
    const fill = el('span', { class: 'fill' });
    fill.style.width = `${Math.min(100, Math.round(ratio * 100))}%`;
    const text = unlimited ? `${used} used · unlimited` : `${used} of ${limit}`;
    return el('li', { class: `usage ${level}`, 'data-metric': metric },
              el('div', { class: 'usage-head' },
                 el('span', { class: 'usage-name', id: `m-${metric}` }, label(metric)),
                 el('span', { class: 'usage-count' }, text,
                    level === 'over' ? ' · limit reached' : level === 'near' ? ' · nearly there' : '')),
              el('div', { class: 'bar', role: 'progressbar', 'aria-labelledby': `m-${metric}`,
                          'aria-valuemin': '0', 'aria-valuemax': unlimited ? false : String(limit),
                          'aria-valuenow': String(used), 'aria-valuetext': text }, fill));
}

const STATUS = { active: 'Active', trialing: 'Trial', past_due: 'Payment past due',
                 canceled: 'Canceled' };

export async function homePage() {
    shell('Home', el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    const at = location.pathname;
    let me, sub, usage;
    try {
        [me, sub, usage] = await Promise.all([api('GET', '/v1/me'),
                                              api('GET', '/v1/billing/subscription'),
                                              api('GET', '/v1/usage/summary')]);
    } catch (error) {
        if (signedIn() && location.pathname === at)
            shell('Home', el('p', { class: 'form-error', role: 'alert' }, explain(error)),
                  el('button', { type: 'button', onclick: homePage }, 'Try again'));
        return;
    }
    if (location.pathname !== at)
        return;             // the user moved on while Home was loading
    const metrics = Object.entries(usage.metrics || {}).sort(([a], [b]) => a.localeCompare(b));
    const banners = [];
    if (sub.status === 'past_due')
        banners.push(el('p', { class: 'banner over', role: 'alert' },
                        'Your last payment did not go through: please update your payment method.'));
    if ((sub.over_limits || []).length)
        banners.push(el('p', { class: 'banner near', role: 'alert' },
                        `Over your plan's limit: ${sub.over_limits.map(label).join(', ')}.`));
    shell('Home', ...banners,
          el('section', { class: 'card summary', 'aria-labelledby': 'org-name' },
             el('h2', { id: 'org-name', class: 'org-name' }, me.organization.name),
             el('dl', {},
                el('div', {}, el('dt', {}, 'Plan'), el('dd', { class: 'plan' }, sub.plan)),
                el('div', {}, el('dt', {}, 'Status'),
                   el('dd', { class: `status ${sub.status}` }, STATUS[sub.status] || sub.status)),
                me.user ? el('div', {}, el('dt', {}, 'Signed in as'), el('dd', {}, me.user.email))
                        : null)),
          el('section', { class: 'card', 'aria-labelledby': 'usage-title' },
             el('h2', { id: 'usage-title' }, 'Usage this period'),
             el('p', { class: 'period' }, period(usage.period_start, usage.period_end)),
             metrics.length
                 ? el('ul', { class: 'usage-list' }, metrics.map(([m, v]) => usageBar(m, v)))
                 : el('p', { class: 'empty' }, 'Nothing used yet this period.')));
}

function period(start, end) {
    const day = (iso) => new Date(iso).toLocaleDateString(undefined,
                                                          { day: 'numeric', month: 'short' });
    return start && end ? `${day(start)} – ${day(end)}` : '';
}
