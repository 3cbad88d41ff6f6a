// gateway/www/page-businesses.js — the Businesses page:
//
//   /app/businesses          the list (name, phone, time zone), the plan's
//                            business limit, delete with a confirmation
//                            dialog (<dialog>, focus kept inside it)
//   /app/businesses/new      create (POST /v1/businesses)
//   /app/businesses/<id>     edit (PATCH /v1/businesses/<id>)
//
// Opening hours: per day mon…sun up to 4 intervals of HH:MM (type=time);
// a close earlier than its open is past midnight, which the form says
// next to the interval. A 402 plan_limit_reached becomes an upgrade prompt
// linking to /app/billing. A page whose answers arrive after the user has
// moved elsewhere draws nothing. Field errors from the API appear next to their
// fields (formError); the API's `fields.hours` next to the hours.

import { api, ApiError } from './api.js';
import { confirmDialog, el, explain, failed, formError, navigate, shell } from './ui.js';

const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'],
              ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
const MAX_INTERVALS = 4;
const NAMES = { name: 'Name', phone_number: 'Phone number', timezone: 'Time zone',
                greeting: 'Greeting', hours: 'Opening hours' };

function zones() {
    try {
        return Intl.supportedValuesOf('timeZone');
    } catch {
        return ['UTC'];
    }
}

function limitText(sub) {
    const limit = sub.limits && sub.limits.businesses;
    const used = sub.usage && sub.usage.businesses;
    if (used === undefined || used === null)
        return null;
    const noun = (n) => (n === 1 ? 'business' : 'businesses');
    if (limit === undefined || limit === null || limit < 0)
        return `${used} ${noun(used)} · unlimited on the ${sub.plan} plan`;
    return `${used} of ${limit} ${noun(limit)} on the ${sub.plan} plan`;
}

function upgradePrompt(error) {
    const limit = error && error.limit !== undefined ? ` (${error.limit})` : '';
    return [`Your plan's business limit${limit} is reached. `,
            el('a', { href: '/app/billing', 'data-link': true }, 'Upgrade your plan'),
            ' to add more businesses.'];
}

// ---- the list -------------------------------------------------------------

async function list(notice) {
    shell('Businesses', el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    const at = location.pathname;
    let page, sub;
    try {
        [page, sub] = await Promise.all([api('GET', '/v1/businesses?limit=100'),
                                         api('GET', '/v1/billing/subscription')]);
    } catch (error) {
        if ((error instanceof ApiError && error.status === 401) || location.pathname !== at)
            return;
        return failed('Businesses', error, () => list());
    }
    if (location.pathname !== at)
        return;             // the user moved on while the list was loading
    const businesses = page.data || [];
    const limit = limitText(sub);
    const dialog = confirmDialog({
        title: 'Delete this business?', yes: 'Yes, delete',
        text: (b) => `${b.name} and its settings will be deleted. This cannot be undone.`,
        action: async (b) => {
            await api('DELETE', `/v1/businesses/${b.id}`);
            list(`${b.name} was deleted.`);
        }
    });
    const rows = businesses.map((b) => el('li', { class: 'card business', 'data-id': b.id },
        el('h2', { class: 'business-name' }, b.name),
        el('dl', {},
           el('div', {}, el('dt', {}, 'Phone'), el('dd', { class: 'phone' }, b.phone_number)),
           el('div', {}, el('dt', {}, 'Time zone'), el('dd', { class: 'tz' }, b.timezone)),
           b.greeting ? el('div', {}, el('dt', {}, 'Greeting'),
                           el('dd', { class: 'greeting' }, b.greeting)) : null,
           el('div', { class: 'hours-row' }, el('dt', {}, 'Opening hours'),
              el('dd', { class: 'week-hours' }, hoursSummary(b.hours)))),
        el('div', { class: 'actions' },
           el('a', { class: 'button', href: `/app/businesses/${b.id}`, 'data-link': true,
                     'aria-label': `Edit ${b.name}` }, 'Edit'),
           el('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${b.name}`,
                          onclick: (event) => dialog.ask(b, event.currentTarget) }, 'Delete'))));
    shell('Businesses',
          notice ? el('p', { class: 'notice', role: 'status', tabindex: '-1' }, notice) : null,
          limit ? el('p', { class: 'limit' }, limit) : null,
          el('p', {}, el('a', { class: 'button primary-link', href: '/app/businesses/new',
                                'data-link': true }, 'Add a business')),
          businesses.length
              ? el('ul', { class: 'business-list' }, rows)
              : el('p', { class: 'empty' }, 'No business yet. Add one to start taking calls.'),
          dialog.node);
    const focus = document.querySelector('main .notice') || document.getElementById('main');
    focus.focus();
}

