package ksef

import (
	"errors"
	"net/http"
)

// ReasonMissingPermissions is the reasonCode of a 403 whose login holds none of the permissions the
// operation needs in its context (open-api.json ForbiddenProblemDetails: "missing-permissions |
// Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście."). An accounting office
// granted InvoiceRead only logs in (one active permission is enough, uwierzytelnianie.md) and gets
// this when it opens a session; its Required and Present name what is missing (CIRFMF/ksef-api #833).
const ReasonMissingPermissions = "missing-permissions"

// MissingPermissions returns the 403 missing-permissions in err, if that is what err is. Repeating
// the request cannot help until the context's owner grants one of Required.
func MissingPermissions(err error) (*APIError, bool) {
	var api *APIError
	if errors.As(err, &api) && api.HTTPStatus == http.StatusForbidden && api.ReasonCode == ReasonMissingPermissions {
		return api, true
	}
	return nil, false
}
