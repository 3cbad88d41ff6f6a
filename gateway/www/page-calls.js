// gateway/www/page-calls.js — the Calls page, and the filtered, paged
// list that the Orders page (page-orders.js) shares with it:
//
//   /app/calls          the calls (GET /v1/calls?limit=…), newest first,
//                       20 at a time: "Load more calls" follows next_cursor.
//                       Each row: the time the call started in its
//                       business's time zone (ui.js when), the business,
//                       the caller's number, the duration (m:ss) and a
//                       status badge; the time links to the call.
//   /app/calls/<id>     one call (GET /v1/calls/<id>): every field, the
//                       summary and the transcript (text with its line
//                       breaks kept, never HTML), a link back to the list
//                       with its filters; a 404 says the call no longer
//                       exists.
//
// Filters (business, status, from and to dates) live in the URL's query —
// ?business_id=&status=&from=YYYY-MM-DD&to=YYYY-MM-DD — so a filtered view
// is a link to share and Back returns to the previous filters; the detail
// page carries the same query, for its link back. The dates are whole days
// in the chosen business's time zone (with "all businesses": UTC), which
// the form says; they become the API's `from` (the first day's midnight)
// and `to` (the midnight after the last day, exclusive). A query value
// that makes no sense (an unknown business, a status not in the list, a
// malformed date) is left out and the page says so. The businesses come
// from ui.js businessMap (names and zones; a deleted business's rows show
// "a deleted business" and UTC).
//
// States: "Loading…", the empty organization ("No calls yet — …"), no row
// matching the filters (with a link to clear them), errors in words
// (ui.js explain) with "Try again". A page whose answers arrive after the
// user has moved elsewhere (another path or another query) draws nothing;
// a 401 draws nothing either (api.js ends the session and app.js shows the
// log-in page).
//
// The list machinery is shared with page-orders.js (exported here):
// listPage, statusBadge, backLink, detailList, sameView (money, failed and
// the days in a zone are ui.js's).

import { api, ApiError } from './api.js';
import { addDays, businessMap, dayStart, el, explain, failed, navigate, shell,
         when } from './ui.js';

export const PAGE_SIZE = 20;
const CALL_STATUSES = ['completed', 'missed', 'voicemail', 'transferred'];

// ---- helpers shared with page-orders.js ---------------------------------------

