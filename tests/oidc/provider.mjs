// A real OpenID provider for the sign-in tests (tests/web/test_oidc.py): the certified oidc-provider package on
// loopback. Configured by environment variables the tests set:
//   OIDC_TEST_PORT, OIDC_TEST_CLIENT (JSON: client_id, client_secret, redirect_uris, post_logout_redirect_uris),
//   OIDC_TEST_ACCOUNTS (JSON: account id → claims such as email, email_verified, name).
// Sign-in uses the package's development interactions: the tests post the account id as "login", then consent.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_TEST_PORT);
const client = JSON.parse(process.env.OIDC_TEST_CLIENT);
const accounts = JSON.parse(process.env.OIDC_TEST_ACCOUNTS);

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{ ...client, grant_types: ['authorization_code'], response_types: ['code'] }],
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false, // the scopes' claims in the ID token, as Entra ID does
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ['valtuus-test-only'] },
});
provider.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
