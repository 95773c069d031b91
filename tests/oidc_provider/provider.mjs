// A real OpenID provider (the `oidc-provider` package) for runyard's OIDC login tests.
//
// Usage: node provider.mjs CONFIG.json
//   {"port": 4000, "clients": [{"client_id": "...", "client_secret": "..." | null,
//                               "redirect_uris": ["..."], "tamper": null | "nonce" | "issuer" |
//                               "audience" | "strip-claims"}]}
//
// Accounts: any login name is an account (the development login form accepts any name and
// password). The login name is the subject; its email is the name itself when it contains "@"
// (else NAME@example.com). "unverified.NAME" asserts NAME's email with email_verified=false.
//
// Tampering, per client: the provider's ID token for that client is rewritten and re-signed with
// the provider's own key, so the signature stays valid and only the tampered claim is wrong —
// exactly what a relying party must catch with its nonce, `iss` and `aud` checks. "strip-claims"
// removes email/name from the ID token, as conformant providers do for the code flow, so the
// relying party has to read them from the userinfo endpoint.
//
// Prints "READY <issuer>" on stdout once listening.

import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', use: 'sig', alg: 'RS256' };

const tamperByClient = new Map(config.clients.map((client) => [client.client_id, client.tamper ?? null]));

function claimsFor(accountId) {
  const unverified = accountId.startsWith('unverified.');
  const name = unverified ? accountId.slice('unverified.'.length) : accountId;
  return {
    sub: accountId,
    email: name.includes('@') ? name : `${name}@example.com`,
    email_verified: !unverified,
    name: `Test user ${name}`,
  };
}

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    client_id: client.client_id,
    ...(client.client_secret
      ? { client_secret: client.client_secret, token_endpoint_auth_method: 'client_secret_basic' }
      : { token_endpoint_auth_method: 'none' }),
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  })),
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['runyard-test-provider-cookie-key'] },
  scopes: ['openid', 'email', 'profile'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Put the scopes' claims in the ID token (as Google and Keycloak do); "strip-claims" clients
  // get the conformant behaviour instead (claims from userinfo only).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return claimsFor(sub); } };
  },
});
// The relying party talks plain HTTP to 127.0.0.1 in tests.
provider.proxy = false;

async function tamper(idToken, mode) {
  const claims = jose.decodeJwt(idToken);
  if (mode === 'nonce') claims.nonce = 'not-the-nonce-that-was-sent';
  if (mode === 'issuer') claims.iss = 'http://127.0.0.1:9/another-issuer';
  if (mode === 'audience') claims.aud = 'another-client';
  if (mode === 'strip-claims') {
    delete claims.email;
    delete claims.email_verified;
    delete claims.name;
  }
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid, typ: 'JWT' })
    .sign(privateKey);
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body?.id_token) return;
  const { aud } = jose.decodeJwt(ctx.body.id_token);
  const mode = tamperByClient.get(Array.isArray(aud) ? aud[0] : aud);
  if (mode) ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, mode) };
});

provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});
