package httpapi

// RequestHash exposes the idempotency request hash to the external tests.
var RequestHash = requestHash
