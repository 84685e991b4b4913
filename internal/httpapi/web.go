package httpapi

import (
	"parkd/internal/web"
)

// addPages mounts the web pages (internal/web) beside the API. They are not in
// Routes: OpenAPI describes the API only, and docs/web.md lists the pages.
func addPages(mux *router, s Services) {
	web.Register(mux, pages(s))
}

// pages is what the web pages are built from.
func pages(s Services) web.Config {
	gateway := "sandbox"
	if s.Payments != nil {
		gateway = s.Payments.Gateway().Name()
	}
	return web.Config{
		Log: s.Log, Engine: s.Engine, Lots: s.Lots, Auth: s.Auth, Notify: s.Notify, Payments: s.Payments, Gates: s.Gates, Reports: s.Reports,
		Clock: s.Clock, Gateway: gateway, StripePublishableKey: s.StripePublishableKey, Unavailable: s.Unavailable,
		MapTiles: s.MapTiles, MapAttribution: s.MapAttribution,
	}
}

// receiptPage is the web app's receipt page, which the API serves too.
func receiptPage(s Services) *web.ReceiptPage {
	return web.NewReceiptPage(pages(s))
}