function zoneKnown(timeZone) {
    if (!timeZone)
        return false;
    try {
        new Intl.DateTimeFormat('en', { timeZone });
        return true;
    } catch {
        return false;
    }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

// A real calendar date "YYYY-MM-DD" (else null): [year, month, day].
function dateParts(text) {
    const match = DATE.exec(text || '');
    if (!match)
        return null;
    const [year, month, dayOf] = match.slice(1).map(Number);
    const check = new Date(Date.UTC(year, month - 1, dayOf));
    if (year < 1000 || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== dayOf)
        return null;
    return [year, month, dayOf];
}

export function statusBadge(status) {
    return el('span', { class: `rec-badge st-${status}` }, status);
}

export function backLink(path, label) {
    return el('a', { class: 'rec-back', href: `${path}${location.search}`, 'data-link': true },
              `← ${label}`);
}

// <dl> of [term, value] pairs (a null value leaves its pair out).
export function detailList(pairs) {
    return el('dl', { class: 'rec-facts' },
              pairs.filter(([, value]) => value !== null && value !== undefined && value !== '')
                   .map(([term, value]) => el('div', {}, el('dt', {}, term), el('dd', {}, value))));
}

// A view (path and query) still shown: answers for another view draw nothing.
export function sameView(at) {
    return location.pathname + location.search === at;
}

const quiet = (error) => error instanceof ApiError && error.status === 401;

// ---- the filtered list ---------------------------------------------------------

// The filters in the URL, checked against the businesses and statuses:
// { business, status, from, to, dropped: [words] }.
function readFilters(businesses, statuses) {
    const query = new URLSearchParams(location.search);
    const out = { business: null, status: null, from: null, to: null, dropped: [] };
    const business = query.get('business_id');
    if (business) {
        if (businesses.has(business))
            out.business = business;
        else
            out.dropped.push('a business that no longer exists');
    }
    const status = query.get('status');
    if (status) {
        if (statuses.includes(status))
            out.status = status;
        else
            out.dropped.push(`the status "${status}"`);
    }
    for (const key of ['from', 'to']) {
        const value = query.get(key);
        if (!value)
            continue;
        if (dateParts(value))
            out[key] = value;
        else
            out.dropped.push(`the date "${value}"`);
    }
    return out;
}

function filterQuery(filters) {
    const query = new URLSearchParams();
    for (const [key, name] of [['business', 'business_id'], ['status', 'status'],
                               ['from', 'from'], ['to', 'to']])
        if (filters[key])
            query.set(name, filters[key]);
    const text = query.toString();
    return text ? `?${text}` : '';
}

function zoneWords(businesses, id) {
    const business = id && businesses.get(id);
    if (business && zoneKnown(business.timezone))
        return `Dates are whole days in ${business.timezone} time (${business.name}'s time zone).`;
    return 'Dates are whole days in UTC (all businesses).';
}

let uid = 0;

function filterForm(spec, businesses, filters) {
    const n = ++uid;
    const select = (id, label, name, options, value) => el('div', { class: 'field' },
        el('label', { for: id }, label),
        el('select', { id, name }, options.map(([v, text]) =>
            el('option', { value: v, selected: v === (value || '') }, text))));
    const names = [...businesses.values()].sort((a, b) => a.name.localeCompare(b.name));
    const hint = el('p', { class: 'hint', id: `flt-${n}-zone` },
                    zoneWords(businesses, filters.business));
    const date = (id, label, name, value) => el('div', { class: 'field' },
        el('label', { for: id }, label),
        el('input', { id, name, type: 'date', value: value || '',
                      'aria-describedby': `flt-${n}-zone` }));
    const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
    const form = el('form', { class: 'card filters', 'aria-label': `Filter ${spec.noun.plural}`,
                              novalidate: true },
        error,
        el('div', { class: 'filter-grid' },
           select(`flt-${n}-b`, 'Business', 'business_id',
                  [['', 'All businesses'], ...names.map((b) => [b.id, b.name])], filters.business),
           select(`flt-${n}-s`, 'Status', 'status',
                  [['', 'Any status'], ...spec.statuses.map((s) => [s, s[0].toUpperCase() + s.slice(1)])],
                  filters.status),
           date(`flt-${n}-f`, 'From (first day)', 'from', filters.from),
           date(`flt-${n}-t`, 'To (last day)', 'to', filters.to)),
        hint,
        el('div', { class: 'actions' },
           el('button', { type: 'submit', class: 'apply' }, 'Apply filters'),
           filterQuery(filters)
               ? el('a', { class: 'button', href: spec.path, 'data-link': true }, 'Clear filters')
               : null));
    form.elements.namedItem('business_id').addEventListener('change', (event) => {
        hint.textContent = zoneWords(businesses, event.target.value);
    });
    form.addEventListener('submit', (event) => {
        event.preventDefault();
        const value = (name) => form.elements.namedItem(name).value || null;
        const next = { business: value('business_id'), status: value('status'),
                       from: value('from'), to: value('to') };
        for (const key of ['from', 'to'])
            if (next[key] && !dateParts(next[key])) {
                error.textContent = 'Please enter whole dates (year, month and day).';
                error.hidden = false;
                return error.focus();
            }
        if (next.from && next.to && next.from > next.to) {
            error.textContent = 'The first day comes after the last day: please swap them.';
            error.hidden = false;
            form.elements.namedItem('from').focus();
            return;
        }
        navigate(`${spec.path}${filterQuery(next)}`);
    });
    return form;
}

// The API's query for filters (+ cursor).
function apiQuery(filters, businesses, cursor) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (filters.business)
        query.set('business_id', filters.business);
    if (filters.status)
        query.set('status', filters.status);
    const zone = filters.business && zoneKnown(businesses.get(filters.business).timezone)
        ? businesses.get(filters.business).timezone : 'UTC';
    const instant = (ms) => new Date(ms).toISOString();
    if (filters.from)
        query.set('from', instant(dayStart(filters.from, zone)));
    if (filters.to)             // the API's `to` is exclusive: the next midnight
        query.set('to', instant(dayStart(addDays(filters.to, 1), zone)));
    if (cursor)
        query.set('cursor', cursor);
    return query.toString();
}

