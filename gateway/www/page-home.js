// gateway/www/page-home.js — Home (/app/): the organization, its plan and
// status, usage this period against the plan's limits (bars that turn
// amber at 80 % and red at 100 %), a banner when the subscription is past
// due or over a limit. The bars' widths are set through the CSSOM, which
// the CSP allows.
//
// Below them, drawn once the rest has arrived (their own loading, empty
// and error states, so that a slow chart never holds Home back):
//   - calls and orders per day over the last 30 days (chart.js bar
//     charts with their data tables), the days being those of the
//     organization's first business's time zone (the zone Analytics falls
//     back on too; UTC without a business): calls from GET /v1/usage
//     ?metric=calls&granularity=hour&from&to (hours, regrouped into the
//     zone's days: exact for zones a whole number of hours from UTC),
//     orders from GET /v1/orders?from&to (orders are no usage metric),
//     counting at most 1,000 (the chart says so when there are more);
//   - the 5 most recent calls (GET /v1/calls?limit=5), each at its
//     business's local time (ui.js when, businessMap), linking to
//     /app/calls/<id>.

import { api, signedIn } from './api.js';
import { barChart } from './chart.js';
import { addDays, businessMap, dayLabels, dayStart, daysFrom, el, explain, isoDay, referenceZone,
         shell, when } from './ui.js';

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
    const activity = el('div', { class: 'activity' });
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
                 : el('p', { class: 'empty' }, 'Nothing used yet this period.')),
          activity);
    fillActivity(activity);
}

// ---- the last 30 days and the recent calls ----------------------------------

const DAYS = 30;
const MAX_ORDER_PAGES = 10;
const CALL_STATUS = { completed: 'Completed', missed: 'Missed', voicemail: 'Voicemail',
                      transferred: 'Transferred' };

const loading = () => el('p', { class: 'loading', role: 'status' }, 'Loading…');

async function ordersSince(from, to) {
    const list = [];
    let cursor = null, pages = 0;
    do {
        const page = await api('GET', `/v1/orders?limit=100&from=${encodeURIComponent(from)}` +
                                      `&to=${encodeURIComponent(to)}` +
                                      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''));
        list.push(...(page.data || []));
        cursor = page.next_cursor;
    } while (cursor && ++pages < MAX_ORDER_PAGES);
    return { list, more: Boolean(cursor) };
}

function perDay(days, items, zone) {
    const counts = new Map(days.map((day) => [day, 0]));
    for (const [iso, value] of items) {
        const day = isoDay(iso, zone);
        if (counts.has(day))
            counts.set(day, counts.get(day) + value);
    }
    return days.map((day) => ({ key: day, ...dayLabels(day), value: counts.get(day) }));
}

function recentCall(call, businesses) {
    const business = businesses.get(call.business_id);
    const zone = business ? business.timezone : 'UTC';
    const minutes = Math.floor(call.duration_seconds / 60), seconds = call.duration_seconds % 60;
    return el('li', { class: 'recent-call', 'data-id': call.id },
              el('a', { href: `/app/calls/${call.id}`, 'data-link': true },
                 el('span', { class: 'call-when' }, when(call.started_at, zone)),
                 el('span', { class: 'call-who' }, call.caller_number)),
              el('span', { class: 'call-meta' },
                 [business ? business.name : null, CALL_STATUS[call.status] || call.status,
                  `${minutes} min ${String(seconds).padStart(2, '0')} s`]
                     .filter(Boolean).join(' · ')));
}

// Fills box (a div of Home) with the charts and the recent calls.
async function fillActivity(box) {
    const trend = el('section', { class: 'card trend', 'aria-labelledby': 'trend-title' },
                     el('h2', { id: 'trend-title' }, `The last ${DAYS} days`), loading());
    const recent = el('section', { class: 'card recent', 'aria-labelledby': 'recent-title' },
                      el('h2', { id: 'recent-title' }, 'Recent calls'), loading());
    box.replaceChildren(trend, recent);
    const now = new Date();
    let businesses, zone, calls, orders, latest;
    try {
        businesses = await businessMap();
        zone = referenceZone(businesses);
        const today = isoDay(now.toISOString(), zone);
        const first = addDays(today, -(DAYS - 1));
        const fromMs = Math.floor(dayStart(first, zone) / 3600000) * 3600000;
        const from = new Date(fromMs).toISOString(), to = now.toISOString();
        const days = daysFrom(first, today);
        const [usage, ordered, last] = await Promise.all([
            api('GET', `/v1/usage?metric=calls&granularity=hour&from=${encodeURIComponent(from)}` +
                       `&to=${encodeURIComponent(to)}`),
            ordersSince(from, to),
            api('GET', '/v1/calls?limit=5')]);
        calls = perDay(days, (usage.points || []).map((p) => [p.t, Number(p.value) || 0]), zone);
        orders = perDay(days, ordered.list.map((o) => [o.created_at, 1]), zone);
        orders.more = ordered.more;
        latest = last.data || [];
    } catch (error) {
        if (!box.isConnected || !signedIn())
            return;
        const retry = el('button', { type: 'button', onclick: () => fillActivity(box) },
                         'Try again');
        const put = (node, ...children) => node.replaceChildren(...children.filter(Boolean));
    put(trend, trend.firstChild,
                              el('p', { class: 'form-error', role: 'alert' }, explain(error)), retry);
        recent.replaceChildren(recent.firstChild);
        return;
    }
    if (!box.isConnected)
        return;             // the user moved on
    const zoneNote = `Days in the ${zone} time zone.`;
    const put = (node, ...children) => node.replaceChildren(...children.filter(Boolean));
    put(trend, trend.firstChild,
        el('p', { class: 'period' }, zoneNote),
        el('div', { class: 'charts' },
           barChart({ title: 'Calls per day', points: calls, noun: ['call', 'calls'],
                      empty: 'No calls in the last 30 days' }),
           barChart({ title: 'Orders per day', points: orders, noun: ['order', 'orders'],
                      empty: 'No orders in the last 30 days',
                      summary: orders.more ? 'Only the latest 1,000 orders are counted.' : '' })),
        orders.more ? el('p', { class: 'hint' }, 'Only the latest 1,000 orders are counted.')
                    : null);
    put(recent, recent.firstChild,
        latest.length
            ? el('ul', { class: 'recent-calls' }, latest.map((c) => recentCall(c, businesses)))
            : el('p', { class: 'empty' }, 'No calls yet. The calls your businesses take ' +
                                          'will appear here.'),
        latest.length ? el('p', {}, el('a', { href: '/app/calls', 'data-link': true },
                                       'All calls')) : null);
}

function period(start, end) {
    const day = (iso) => new Date(iso).toLocaleDateString(undefined,
                                                          { day: 'numeric', month: 'short' });
    return start && end ? `${day(start)} – ${day(end)}` : '';
}
