package status

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/outboxclaim"
	"github.com/ksef-sync/ksef-sync/spool"
)

// OutboxMetaKey is the journal meta key under which the daemon records that its outbox is missing
// or unreadable (empty while it is available), so `status` in another process can say so.
const OutboxMetaKey = "outbox_unavailable"

// Outbox is the outbox folder as the running daemon last saw it.
type Outbox struct {
	// State is available, missing, denied (no permission), unreadable, or unknown (no daemon runs).
	State string `json:"state"`
	Since string `json:"since,omitempty"` // when it went missing or unreadable
	Error string `json:"error,omitempty"` // the listing error, for the administrator
	// OtherDaemons lists the claim folders of other daemons sharing this outbox that hold files
	// (outbox/.ksef-sync/<daemon-id>/): invoices they took and have not finished. Files that stay
	// there mean that daemon stopped; moving them back into the outbox hands them on.
	OtherDaemons []outboxclaim.Held `json:"otherDaemonClaims,omitempty"`
	// SharedID, when set, is another live process using this daemon's id on the outbox (a copied
	// state folder): this daemon claims nothing there until it gets an id of its own.
	SharedID *outboxclaim.Conflict `json:"sharedDaemonId,omitempty"`
}

// OutboxUnavailable is the meta value recording an unavailable outbox; problem is the watcher's
// word for it (missing, denied, unreadable).
func OutboxUnavailable(problem string, since time.Time, err error) string {
	o := Outbox{State: problem, Since: since.UTC().Format(time.RFC3339)}
	if err != nil {
		o.Error = err.Error()
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// outboxOf reads what the daemon recorded; without a fresh heartbeat nobody watches the outbox.
func outboxOf(ctx context.Context, j *spool.Journal, key string, beat spool.Beat, now time.Time) Outbox {
	if !alive(beat, now) {
		return Outbox{State: "unknown"}
	}
	v, _, err := j.Meta(ctx, key)
	if err != nil || v == "" {
		return Outbox{State: "available"}
	}
	var o Outbox
	if json.Unmarshal([]byte(v), &o) != nil || o.State == "" {
		return Outbox{State: "unreadable", Error: v}
	}
	if t, err := time.Parse(time.RFC3339, o.Since); err == nil {
		o.Since = local(t, now)
	}
	return o
}

// otherClaims lists other daemons' claim folders in outbox that hold files, as seen from the daemon
// of stateDir (whose own folder is left out). An outbox that cannot be listed gives none: its
// availability is reported on its own.
func otherClaims(stateDir, outbox string) []outboxclaim.Held {
	id, _ := outboxclaim.ReadID(stateDir)
	held, _ := outboxclaim.Others(outbox, id)
	return held
}

// sharedID is another live process using the daemon id of stateDir on outbox, as its owner record
// says (outboxclaim.Live); nil when none or when the record cannot be read.
func sharedID(stateDir, outbox string, now time.Time) *outboxclaim.Conflict {
	id, _ := outboxclaim.ReadID(stateDir)
	if id == "" {
		return nil
	}
	c, _ := outboxclaim.Live(outbox, id, outboxclaim.Me(stateDir), now)
	return c
}
