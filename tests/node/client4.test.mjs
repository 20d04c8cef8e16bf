// Mattermost's own JavaScript client (Client4 from @mattermost/client)
// against a real mmhost: login, getMe, createUserAccessToken, logout.
// run.sh starts the host and passes MMHOST_URL, MMHOST_ADMIN, MMHOST_PASSWORD.
import test from 'node:test';
import assert from 'node:assert/strict';
import client from '@mattermost/client';

const {Client4} = client;
const url = process.env.MMHOST_URL;
const admin = process.env.MMHOST_ADMIN;
const password = process.env.MMHOST_PASSWORD;

function newClient(token) {
    const c = new Client4();
    c.setUrl(url);
    c.setIncludeCookies(false);
    if (token) {
        c.setToken(token);
    }
    return c;
}

test('login returns the user and sets the token from the Token header', async () => {
    const c = newClient();
    const me = await c.login(admin, password);
    assert.equal(me.username, admin);
    assert.equal(me.roles, 'system_user system_admin');
    assert.equal(me.password, undefined);
    assert.equal(c.getToken().length, 26);
    const again = await c.getMe();
    assert.equal(again.id, me.id);
});

test('a wrong password is a ClientError with the server id and 401', async () => {
    const c = newClient();
    await assert.rejects(c.login(admin, 'not-the-password'), (err) => {
        assert.equal(err.status_code, 401);
        assert.equal(err.server_error_id, 'api.user.login.invalid_credentials_email_username');
        return true;
    });
});

test('createUserAccessToken gives a token that works alone', async () => {
    const c = newClient();
    const me = await c.login(admin, password);
    const pat = await c.createUserAccessToken(me.id, 'client4 test');
    assert.equal(pat.user_id, me.id);
    assert.equal(pat.description, 'client4 test');
    assert.equal(pat.token.length, 26);
    const other = newClient(pat.token);
    const viaPat = await other.getMe();
    assert.equal(viaPat.id, me.id);
});

test('logout revokes the session', async () => {
    const c = newClient();
    await c.login(admin, password);
    const token = c.getToken();
    await c.logout();
    const stale = newClient(token);
    await assert.rejects(stale.getMe(), (err) => {
        assert.equal(err.status_code, 401);
        assert.equal(err.server_error_id, 'api.context.session_expired.app_error');
        return true;
    });
});

test('getMe without a token is 401', async () => {
    await assert.rejects(newClient().getMe(), (err) => err.status_code === 401);
});
