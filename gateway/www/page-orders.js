// gateway/www/page-orders.js — the Orders page (/app/orders). Not built yet: it
// says so (issue 13 builds it).

import { el, shell } from './ui.js';

export function ordersPage() {
    shell('Orders', el('p', { class: 'empty' }, 'This page is not built yet.'));
}
