// gateway/www/page-api-keys.js — the API keys page (/app/api-keys). Not built yet: it
// says so (issue 13 builds it).

import { el, shell } from './ui.js';

export function apiKeysPage() {
    shell('API keys', el('p', { class: 'empty' }, 'This page is not built yet.'));
}
