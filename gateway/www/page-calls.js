// gateway/www/page-calls.js — the Calls page (/app/calls). Not built yet: it
// says so (issue 13 builds it).

import { el, shell } from './ui.js';

export function callsPage() {
    shell('Calls', el('p', { class: 'empty' }, 'This page is not built yet.'));
}
