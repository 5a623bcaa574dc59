// A real OpenID Connect provider for the single sign-on tests: the certified oidc-provider
// package with its development login page, one confidential client that must use PKCE, a
// `groups` scope and claim, and RP-initiated logout. Users and their groups are read from a
// JSON file at every login, so a test removes someone from a group by rewriting the file.
//
//   node server.mjs <config.json>
//   config: {"issuer": "http://127.0.0.1:PORT", "port": PORT, "users_file": "...",
//            "client": {"client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris"}}
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = () => JSON.parse(readFileSync(config.users_file, 'utf8'));

const provider = new Provider(config.issuer, {
  clients: [{
    ...config.client,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        const current = users()[id] || { groups: [] };
        return {
          sub: id,
          preferred_username: id,
          email: current.email,
          email_verified: true,
          given_name: current.given_name,
          family_name: current.family_name,
          groups: current.groups,
        };
      },
    };
  },
});
// The development login page would otherwise name no reason when a test's login is unknown.
provider.on('server_error', (ctx, error) => console.error('server_error', error));

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});
