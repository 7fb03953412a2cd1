package ksef

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestSlowLoginIsResumed: KSeF may keep a login at status 100 "Uwierzytelnianie w toku" for half an
// hour (CIRFMF/ksef-api #567). With a login wait (the daemon's), a call gives up after it with a
// LoginPendingError, which is weather and no fault of the credentials. Later calls ask about the
// same login, one status request each, rather than start another that would queue behind it; once
// its authenticationToken has run out a new login starts; and the login KSeF finally completes is
// the one already started.
func TestSlowLoginIsResumed(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	e.sim.HoldLogins(2)
	e.c.SetLoginWait(10 * time.Second)
	started := func() int { return e.sim.Stats().LoginsStarted }
	pending := func(what string) *LoginPendingError {
		t.Helper()
		err := e.c.Login(e.ctx)
		var lp *LoginPendingError
		if !errors.As(err, &lp) {
			t.Fatalf("%s: Login = %v; want a LoginPendingError", what, err)
		}
		if !IsRetriable(err) || IsCredentialsProblem(err) || strings.Contains(err.Error(), "Generate a new token") {
			t.Errorf("%s: %q must be weather (retriable, not the credentials)", what, err)
		}
		return lp
	}
	polls := func(ref string) int {
		return e.rt.count(func(x exchange) bool { return x.method == "GET" && strings.HasSuffix(x.path, "/auth/"+ref) })
	}

	first := pending("first call")
	if n := polls(first.Ref); n < 10 {
		t.Errorf("first call asked %d times within its 10 s wait; want about one a second", n)
	}
	before := polls(first.Ref)
	if again := pending("second call"); again.Ref != first.Ref || polls(first.Ref) != before+1 || started() != 1 {
		t.Errorf("second call: login %s, %d more status requests, %d logins started; want %s resumed with one request and 1 login",
			again.Ref, polls(first.Ref)-before, started(), first.Ref)
	}

	e.clk.Advance(50 * time.Minute) // the authenticationToken (45 min) is over: the login is lost
	if next := pending("after 50 minutes"); next.Ref == first.Ref || started() != 2 {
		t.Errorf("after 50 minutes: login %s, %d logins started; want a new login", next.Ref, started())
	}

	e.sim.ReleaseLogins()
	if err := e.c.Login(e.ctx); err != nil {
		t.Fatalf("after KSeF finished the login: %v", err)
	}
	if started() != 2 {
		t.Errorf("%d logins started; the finished login should have been the pending one, not a third", started())
	}
}

// TestLoginKSeFNoLongerKnows: the status of a login KSeF kept at 100 is asked again, but KSeF no
// longer knows it: 401 (its authenticationToken no longer valid in KSeF's time, though not yet in
// ours) or 400 21304 "Brak uwierzytelnienia" (open-api.json, GET /auth/{referenceNumber}). That is
// no verdict on the credentials (KSeF gives those as a login status: 450, 415, …): the client
// starts a new login at once, and the administrator is never sent after a new token.
func TestLoginKSeFNoLongerKnows(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forget func(e *env)
	}{
		{"401, token expired in KSeF's time", func(e *env) { e.skew.Store(int64(time.Hour)) }},
		{"21304, operation not found", func(e *env) { e.sim.ForgetLogins() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, ksefsim.Options{}, nil)
			e.sim.HoldLogins(1)
			e.c.SetLoginWait(time.Second)
			var lp *LoginPendingError
			if err := e.c.Login(e.ctx); !errors.As(err, &lp) {
				t.Fatalf("first call: %v, want a login kept pending", err)
			}
			tc.forget(e)
			if err := e.c.Login(e.ctx); err != nil {
				t.Fatalf("after KSeF lost the pending login: %v, want a new login", err)
			}
			if n := e.sim.Stats().LoginsStarted; n != 2 {
				t.Errorf("%d logins started, want 2 (the lost one and a new one)", n)
			}
			if err := e.c.RefreshLimits(e.ctx); err != nil {
				t.Fatalf("the new login's tokens do not work: %v", err)
			}
		})
	}
}
