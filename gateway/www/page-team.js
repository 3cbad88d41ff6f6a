// gateway/www/page-team.js — the Team page (/app/team). Not built yet: it
// says so (issue 13 builds it).

import { el, shell } from './ui.js';

export function teamPage() {
    shell('Team', el('p', { class: 'empty' }, 'This page is not built yet.'));
}