// The week's hours in words, a line per open day ("Fri 18:00–02:00 (next
// day)"); "Closed every day" for {} and "Not set" for null.
function hoursSummary(hours) {
    if (!hours)
        return 'Not set';
    const lines = DAYS.filter(([key]) => (hours[key] || []).length).map(([key, label]) =>
        el('span', { class: 'hours-day' }, `${label.slice(0, 3)} `,
           hours[key].map((i) => `${i.open}–${i.close}${i.close <= i.open ? ' (next day)' : ''}`)
                     .join(', ')));
    return lines.length ? lines : 'Closed every day';
}

// ---- the form -------------------------------------------------------------

let uid = 0;

function control(label, name, node, hint) {
    const id = node.id;
    const hintNode = hint ? el('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
    node.setAttribute('aria-describedby', [hint && `${id}-hint`, `${id}-error`]
                                          .filter(Boolean).join(' '));
    return el('div', { class: 'field' }, el('label', { for: id }, label), node, hintNode,
              el('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

function interval(dayLabel, value, onRemove) {
    const n = ++uid;
    const note = el('span', { class: 'overnight', hidden: true }, 'closes the next day');
    const open = el('input', { type: 'time', id: `h-open-${n}`, class: 'open', required: true,
                               value: value ? value.open : '' });
    const close = el('input', { type: 'time', id: `h-close-${n}`, class: 'close', required: true,
                                value: value ? value.close : '' });
    const update = () => {
        note.hidden = !(open.value && close.value && close.value < open.value);
    };
    open.addEventListener('input', update);
    close.addEventListener('input', update);
    update();
    return el('li', { class: 'interval' },
              el('label', { for: open.id }, el('span', { class: 'sr' }, `${dayLabel} `), 'Opens'),
              open,
              el('label', { for: close.id }, el('span', { class: 'sr' }, `${dayLabel} `), 'Closes'),
              close, note,
              el('button', { type: 'button', class: 'link',
                             'aria-label': `Remove these ${dayLabel} hours`,
                             onclick: onRemove }, 'Remove'));
}

function dayEditor(key, dayLabel, values) {
    const items = el('ul', { class: 'intervals' });
    const add = el('button', { type: 'button', class: 'small',
                               'aria-label': `Add hours on ${dayLabel}` }, 'Add hours');
    const closed = el('span', { class: 'closed' }, 'Closed');
    const sync = () => {
        const count = items.children.length;
        add.disabled = count >= MAX_INTERVALS;
        closed.hidden = count > 0;
    };
    const append = (value) => {
        const row = interval(dayLabel, value, () => {
            const next = row.nextElementSibling || row.previousElementSibling;
            row.remove();
            sync();
            (next ? next.querySelector('input') : add).focus();
        });
        items.append(row);
        sync();
        return row;
    };
    add.addEventListener('click', () => append(null).querySelector('input').focus());
    for (const value of values || [])
        append(value);
    sync();
    return el('div', { class: 'day', 'data-day': key },
              el('div', { class: 'day-head' }, el('span', { class: 'day-name' }, dayLabel),
                 closed, add),
              items);
}

function readHours(box) {
    const hours = {};
    for (const day of box.querySelectorAll('.day')) {
        const list = [...day.querySelectorAll('.interval')].map((row) => ({
            open: row.querySelector('.open').value, close: row.querySelector('.close').value }));
        if (list.length)
            hours[day.dataset.day] = list;
    }
    return Object.keys(hours).length ? hours : null;
}

async function editor(id) {
    const title = id ? 'Edit business' : 'Add a business';
    let business = null;
    if (id) {
        shell(title, el('p', { class: 'loading', role: 'status' }, 'Loading…'));
        const at = location.pathname;
        try {
            business = await api('GET', `/v1/businesses/${id}`);
        } catch (error) {
            if ((error instanceof ApiError && error.status === 401) || location.pathname !== at)
                return;
            return failed(title, error, () => editor(id));
        }
        if (location.pathname !== at)
            return;
    }
    const n = ++uid;
    const name = el('input', { id: `b-name-${n}`, name: 'name', required: true, maxlength: 200,
                               autocomplete: 'organization', value: business ? business.name : '' });
    const phone = el('input', { id: `b-phone-${n}`, name: 'phone_number', type: 'tel',
                                required: true, autocomplete: 'tel', inputmode: 'tel',
                                pattern: '\\+[1-9][0-9]{1,14}',
                                value: business ? business.phone_number : '' });
    const current = business ? business.timezone
                             : Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const tz = el('select', { id: `b-tz-${n}`, name: 'timezone', required: true },
                  zones().map((zone) => el('option', { value: zone, selected: zone === current },
                                           zone)));
    const greeting = el('textarea', { id: `b-greeting-${n}`, name: 'greeting', rows: 3,
                                      maxlength: 2000 }, business && business.greeting || '');
    const hoursBox = el('fieldset', { class: 'hours', name: 'hours', id: `b-hours-${n}`,
                                      tabindex: '-1', 'aria-describedby':
                                      `b-hours-${n}-hint b-hours-${n}-error` },
        el('legend', {}, 'Opening hours'),
        el('p', { class: 'hint', id: `b-hours-${n}-hint` },
           'Up to 4 intervals a day, 24-hour clock. A closing time earlier than the opening ' +
           'time means past midnight: 18:00 to 02:00 closes at 2 am the next day. ' +
           'A day without hours is closed.'),
        DAYS.map(([key, label]) => dayEditor(key, label, business && business.hours
                                                          ? business.hours[key] : null)),
        el('p', { class: 'field-error', id: `b-hours-${n}-error`, hidden: true }));
    const busy = el('span', { class: 'spinner', hidden: true, 'aria-hidden': 'true' });
    const submit = el('button', { type: 'submit', class: 'primary' }, busy,
                      id ? 'Save changes' : 'Add business');
    const box = el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
    const form = el('form', { class: 'card business-form', novalidate: true, 'aria-label': title },
                    box,
                    control('Name', 'name', name),
                    control('Phone number', 'phone_number', phone,
                            'In international (E.164) form: + then the country code and ' +
                            'number, no spaces, e.g. +14155550100.'),
                    control('Time zone', 'timezone', tz),
                    control('Greeting (optional)', 'greeting', greeting,
                            'What callers hear first.'),
                    hoursBox, submit,
                    el('p', {}, el('a', { href: '/app/businesses', 'data-link': true }, 'Cancel')));
    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (!form.checkValidity()) {
            form.reportValidity();
            return;
        }
        formError(form, null, NAMES);
        const body = { name: name.value.trim(), phone_number: phone.value.trim(),
                       timezone: tz.value, greeting: greeting.value.trim() || null,
                       hours: readHours(hoursBox) };
        submit.disabled = true;
        busy.hidden = false;
        try {
            const saved = id ? await api('PATCH', `/v1/businesses/${id}`, body)
                             : await api('POST', '/v1/businesses', body);
            navigate('/app/businesses', `${saved.name} was ${id ? 'saved' : 'added'}.`);
        } catch (error) {
            if (error instanceof ApiError && error.code === 'plan_limit_reached') {
                formError(form, null, NAMES);
                box.replaceChildren(...upgradePrompt(error));
                box.classList.add('upgrade');
                box.hidden = false;
                box.focus();
            } else {
                box.classList.remove('upgrade');
                formError(form, error, NAMES);
            }
        } finally {
            submit.disabled = false;
            busy.hidden = true;
        }
    });
    shell(title, form);
    name.focus();
}

export function businessesPage(which, notice) {
    if (which === null)
        return list(notice);
    return editor(which === 'new' ? null : which);
}
