package engine

import (
	"slices"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// An accounting office is often granted InvoiceRead only. KSeF lets its certificate log in (one
// active permission in the context is enough, uwierzytelnianie.md) and then refuses every session
// with 403 missing-permissions (ksef.MissingPermissions). Only the company can change that, in
// KSeF, so trying again every minute would spend the onlineSession budget on opens bound to fail
// and fill the log: the company's sending waits instead, for longer after every refusal, up to an
// hour. A configuration reload or a restart (new credentials) tries again at once.

// permissionHold is the company's sending put off because KSeF refused it for missing permissions.
type permissionHold struct {
	until    time.Time // sending waits until then
	refusals int       // refusals in a row, which lengthen the wait
}

const (
	firstPermissionWait = 5 * time.Minute
	maxPermissionWait   = time.Hour
)

// permissionWait is the wait after the n-th refusal in a row (n ≥ 1): 5, 10, 20, 40, 60, 60… min.
func permissionWait(n int) time.Duration {
	return min(firstPermissionWait<<min(n-1, 8), maxPermissionWait)
}

// permissionsMissing reports whether sending waits for a permission the company has not granted.
func (e *Engine) permissionsMissing() bool {
	return e.now().Before(e.perms.until)
}

// holdForPermissions puts the company's sending off when cause is KSeF's 403 missing-permissions,
// says in the log what to ask the company for, and reports whether it did. A refusal long after the
// last wait ended (sending worked, or there was nothing to send) starts the waits afresh.
func (e *Engine) holdForPermissions(cause error) bool {
	api, ok := ksef.MissingPermissions(cause)
	if !ok {
		return false
	}
	now := e.now()
	if now.Sub(e.perms.until) > maxPermissionWait {
		e.perms.refusals = 0
	}
	e.perms.refusals++
	wait := permissionWait(e.perms.refusals)
	e.perms.until = now.Add(wait)
	e.log.Error("KSeF does not let these credentials send this company's invoices: ask the company to grant "+
		grantable(api.Required)+" in KSeF to the credentials' owner (the accounting office's NIP); invoices wait in the journal",
		"needs_one_of", strings.Join(api.Required, ","), "holds", strings.Join(api.Present, ","),
		"next_try", e.perms.until.Format(time.RFC3339), "err", cause)
	return true
}

// grantable is the permission of required a company can grant an entity (InvoiceWrite for sending,
// open-api.json POST /permissions/entities/grants), else the first KSeF names.
func grantable(required []string) string {
	for _, p := range []string{"InvoiceWrite", "InvoiceRead"} {
		if slices.Contains(required, p) {
			return p
		}
	}
	if len(required) == 0 {
		return "the permission to send invoices (InvoiceWrite)"
	}
	return required[0]
}
