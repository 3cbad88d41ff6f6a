// gateway/www/page-orders.js — the Orders page:
//
//   /app/orders         the orders (GET /v1/orders), newest first, 20 at a
//                       time ("Load more orders" follows next_cursor),
//                       filtered by business, status and dates exactly as
//                       the Calls list (the list, its URL query and its
//                       states are page-calls.js listPage; the dates are
//                       those the orders were placed, created_at). Each
//                       row: when it was placed in its business's time
//                       zone, the business, the customer, the number of
//                       items (units), the total (Intl currency from
//                       total_cents and currency) and a status badge.
//   /app/orders/<id>    one order (GET /v1/orders/<id>): the customer, the
//                       items (name, quantity, unit price, line total) and
//                       the total, the call it came from (a link to
//                       /app/calls/<call_id>), and buttons for ONLY the
//                       moves the API allows: pending → confirmed or
//                       cancelled, confirmed → fulfilled or cancelled;
//                       fulfilled and cancelled are final and the page
//                       says so. A move is PATCH /v1/orders/<id> {status};
//                       cancelling asks first (ui.js confirmDialog). A 409
//                       invalid_transition (someone changed the order
//                       meanwhile) is told in words and the order is read
//                       again and drawn as it now is.
//
// States: loading, empty, errors in words with "Try again", 404 "this
// order no longer exists"; answers for a view the user has left draw
// nothing.

import { api, ApiError } from './api.js';
import { backLink, detailList, listPage, sameView, statusBadge } from './page-calls.js';
import { businessMap, confirmDialog, el, explain, failed, money, shell, when } from './ui.js';

const ORDER_STATUSES = ['pending', 'confirmed', 'fulfilled', 'cancelled'];

// The moves the API allows from each status: [status, button's words,
// the words once done].
const MOVES = {
    pending: [['confirmed', 'Confirm order', 'confirmed'], ['cancelled', 'Cancel order', 'cancelled']],
    confirmed: [['fulfilled', 'Mark as fulfilled', 'fulfilled'], ['cancelled', 'Cancel order', 'cancelled']],
    fulfilled: [],
    cancelled: []
};

function units(order) {
    return (order.items || []).reduce((sum, item) => sum + (Number(item.quantity) || 0), 0);
}

function businessName(business) {
    return business ? business.name : 'a deleted business';
}

const ORDERS = {
    title: 'Orders', path: '/app/orders', api: '/v1/orders', statuses: ORDER_STATUSES,
    noun: { one: 'order', plural: 'orders' },
    empty: 'No orders yet — orders your receptionist takes on calls appear here.',
    columns: ['Placed', 'Business', 'Customer', 'Items', 'Total', 'Status'],
    cells: (order, business, link) => {
        const count = units(order);
        return [
            el('a', { href: link, 'data-link': true, class: 'when' },
               when(order.created_at, business && business.timezone)),
            businessName(business),
            el('span', { class: 'customer' }, order.customer_name),
            el('span', { class: 'items' }, `${count} ${count === 1 ? 'item' : 'items'}`),
            el('span', { class: 'total' }, money(order.total_cents, order.currency)),
            statusBadge(order.status)
        ];
    }
};

function itemsTable(order) {
    return el('div', { class: 'table-wrap' },
        el('table', { class: 'items-table' },
           el('caption', { class: 'sr' }, 'Items of this order'),
           el('thead', {}, el('tr', {},
              ['Item', 'Quantity', 'Unit price', 'Line total'].map((h, i) =>
                  el('th', { scope: 'col', class: i ? 'num' : null }, h)))),
           el('tbody', {}, (order.items || []).map((item) => el('tr', {},
              el('th', { scope: 'row' }, item.name),
              el('td', { class: 'num' }, String(item.quantity)),
              el('td', { class: 'num' }, money(item.unit_price_cents, order.currency)),
              el('td', { class: 'num' }, money(item.quantity * item.unit_price_cents,
                                               order.currency))))),
           el('tfoot', {}, el('tr', {},
              el('th', { scope: 'row', colspan: '3' }, 'Total'),
              el('td', { class: 'num order-total' }, money(order.total_cents, order.currency))))));
}

async function detail(id, notice) {
    const title = 'Order';
    const at = location.pathname + location.search;
    const back = () => backLink('/app/orders', 'All orders');
    shell(title, el('p', { class: 'loading', role: 'status' }, 'Loading…'));
    let order, businesses;
    try {
        [order, businesses] = await Promise.all([api('GET', `/v1/orders/${id}`), businessMap()]);
    } catch (error) {
        if ((error instanceof ApiError && error.status === 401) || !sameView(at))
            return;
        if (error instanceof ApiError && error.status === 404)
            return shell(title, el('p', { class: 'empty', role: 'alert' },
                                   'This order no longer exists.'), el('p', {}, back()));
        return failed(title, error, () => detail(id, notice), back());
    }
    if (!sameView(at))
        return;
    draw(order, businesses, notice);
}

