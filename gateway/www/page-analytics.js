// gateway/www/page-analytics.js — the Analytics page (/app/analytics), a
// plan feature (`analytics`).
//
// What it shows, for a date range and one business or all: figures
// (calls, minutes, average duration, orders, revenue per currency,
// conversion = orders / calls), calls and orders by status, and two
// chart.js bar charts with their data tables: calls per day and the
// busiest hours (the API answers the 5 busiest hours of the day, which
// the chart shows in the day's order).
//
// Its state is in the URL's query, so that a link or Back shows the same
// view: ?days=7|30|90 (the last N days, today included; 30 by default)
// or ?from=YYYY-MM-DD&to=YYYY-MM-DD (both days included), and
// &business=<id>. Days are those of a time zone: the chosen business's,
// else the organization's first business's (what the API falls back on
// too), else UTC; the page passes it as `timezone` and says which.
//
// Routes: GET /v1/businesses (the filter, the zones: ui.js businessMap),
// GET /v1/analytics/overview?from&to&timezone&business_id. States:
// loading; the figures (an empty range says there were no calls); a
// 403 feature_not_in_plan as an upgrade prompt linking to /app/billing
// (for a user who is not an admin: that an admin can upgrade);
// other errors in words with Try again; answers that arrive after the
// user moved on draw nothing.

import { ApiError, api, currentMe } from './api.js';
import { barChart } from './chart.js';
import { addDays, businessMap, dayLabels, dayStart, el, explain, isoDay, money, navigate,
         referenceZone,
         shell } from './ui.js';

const PRESETS = [7, 30, 90];
const MAX_DAYS = 366;
const CALL_STATUS = [['completed', 'Completed'], ['missed', 'Missed'],
                     ['voicemail', 'Voicemail'], ['transferred', 'Transferred']];
const ORDER_STATUS = [['pending', 'Pending'], ['confirmed', 'Confirmed'],
                      ['fulfilled', 'Fulfilled'], ['cancelled', 'Cancelled']];
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

// The view the URL asks for: { days } or { from, to }, and business.
function readQuery() {
    const query = new URLSearchParams(location.search);
    const view = { business: query.get('business') || '' };
    const from = query.get('from'), to = query.get('to');
    if (from && to && DAY_RE.test(from) && DAY_RE.test(to)) {
        view.from = from;
        view.to = to;
    } else {
        const days = Number(query.get('days'));
        view.days = PRESETS.includes(days) ? days : 30;
    }
    return view;
}

function queryOf(view) {
    const query = new URLSearchParams();
    if (view.days)
        query.set('days', String(view.days));
    else {
        query.set('from', view.from);
        query.set('to', view.to);
    }
    if (view.business)
        query.set('business', view.business);
    return `/app/analytics?${query}`;
}

// [first day, last day, from ISO, to ISO] of view in zone.
function rangeOf(view, zone) {
    const now = new Date();
    if (view.days) {
        const today = isoDay(now.toISOString(), zone);
        const first = addDays(today, -(view.days - 1));
        return [first, today, new Date(dayStart(first, zone)).toISOString(), now.toISOString()];
    }
    return [view.from, view.to, new Date(dayStart(view.from, zone)).toISOString(),
            new Date(dayStart(addDays(view.to, 1), zone)).toISOString()];
}

const number = (n) => Number(n || 0).toLocaleString();

