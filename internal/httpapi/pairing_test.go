package httpapi_test

import (
	"strings"
	"testing"

	"parkd/internal/gate"
	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// TestKioskPairing: an operator's one-time link gives a kiosk its gate's new
// key once; a second redeem, an expired link and another lot's operator are
// refused.
func TestKioskPairing(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		old, g := mustGate(t, e, parking.Entry)
		op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
		pairings := "/api/v1/gates/" + g.ID + "/pairings"
		var p gate.NewPairing
		r := op.must(201, &p, "POST", pairings, nil)
		if r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(p.Token, "pkp_") || p.URL != e.srv.URL+"/kiosk/"+g.ID+"?pair="+p.Token || len(p.QRPNG) < 100 ||
			!p.ExpiresAt.Equal(e.clock.Now().Add(gate.PairingTTL)) {
			t.Errorf("POST %s = %+v (%s); want a pkp_ token, its kiosk URL, expiring in %v", pairings, p, r.header.Get("Cache-Control"), gate.PairingTTL)
		}

		kiosk := newOpCaller(t, e.srv.URL)
		var paired gate.Paired
		kiosk.must(200, &paired, "POST", "/api/v1/kiosk-pairings", map[string]string{"token": p.Token})
		if paired.Gate.ID != g.ID || !strings.HasPrefix(paired.Key, "pkg_") {
			t.Errorf("redeem = %+v; want gate %s and a device key", paired, g.ID)
		}
		// The new key works; the gate's previous one no longer does.
		(&client{t: t, base: e.srv.URL, token: paired.Key}).must(200, "GET", "/api/v1/lots", nil)
		old.must(401, "GET", "/api/v1/lots", nil)
		if pr := kiosk.problem(409, parking.ECONFLICT, "POST", "/api/v1/kiosk-pairings", map[string]string{"token": p.Token}); !strings.Contains(pr.Detail, "already used") {
			t.Errorf("second redeem = %q; want it to say the link was already used", pr.Detail)
		}
		kiosk.problem(404, parking.ENOTFOUND, "POST", "/api/v1/kiosk-pairings", map[string]string{"token": "pkp_nope"})

		// A link lapses after PairingTTL, by the injected clock.
		var late gate.NewPairing
		op.must(201, &late, "POST", pairings, nil)
		e.clock.Advance(gate.PairingTTL)
		if pr := kiosk.problem(409, parking.ECONFLICT, "POST", "/api/v1/kiosk-pairings", map[string]string{"token": late.Token}); !strings.Contains(pr.Detail, "expired") {
			t.Errorf("expired redeem = %q; want it to say the link expired", pr.Detail)
		}

		// Only the lot's operators (and admins) make links.
		rival := mustSignIn(t, e, parking.RoleOperator, mustOtherOperator(t, e).ID)
		rival.problem(404, parking.ENOTFOUND, "POST", pairings, nil)
		newOpCaller(t, e.srv.URL).problem(401, parking.EUNAUTHORIZED, "POST", pairings, nil)
		mustSignIn(t, e, parking.RoleAdmin, "").must(201, nil, "POST", pairings, nil)
	})
}

// TestInvitations: an operator makes an existing account its operator at
// once; admins and other operators' staff are refused with a reason.
func TestInvitations(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
		members := "/api/v1/operators/" + e.fixture.Operator.ID + "/members"
		sam := signUp(t, e.srv.URL, "Sam", "sam@example.com")
		sam.must(403, "GET", "/api/v1/lots/"+e.fixture.Lot.ID+"/gates", nil)

		var u parking.User
		op.must(200, &u, "POST", members, map[string]string{"email": " SAM@example.com "})
		if u.Role != parking.RoleOperator || u.OperatorID != e.fixture.Operator.ID || u.Email != "sam@example.com" {
			t.Errorf("invite sam = %+v; want an operator of %s", u, e.fixture.Operator.ID)
		}
		sam.must(200, "GET", "/api/v1/lots/"+e.fixture.Lot.ID+"/gates", nil) // at once, same session
		op.must(200, nil, "POST", members, map[string]string{"email": "sam@example.com"})

		if pr := op.problem(404, parking.ENOTFOUND, "POST", members, map[string]string{"email": "nobody@example.com"}); !strings.Contains(pr.Detail, "sign up") {
			t.Errorf("invite nobody = %q; want it to say they sign up first", pr.Detail)
		}
		admin := mustSignIn(t, e, parking.RoleAdmin, "")
		var me parking.User
		admin.must(200, &me, "GET", "/api/v1/users/me", nil)
		if pr := op.problem(409, parking.ECONFLICT, "POST", members, map[string]string{"email": me.Email}); !strings.Contains(pr.Detail, "administrator") {
			t.Errorf("invite admin = %q; want it to say they are an administrator", pr.Detail)
		}
		other := mustOtherOperator(t, e)
		rival := mustSignIn(t, e, parking.RoleOperator, other.ID)
		var rv parking.User
		rival.must(200, &rv, "GET", "/api/v1/users/me", nil)
		if pr := op.problem(409, parking.ECONFLICT, "POST", members, map[string]string{"email": rv.Email}); !strings.Contains(pr.Detail, "another operator") {
			t.Errorf("invite rival = %q; want it to say they work for another operator", pr.Detail)
		}
		rival.problem(403, parking.EFORBIDDEN, "POST", members, map[string]string{"email": "sam@example.com"})
		// An admin invites to any operator.
		signUp(t, e.srv.URL, "Tess", "tess@example.com")
		admin.must(200, nil, "POST", "/api/v1/operators/"+other.ID+"/members", map[string]string{"email": "tess@example.com"})
	})
}
