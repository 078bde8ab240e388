// Package dpopinterop holds the interoperability test of authd's DPoP
// (RFC 9449) with an independent client: panva's npm package `dpop`, run by
// Node against a running authd (interop_test.go, client.mjs). Install the
// client with `npm ci` in this folder; node_modules is not tracked.
package dpopinterop