function duration(seconds) {
    const s = Math.round(Number(seconds) || 0);
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function figure(name, key, value) {
    return el('div', { class: 'figure', 'data-figure': key },
              el('dt', {}, name), el('dd', {}, value));
}

function breakdown(title, key, statuses, counts) {
    return el('section', { class: 'card breakdown', 'data-breakdown': key,
                           'aria-labelledby': `bd-${key}` },
              el('h2', { id: `bd-${key}` }, title),
              el('dl', {}, statuses.map(([status, name]) =>
                  el('div', { 'data-status': status }, el('dt', {}, name),
                     el('dd', {}, number(counts && counts[status]))))));
}

function hourLabel(hour) {
    const pad = (h) => `${String(h % 24).padStart(2, '0')}:00`;
    return { short: pad(hour), label: `${pad(hour)}–${pad(hour + 1)}` };
}

// ---- the controls -----------------------------------------------------------

function controls(view, businesses) {
    const range = el('select', { id: 'an-range', name: 'range' },
                     PRESETS.map((n) => el('option', { value: String(n),
                                                       selected: view.days === n },
                                           `Last ${n} days`)),
                     el('option', { value: 'custom', selected: !view.days }, 'Custom dates'));
    const today = isoDay(new Date().toISOString(), 'UTC');
    const from = el('input', { type: 'date', id: 'an-from', name: 'from',
                               value: view.from || addDays(today, -29),
                               'aria-describedby': 'an-error' });
    const to = el('input', { type: 'date', id: 'an-to', name: 'to', value: view.to || today,
                             'aria-describedby': 'an-error' });
    const custom = el('div', { class: 'custom-range', hidden: Boolean(view.days) },
                      el('div', { class: 'field' }, el('label', { for: from.id }, 'From'), from),
                      el('div', { class: 'field' }, el('label', { for: to.id }, 'To'), to));
    range.addEventListener('change', () => {
        custom.hidden = range.value !== 'custom';
    });
    const business = el('select', { id: 'an-business', name: 'business' },
                        el('option', { value: '' }, 'All businesses'),
                        [...businesses.values()].map((b) =>
                            el('option', { value: b.id, selected: b.id === view.business },
                               b.name)));
    const error = el('p', { class: 'field-error', id: 'an-error', role: 'alert', hidden: true });
    const form = el('form', { class: 'card analytics-controls', 'aria-label': 'Date range and business',
                              novalidate: true },
                    el('div', { class: 'controls-row' },
                       el('div', { class: 'field' }, el('label', { for: range.id }, 'Date range'),
                          range),
                       custom,
                       el('div', { class: 'field' }, el('label', { for: business.id }, 'Business'),
                          business),
                       el('button', { type: 'submit', class: 'primary' }, 'Show')),
                    error);
    form.addEventListener('submit', (event) => {
        event.preventDefault();
        const next = { business: business.value };
        if (range.value === 'custom') {
            const span = from.value && to.value
                ? (Date.parse(to.value) - Date.parse(from.value)) / 86400000 + 1 : 0;
            if (!DAY_RE.test(from.value) || !DAY_RE.test(to.value) || span < 1 || span > MAX_DAYS) {
                error.textContent = !from.value || !to.value
                    ? 'Please choose both dates.'
                    : span < 1 ? 'The first day must not be after the last.'
                               : `Please choose at most ${MAX_DAYS} days.`;
                error.hidden = false;
                from.setAttribute('aria-invalid', 'true');
                from.focus();
                return;
            }
            next.from = from.value;
            next.to = to.value;
        } else {
            next.days = Number(range.value);
        }
        navigate(queryOf(next));
    });
    return form;
}

// Billing is an admin's page: others are told to ask one.
function isAdmin() {
    const me = currentMe();
    return !me || me.role === 'admin';
}

// ---- the page -----------------------------------------------------------------

export async function analyticsPage() {
    shell('Analytics', el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    const at = location.pathname + location.search;
    const here = () => location.pathname + location.search === at;
    const view = readQuery();
    let businesses, zone, first, last, answer;
    try {
        businesses = await businessMap();
        if (view.business && !businesses.has(view.business))
            view.business = '';
        zone = referenceZone(businesses, view.business);
        let from, to;
        [first, last, from, to] = rangeOf(view, zone);
        const query = new URLSearchParams({ from, to, timezone: zone });
        if (view.business)
            query.set('business_id', view.business);
        answer = await api('GET', `/v1/analytics/overview?${query}`);
    } catch (error) {
        if (!here() || (error instanceof ApiError && error.status === 401))
            return;
        if (error instanceof ApiError && error.code === 'feature_not_in_plan')
            return shell('Analytics',
                         el('section', { class: 'card upgrade-prompt', 'aria-labelledby': 'up-title' },
                            el('h2', { id: 'up-title' }, 'Analytics is not in your plan'),
                            el('p', {}, 'See your calls per day, your busiest hours, orders, ' +
                                        'revenue and how many calls become orders, on a plan ' +
                                        'with analytics.'),
                            isAdmin()
                                ? el('p', {}, el('a', { class: 'button primary-link',
                                                        href: '/app/billing', 'data-link': true },
                                                 'Upgrade your plan'))
                                : el('p', {}, 'An admin of your organization can upgrade ' +
                                              'the plan on the Billing page.')));
        return shell('Analytics', el('p', { class: 'form-error', role: 'alert' }, explain(error)),
                     el('button', { type: 'button', onclick: analyticsPage }, 'Try again'));
    }
    if (!here())
        return;             // the user moved on while the figures were loading
    const calls = answer.calls || {};
    const orders = answer.orders || {};
    const days = (calls.by_day || []).map((d) => ({ key: d.date, ...dayLabels(d.date),
                                                     value: d.calls }));
    const hours = [...(answer.busiest_hours || [])].sort((a, b) => a.hour - b.hour)
        .map((h) => ({ key: String(h.hour), ...hourLabel(h.hour), value: h.calls }));
    const revenue = (orders.revenue || []).length
        ? orders.revenue.map((r) => money(r.cents, r.currency)).join(' + ')
        : '0';
    const scope = view.business ? businesses.get(view.business).name : 'All businesses';
    const span = `${dayLabels(first).label} – ${dayLabels(last).label}`;
    shell('Analytics',
          controls(view, businesses),
          el('p', { class: 'period', id: 'an-scope' },
             `${scope} · ${span} · times in ${answer.timezone || zone}`),
          el('section', { class: 'card', 'aria-labelledby': 'an-figures' },
             el('h2', { id: 'an-figures' }, 'Figures'),
             el('dl', { class: 'figures' },
                figure('Calls', 'calls', number(calls.total)),
                figure('Minutes', 'minutes', number(calls.minutes)),
                figure('Average call', 'average', duration(calls.average_duration_seconds)),
                figure('Orders', 'orders', number(orders.total)),
                figure('Revenue', 'revenue', revenue),
                figure('Calls that became orders', 'conversion',
                       `${(Number(answer.conversion || 0) * 100).toFixed(1)} %`)),
             calls.total ? null
                         : el('p', { class: 'empty' }, 'No calls in this range.')),
          el('div', { class: 'breakdowns' },
             breakdown('Calls by status', 'calls', CALL_STATUS, calls.by_status),
             breakdown('Orders by status', 'orders', ORDER_STATUS, orders.by_status)),
          el('section', { class: 'card', 'aria-labelledby': 'an-charts' },
             el('h2', { id: 'an-charts' }, 'Charts'),
             el('div', { class: 'charts' },
                barChart({ title: 'Calls per day', points: days, noun: ['call', 'calls'],
                           empty: 'No calls in this range' }),
                barChart({ title: 'Busiest hours', points: hours, noun: ['call', 'calls'],
                           summary: 'The five hours of the day with the most calls.',
                           empty: 'No calls in this range' }))));
}
