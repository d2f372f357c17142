// Package authz answers two questions for every RPC: who is calling, and may
// they call this method (DESIGN §4).
//
// Three kinds of callers exist. People carry a short-lived session token, an
// Ed25519-signed JWT minted by identity and verified locally by every service
// with identity's public keys. Integrations carry an opaque API token
// ("tdm_..."), which only identity can resolve because it holds the hashes.
// Services call each other's internal methods with a shared secret in
// metadata that the REST gateway never forwards.
//
// Each service declares a Policy naming a Rule for every method; a method
// without a rule is denied. The Authenticator plugs into grpcserver and puts
// the caller's Principal in the context, from which handlers take the
// organization: it always comes from the caller, never from the request.
package authz
