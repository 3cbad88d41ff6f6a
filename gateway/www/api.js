// gateway/www/api.js — the dashboard's only way to the API: same origin,
// JSON in and out, the session's tokens attached.
//
// The access token (15 minutes) lives in memory only (this module's
// `session`), never in web storage or a URL. The refresh token is never
// seen by script at all: the session calls (signup, login, refresh,
// logout, accepting an invitation) send `Switchboard-Session: cookie`, and
// the gateway keeps the refresh token in an httpOnly, SameSite=Strict
// cookie on /v1/auth (gateway/src/gw_session.c). So a reload, a new tab or
// the trip to Stripe Checkout and back resumes the session (resume():
// one refresh), and a script injected into the page could use the session
// while the page is open but never carry its refresh token away.
//
// An answer of 401 to a call with a session refreshes (the API rotates the
// refresh token) and repeats the call once; when that fails the session
// ends and onSignedOut is told. Refreshes never overlap: presenting a
// rotated-away token twice would revoke the whole session (the API's
// reuse detection), so one refresh at a time runs, within this page (a
// shared promise) and across the origin's tabs (the Web Locks API, where
// the browser has it); a call that waited uses the token the other one
// got. Every failure is
// thrown as an ApiError carrying the API's stable code (error.code), its
// message and, for validation_failed, the message of each field.

const session = { access: null, me: null };
let signedOut = () => {};

export class ApiError extends Error {
    constructor(status, body) {
        const error = (body && body.error) || {};
        super(error.message || `the server answered ${status}`);
        this.status = status;
        this.code = error.code || (status === 0 ? 'network_error' : 'internal_error');
        this.fields = error.fields || {};
        this.limit = error.limit;
        this.used = error.used;
        this.retryAfter = error.retry_after;
    }
}

export function onSignedOut(callback) {
    signedOut = callback;
}

export function signedIn() {
    return session.access !== null;
}

function keep(tokens) {
    session.access = tokens.access_token;
}

// Forgets the session in this page. The httpOnly cookie is the gateway's
// to clear (logout does); its readable hint goes here, so that a session
// the API has already ended (the organization deleted, every session
// logged out) is not tried again at the next page load.
export function forget() {
    session.access = null;
    session.me = null;
    document.cookie = 'sb_session=; Path=/; Max-Age=0; SameSite=Strict';
}

// GET /v1/me ({user, organization, role, plan}) once per session: app.js
// awaits it before drawing a signed-in page, so that the nav knows the
// role (ui.js shell). whoami(true) reads it again (after a rename).
export async function whoami(again = false) {
    if (!session.me || again)
        session.me = await api('GET', '/v1/me');
    return session.me;
}

export function currentMe() {
    return session.me;
}

// The routes whose refresh token travels in the cookie.
const SESSION_ROUTES = new Set(['/v1/auth/signup', '/v1/auth/login', '/v1/auth/refresh',
                                '/v1/auth/logout', '/v1/invitations/accept']);

async function send(method, path, body, token) {
    const headers = { Accept: 'application/json' };
    if (SESSION_ROUTES.has(path))
        headers['Switchboard-Session'] = 'cookie';
    if (body !== undefined)
        headers['Content-Type'] = 'application/json';
    if (token)
        headers.Authorization = `Bearer ${token}`;
    let response;
    try {
        response = await fetch(path, {
            method, headers, credentials: 'same-origin', cache: 'no-store',
            body: body === undefined ? undefined : JSON.stringify(body)
        });
    } catch {
        throw new ApiError(0, { error: { code: 'network_error',
                                         message: 'The server cannot be reached.' } });
    }
    let data = null;
    if (response.status !== 204) {
        try {
            data = await response.json();
        } catch {
            data = null;
        }
    }
    if (!response.ok)
        throw new ApiError(response.status, data);
    return data;
}

let refreshing = null;

// One refresh through the cookie; true when it gave an access token. stale:
// the access token that was refused (a refresh that finished meanwhile
// already replaced it: nothing to do).
function refresh(stale) {
    if (session.access && session.access !== stale)
        return Promise.resolve(true);
    if (!refreshing) {
        const run = async () => {
            try {
                keep(await send('POST', '/v1/auth/refresh', {}));
                return true;
            } catch {
                return false;
            }
        };
        refreshing = (navigator.locks ? navigator.locks.request('sb-refresh', run) : run())
            .finally(() => { refreshing = null; });
    }
    return refreshing;
}

// At page load: the session the cookie holds, if any (true when resumed).
// The gateway sets a readable hint beside the httpOnly cookie
// (sb_session=1, no secret): without it there is nothing to resume and
// no request is made.
export async function resume() {
    if (session.access)
        return true;
    if (!/(?:^|;\s*)sb_session=1(?:;|$)/.test(document.cookie))
        return false;
    return refresh(null);
}

// A call with the session's access token (one refresh on 401).
export async function api(method, path, body) {
    const used = session.access;
    try {
        return await send(method, path, body, used);
    } catch (error) {
        // invalid_credentials is a wrong password (changing it), not a
        // refused access token: nothing to refresh.
        if (!(error instanceof ApiError) || error.status !== 401
            || error.code === 'invalid_credentials' || !session.access)
            throw error;
        if (await refresh(used))
            return send(method, path, body, session.access);
        forget();
        signedOut();
        throw error;
    }
}

export async function signUp(fields) {
    const answer = await send('POST', '/v1/auth/signup', fields);
    keep(answer);
    session.me = null;
    return answer;
}

export async function logIn(email, password) {
    const answer = await send('POST', '/v1/auth/login', { email, password });
    keep(answer);
    session.me = null;
    return answer;
}

// Tokens from elsewhere (POST /v1/invitations/accept answers them): the
// session starts with them.
export function adopt(tokens) {
    keep(tokens);
    session.me = null;
}

// Ends this session (all: every session of the user) at the API, which
// clears the cookie; an access token that expired meanwhile is refreshed
// first. The tokens in memory are forgotten whatever the server says.
export async function logOut(all = false) {
    const body = all ? { all: true } : {};
    const used = session.access;
    try {
        if (used)
            await send('POST', '/v1/auth/logout', body, used);
    } catch (error) {
        try {
            if (error instanceof ApiError && error.status === 401 && await refresh(used))
                await send('POST', '/v1/auth/logout', body, session.access);
        } catch {
            // forgotten below all the same
        }
    }
    forget();
}
