package engine

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

// Online sessions whose key KSeF could not decrypt. Production has answered the first send into a
// freshly opened session with 400 21180 "Status sesji (415) uniemożliwia wysyłkę faktur."
// (CIRFMF/ksef-api #689, #653; #123 on the test system): the open was answered 201, but the
// session's status is 415 "Błąd odszyfrowania dostarczonego klucza" (open-api.json,
// SessionStatusResponse), and it takes nothing. One such session is worth one more try with KSeF's
// public keys fetched again (a key list gone stale without the 21470 that makes the client refetch
// it). When the next session fails the same way, more sessions would only spend the onlineSession
// budget while the invoice is never reported, so no session is opened for this company for a
// while (doubling, up to keyPauseMax) and the operator is told what to do.

// ErrSessionKeyRefused marks a step that could not send because KSeF could not decrypt the keys of
// our last sessions: retrying at once does not help. `send` stops at once; the daemon tries again
// after the pause and says so in the log.
var ErrSessionKeyRefused = errors.New("KSeF could not decrypt our session keys; sending is paused")

const (
	keyRefusalsBeforePause = 2                // sessions in a row whose key KSeF could not decrypt
	keyPauseFirst          = 15 * time.Minute // the first pause; each further refused session doubles it
	keyPauseMax            = 4 * time.Hour
	keyRefusalsNamed       = 3 // the newest sessions the error names, for KSeF's support
)

// keyRefusals are the online sessions in a row whose key KSeF could not decrypt, since the last
// send KSeF took, and until when no session is opened. In memory: a restart tries again.
type keyRefusals struct {
	count       int
	newest      []string // the newest keyRefusalsNamed session references, oldest first
	pausedUntil time.Time
}

// keyPauseError says that sessions are paused, in the operator's language.
type keyPauseError struct{ text string }

func (e *keyPauseError) Error() string        { return e.text }
func (e *keyPauseError) Is(target error) bool { return target == ErrSessionKeyRefused }

// firstSendRefused handles KSeF's 21180 on the first send into the current online session: it reads
// the session's status before the session is dropped, and counts a 415 (keyRefused). It returns
// the pause's error when this refusal starts one.
func (e *Engine) firstSendRefused(ctx context.Context) error {
	s := e.online.session
	st, err := e.sendK.SessionStatus(ctx, s.ReferenceNumber)
	e.dropOnline(ctx)
	if err != nil || st.Status.Code != 415 {
		return nil // a session used up in some other way: the invoice goes into a new one
	}
	return e.keyRefused(s.ReferenceNumber)
}

// keyRefused records a session whose key KSeF could not decrypt: the client fetches KSeF's public
// keys again for the next session, and after keyRefusalsBeforePause such sessions in a row no
// session is opened until the pause ends. It returns the pause's error when one starts.
func (e *Engine) keyRefused(ref string) error {
	e.sendK.ForgetPublicKeys()
	k := &e.keyRefusals
	k.count++
	k.newest = append(k.newest, ref)
	if len(k.newest) > keyRefusalsNamed {
		k.newest = k.newest[1:]
	}
	if k.count < keyRefusalsBeforePause {
		e.log.Warn("KSeF could not decrypt the session key (session status 415); fetching its public keys again for a new session",
			"session", ref)
		return nil
	}
	pause := min(keyPauseFirst<<min(k.count-keyRefusalsBeforePause, 8), keyPauseMax)
	k.pausedUntil = e.now().Add(pause)
	return e.keysPaused()
}

// keysPaused is the pause's error while no session may be opened, nil otherwise.
func (e *Engine) keysPaused() error {
	left := e.keyPauseLeft()
	if left <= 0 {
		return nil
	}
	k := &e.keyRefusals
	text := e.opt.Lang.T(msg.SendKeyRefused, k.count, left.Round(time.Minute), strings.Join(k.newest, ", "))
	return &keyPauseError{text: text}
}

// keyPauseLeft is how long sessions stay paused (0 when they are not).
func (e *Engine) keyPauseLeft() time.Duration {
	return max(e.keyRefusals.pausedUntil.Sub(e.now()), 0)
}

// keysProblem is cause when it is the pause, for the step's error (`send` stops on it).
func keysProblem(cause error) error {
	if errors.Is(cause, ErrSessionKeyRefused) {
		return cause
	}
	return nil
}