// The list page that Calls and Orders share. spec: { title, path, api,
// statuses, noun: {one, plural}, empty, columns: [header…],
// cells(item, business, link) → [cell…] (the first holds the link) }.
export async function listPage(spec, notice) {
    const at = location.pathname + location.search;
    shell(spec.title, el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    let businesses, filters, first;
    try {
        businesses = await businessMap();
        filters = readFilters(businesses, spec.statuses);
        if (sameView(at) && !(filters.from && filters.to && filters.from > filters.to))
            first = await api('GET', `${spec.api}?${apiQuery(filters, businesses, null)}`);
    } catch (error) {
        if (quiet(error) || !sameView(at))
            return;
        return failed(spec.title, error, () => listPage(spec, notice));
    }
    if (!sameView(at))
        return;             // the user moved on while the list was loading
    const filtered = filterQuery(filters) !== '';
    const body = el('tbody');
    const status = el('p', { class: 'rec-count', role: 'status', tabindex: '-1' });
    const more = el('button', { type: 'button', class: 'more' }, `Load more ${spec.noun.plural}`);
    let shown = 0;
    const count = (cursor) => {
        const noun = shown === 1 ? spec.noun.one : spec.noun.plural;
        status.textContent = `${shown} ${noun} shown${cursor ? ', more to load' : ''}.`;
    };
    const append = (page) => {
        const rows = (page.data || []).map((item) => {
            const business = businesses.get(item.business_id) || null;
            const link = `${spec.path}/${item.id}${location.search}`;
            const cells = spec.cells(item, business, link);
            return el('tr', { 'data-id': item.id },
                      cells.map((cell, i) => el(i === 0 ? 'th' : 'td',
                                                { scope: i === 0 ? 'row' : null,
                                                  'data-label': spec.columns[i] }, cell)));
        });
        body.append(...rows);
        shown += rows.length;
        more.hidden = !page.next_cursor;
        count(page.next_cursor);
        return rows;
    };
    let cursor = null;
    more.addEventListener('click', async () => {
        more.disabled = true;
        more.textContent = 'Loading…';
        try {
            const page = await api('GET', `${spec.api}?${apiQuery(filters, businesses, cursor)}`);
            if (!sameView(at) || !more.isConnected)
                return;
            cursor = page.next_cursor;
            const rows = append(page);
            const link = rows.length && rows[0].querySelector('a');
            if (link)
                link.focus();
            else
                status.focus();
        } catch (error) {
            if (quiet(error) || !more.isConnected)
                return;
            status.textContent = explain(error);
        } finally {
            more.disabled = false;
            more.textContent = `Load more ${spec.noun.plural}`;
        }
    });
    const dropped = filters.dropped.length
        ? el('p', { class: 'notice', role: 'status' },
             `Left out of the filters: ${filters.dropped.join(', ')}.`) : null;
    const badRange = filters.from && filters.to && filters.from > filters.to;
    let content;
    if (badRange) {
        content = el('p', { class: 'form-error range-error', role: 'alert' },
                     'The first day comes after the last day: no ' + spec.noun.plural +
                     ' can match. Please change the dates.');
    } else if (!(first.data || []).length) {
        content = filtered
            ? el('p', { class: 'empty' }, `No ${spec.noun.plural} match these filters. `,
                 el('a', { href: spec.path, 'data-link': true }, `Show all ${spec.noun.plural}`))
            : el('p', { class: 'empty' }, spec.empty);
    } else {
        cursor = first.next_cursor;
        append(first);
        content = el('div', {},
            status,
            el('table', { class: `records ${spec.noun.plural}` },
               el('caption', { class: 'sr' }, `${spec.title}, newest first`),
               el('thead', {}, el('tr', {}, spec.columns.map((column) =>
                   el('th', { scope: 'col' }, column)))),
               body),
            more);
    }
    shell(spec.title,
          notice ? el('p', { class: 'notice', role: 'status' }, notice) : null,
          dropped, filterForm(spec, businesses, filters), content);
    document.getElementById('main').focus();
}

// ---- calls ---------------------------------------------------------------------

export function duration(seconds) {
    const s = Math.max(0, Math.floor(Number(seconds) || 0));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function businessName(business) {
    return business ? business.name : 'a deleted business';
}

const CALLS = {
    title: 'Calls', path: '/app/calls', api: '/v1/calls', statuses: CALL_STATUSES,
    noun: { one: 'call', plural: 'calls' },
    empty: 'No calls yet — calls your receptionist takes appear here.',
    columns: ['Time', 'Business', 'Caller', 'Duration', 'Status'],
    cells: (call, business, link) => [
        el('a', { href: link, 'data-link': true, class: 'when' },
           when(call.started_at, business && business.timezone)),
        businessName(business),
        el('span', { class: 'number' }, call.caller_number),
        el('span', { class: 'duration' }, duration(call.duration_seconds)),
        statusBadge(call.status)
    ]
};

async function detail(id) {
    const title = 'Call';
    const at = location.pathname + location.search;
    const back = backLink('/app/calls', 'All calls');
    shell(title, el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    let call, businesses;
    try {
        [call, businesses] = await Promise.all([api('GET', `/v1/calls/${id}`), businessMap()]);
    } catch (error) {
        if (quiet(error) || !sameView(at))
            return;
        if (error instanceof ApiError && error.status === 404)
            return shell(title, el('p', { class: 'empty', role: 'alert' },
                                   'This call no longer exists.'), el('p', {}, back));
        return failed(title, error, () => detail(id), back);
    }
    if (!sameView(at))
        return;
    const business = businesses.get(call.business_id) || null;
    const zone = business && business.timezone;
    const text = (value, none, cls) => value
        ? el('div', { class: `prose ${cls}` }, value)
        : el('p', { class: 'empty' }, none);
    shell(`Call from ${call.caller_number}`,
          el('p', {}, back),
          el('section', { class: 'card call', 'aria-labelledby': 'call-facts' },
             el('h2', { id: 'call-facts' }, 'Details'),
             detailList([['Business', businessName(business)],
                         ['Caller', call.caller_number],
                         ['Started', when(call.started_at, zone)],
                         ['Duration', `${duration(call.duration_seconds)} (${call.duration_seconds} s)`],
                         ['Status', statusBadge(call.status)],
                         ['Recorded', when(call.created_at, zone)],
                         ['Call ID', el('code', {}, call.id)]])),
          el('section', { class: 'card', 'aria-labelledby': 'call-summary' },
             el('h2', { id: 'call-summary' }, 'Summary'),
             text(call.summary, 'No summary was recorded.', 'summary-text')),
          el('section', { class: 'card', 'aria-labelledby': 'call-transcript' },
             el('h2', { id: 'call-transcript' }, 'Transcript'),
             text(call.transcript, 'No transcript was recorded.', 'transcript')));
    document.getElementById('main').focus();
}

export function callsPage(id, notice) {
    if (id === null)
        return listPage(CALLS, notice);
    return detail(id);
}
