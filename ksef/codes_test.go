package ksef

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestLoginStatusCodes: the authentication statuses open-api.json lists
// (AuthenticationOperationStatusResponse.status) are told apart by whose fault they are. 470
// (a deceased person's credentials) and 480 (blocked, contact the Ministry) are for someone to fix;
// 550 says "Spróbuj ponownie", and 500 "Nieznany błąd" says nothing about the credentials, so
// neither may stop `send` as a refused token nor tell the user to generate a new one. The next
// login, the fault spent, succeeds.
func TestLoginStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		code        int
		credentials bool
	}{
		{470, true},
		{480, true},
		{500, false},
		{550, false},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			e := newEnv(t, ksefsim.Options{}, nil)
			if err := e.sim.FailLogins(tc.code, 1); err != nil {
				t.Fatal(err)
			}
			err := e.c.Login(e.ctx)
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Fatalf("Login = %v; want *AuthError %d", err, tc.code)
			}
			if got := IsCredentialsProblem(err); got != tc.credentials {
				t.Errorf("IsCredentialsProblem = %v; want %v (%v)", got, tc.credentials, err)
			}
			if got := IsRetriable(err); got == tc.credentials {
				t.Errorf("IsRetriable = %v; want %v", got, !tc.credentials)
			}
			if !tc.credentials && strings.Contains(err.Error(), "Generate a new token") {
				t.Errorf("error %q sends the user after a new token for KSeF's own failure", err)
			}
			if err := e.c.Login(e.ctx); err != nil {
				t.Fatalf("second login: %v", err)
			}
		})
	}
}
