// An independent DPoP client (RFC 9449): panva's `dpop` package signs the
// proofs, Node's fetch sends them. Usage:
//
//   node client.mjs <base URL> <email> <password> <alg>
//
// It signs in with a proof (binding the session to a fresh key), calls
// GET /v1/me with the DPoP-bound token, refreshes with a proof, calls
// GET /v1/me with the new token, and tries a refresh without a proof. It
// prints one JSON object with what each step answered; interop_test.go
// checks it.
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';

const [base, email, password, alg = 'ES256'] = process.argv.slice(2);
const keypair = await generateKeyPair(alg);
const out = { alg, jkt: await calculateThumbprint(keypair.publicKey) };

async function call(method, path, { body, token, proof = true } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `DPoP ${token}`;
  if (proof) headers.DPoP = await generateProof(keypair, base + path, method, undefined, token);
  const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json };
}

const login = await call('POST', '/v1/auth/login', { body: { email, password } });
out.login = { status: login.status, token_type: login.body && login.body.token_type };
const me = await call('GET', '/v1/me', { token: login.body.access_token });
out.me = { status: me.status, email: me.body && me.body.email };
const refreshed = await call('POST', '/v1/auth/refresh', { body: { refresh_token: login.body.refresh_token } });
out.refresh = { status: refreshed.status, token_type: refreshed.body && refreshed.body.token_type };
const me2 = await call('GET', '/v1/me', { token: refreshed.body.access_token });
out.me_after_refresh = { status: me2.status, email: me2.body && me2.body.email };
const keyless = await call('POST', '/v1/auth/refresh', { body: { refresh_token: refreshed.body.refresh_token }, proof: false });
out.refresh_without_proof = { status: keyless.status, code: keyless.body && keyless.body.code };
process.stdout.write(JSON.stringify(out) + '\n');
