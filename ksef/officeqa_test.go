package ksef

import (
	"strings"
	"testing"
)

// TestLoginErrorNoPermissionsIsNotABadToken: KSeF's 415 at login (open-api.json: "Uwierzytelnianie
// zakończone niepowodzeniem", "Brak przypisanych uprawnień") says the token is good but its owner,
// e.g. an accounting office, holds no permission in the company's context. The error must not
// tell the office to generate a new token (that token works for its other companies); a refused
// token (450) still does.
func TestLoginErrorNoPermissionsIsNotABadToken(t *testing.T) {
	noPerm := (&LoginError{Method: "token", Err: &AuthError{Code: 415, Description: "Uwierzytelnianie zakończone niepowodzeniem",
		Details: []string{"Brak przypisanych uprawnień"}}}).Error()
	if strings.Contains(noPerm, "new token") || !strings.Contains(noPerm, "no permissions in this context") {
		t.Errorf("415 at login: %s", noPerm)
	}
	badToken := (&LoginError{Method: "token", Err: &AuthError{Code: 450, Description: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu"}}).Error()
	if !strings.Contains(badToken, "Generate a new token") {
		t.Errorf("450 at login: %s", badToken)
	}
}