// notice: null, or { text, alert } shown above the order.
function draw(order, businesses, notice) {
    const at = location.pathname + location.search;
    const business = businesses.get(order.business_id) || null;
    const zone = business && business.timezone;
    const problem = el('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
    const buttons = [];

    // After a move: the new order, or (409) the order read again and why.
    const move = async (status, done) => {
        for (const button of buttons)
            button.disabled = true;
        try {
            const saved = await api('PATCH', `/v1/orders/${order.id}`, { status });
            if (sameView(at))
                draw(saved, businesses, { text: `The order is now ${done}.` });
        } catch (error) {
            if (!sameView(at) || (error instanceof ApiError && error.status === 401))
                return;
            if (error instanceof ApiError && error.code === 'invalid_transition') {
                let now = null;
                try {
                    now = await api('GET', `/v1/orders/${order.id}`);
                } catch {
                    now = null;
                }
                if (!sameView(at))
                    return;
                if (now) {
                    draw(now, businesses, { alert: true, text:
                        `This order could not be ${done}: it was changed meanwhile, perhaps ` +
                        `by someone else, and is now ${now.status}. It is shown below as it ` +
                        'is now; choose again if needed.' });
                    return;
                }
                problem.textContent = `This order could not be ${done}: it was changed ` +
                                      'meanwhile. Reload the order to see it as it is now.';
            } else {
                problem.textContent = explain(error);
            }
            problem.hidden = false;
            problem.focus();
            for (const button of buttons)
                button.disabled = false;
        }
    };
    const dialog = confirmDialog({
        title: 'Cancel this order?', yes: 'Yes, cancel the order',
        text: (o) => `${o.customer_name}'s order of ${money(o.total_cents, o.currency)} will be ` +
                     'cancelled. This cannot be undone.',
        action: () => move('cancelled', 'cancelled')
    });
    for (const [status, words, done] of MOVES[order.status] || []) {
        const button = el('button', { type: 'button',
                                      class: status === 'cancelled' ? 'danger' : 'primary-move',
                                      'data-status': status },
                          words);
        button.addEventListener('click', () => {
            if (status === 'cancelled')
                dialog.ask(order, button);
            else
                move(status, done);
        });
        buttons.push(button);
    }
    const final = !buttons.length;
    const callLink = order.call_id
        ? el('a', { href: `/app/calls/${order.call_id}`, 'data-link': true, class: 'call-link' },
             'Open the call')
        : null;
    shell(`Order from ${order.customer_name}`,
          notice ? el('p', { class: notice.alert ? 'form-error conflict' : 'notice',
                             role: notice.alert ? 'alert' : 'status', tabindex: '-1' },
                      notice.text) : null,
          el('p', {}, backLink('/app/orders', 'All orders')),
          el('section', { class: 'card order', 'aria-labelledby': 'order-facts' },
             el('h2', { id: 'order-facts' }, 'Details'),
             detailList([['Business', businessName(business)],
                         ['Customer', order.customer_name],
                         ['Phone', order.customer_phone],
                         ['Placed', when(order.created_at, zone)],
                         ['Last change', when(order.updated_at, zone)],
                         ['Status', statusBadge(order.status)],
                         ['From the call', callLink],
                         ['Order ID', el('code', {}, order.id)]])),
          el('section', { class: 'card', 'aria-labelledby': 'order-items' },
             el('h2', { id: 'order-items' }, 'Items'), itemsTable(order)),
          el('section', { class: 'card', 'aria-labelledby': 'order-status' },
             el('h2', { id: 'order-status' }, 'Status'),
             problem,
             final
                 ? el('p', { class: 'order-final' },
                      `This order is ${order.status}: that is final, its status cannot change.`)
                 : [el('p', { class: 'hint' },
                       order.status === 'pending'
                           ? 'A pending order can be confirmed or cancelled.'
                           : 'A confirmed order can be marked as fulfilled or cancelled.'),
                    el('div', { class: 'actions status-actions' }, buttons)]),
          dialog.node);
    const focus = document.querySelector('main .notice, main .form-error:not([hidden])')
                  || document.getElementById('main');
    focus.focus();
    // Closing the cancel dialog (after its action drew this) may move focus
    // back to its opener, gone now: keep it on the page's message.
    setTimeout(() => {
        if (focus.isConnected && !document.getElementById('main').contains(document.activeElement))
            focus.focus();
    }, 0);
}

export function ordersPage(id, notice) {
    if (id === null)
        return listPage(ORDERS, notice);
    return detail(id, null);
}
