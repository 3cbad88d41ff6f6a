// gateway/www/page-invitation.js — /accept-invitation?token=… (the link
// auth-svc mails with an invitation). Not built yet: it says so (issue 13
// builds it).

import { el, show } from './ui.js';

export function acceptInvitationPage() {
    show(el('main', { id: 'main', class: 'landing' }, el('p', {}, 'This page is not built yet.')));
}
