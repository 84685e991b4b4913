package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// Fuzz targets for the JSON bodies strangers send. Whatever the bytes, decoding
// and validation end in success or a 4xx problem: never a panic, never a 500.
// Run one for longer with: go test -run '^$' -fuzz FuzzSignUpBody ./internal/httpapi/

func checkClientError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	status, ok := statusOf[parking.ErrorCode(err)]
	if !ok || status < 400 || status >= 500 {
		t.Fatalf("%s: error %v maps to %d; want a 4xx", what, err, status)
	}
}

func decodeBody(t *testing.T, body []byte, v any) error {
	r := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
	return decode(httptest.NewRecorder(), r, v)
}

func FuzzSignUpBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Ada","email":"ada@example.com","password":"correct horse battery"}`,
		`{"name":"","email":"x@","password":"1"}`,
		`{"name":"Ada","email":"ada@example.com","password":"correct horse battery","role":"admin"}`,
		`{"name":5}`, `[]`, `null`, `{`, ``, `{"name":"\u0000","email":"a@b.c","password":"` + strings.Repeat("é", 300) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req signUpRequest
		if err := decodeBody(t, body, &req); err != nil {
			checkClientError(t, "decode", err)
			return
		}
		checkClientError(t, "validate", parking.ValidateSignUp(req.Name, req.Email, req.Password))
	})
}

func FuzzSignInBody(f *testing.F) {
	for _, seed := range []string{`{"email":"ada@example.com","password":"x"}`, `{"email":1}`, `{"password":null}`, `"str"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req signInRequest
		checkClientError(t, "decode", decodeBody(t, body, &req))
	})
}

func FuzzReservationBody(f *testing.F) {
	for _, seed := range []string{
		`{"lot_id":"lot_1","plate":"AB1","size":"SUV","starts_at":"2030-01-07T09:00:00Z","ends_at":"2030-01-07T10:00:00Z"}`,
		`{"lot_id":"lot_1","vehicle_id":"veh_1","starts_at":"2030-01-07T09:00:00+01:00","ends_at":"2030-01-07T10:00:00Z"}`,
		`{"lot_id":"","size":"bus","starts_at":"yesterday"}`,
		`{"starts_at":"2030-13-45T99:00:00Z"}`, `{"size":7}`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	store := teststore.OpenSQLite(f)
	me := parking.User{ID: "usr_fuzz", Role: parking.RoleDriver}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req reservationRequest
		if err := decodeBody(t, body, &req); err != nil {
			checkClientError(t, "decode", err)
			return
		}
		r := httptest.NewRequest(http.MethodPost, "/api/v1/reservations", nil)
		_, err := req.holdRequest(r, store, me)
		checkClientError(t, "validate", err)
	})
}
