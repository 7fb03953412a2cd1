package spool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Delivered is an invoice the inbox pull has written to the customer's inbox folder.
type Delivered struct {
	KsefNumber           string
	Subject              string // the pull subject as configured (cost, sales, subject3, authorized)
	Path                 string // where the file was written
	PermanentStorageDate time.Time
}

// ksefNumberKey is the dedupe key: KSeF numbers differ only in letter case between sources.
func ksefNumberKey(n string) string { return strings.ToUpper(strings.TrimSpace(n)) }

// deliveredChunk is how many KSeF numbers one DeliveredAmong query asks about (SQLite allows
// 32,766 parameters).
const deliveredChunk = 1000

// queryDeliveredAmong is DeliveredAmong's query for n numbers.
func queryDeliveredAmong(n int) string {
	return `SELECT ksef_number_key FROM delivered WHERE nip = ? AND ksef_number_key IN (?` + strings.Repeat(",?", n-1) + `)`
}

// DeliveredAmong returns which of ksefNumbers (compared case-insensitively) were already delivered
// for nip, keyed as given. A pull asks once for a whole package, a thousand numbers a query: asking
// invoice by invoice cost a 10,000-invoice package half a CPU-second.
func (j *Journal) DeliveredAmong(ctx context.Context, nip string, ksefNumbers []string) (map[string]bool, error) {
	byKey := make(map[string][]string, len(ksefNumbers))
	keys := make([]any, 0, len(ksefNumbers))
	for _, n := range ksefNumbers {
		k := ksefNumberKey(n)
		if _, dup := byKey[k]; !dup {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], n)
	}
	done := map[string]bool{}
	for chunk := range slices.Chunk(keys, deliveredChunk) {
		rows, err := j.db.QueryContext(ctx, queryDeliveredAmong(len(chunk)), append([]any{nip}, chunk...)...)
		if err != nil {
			return nil, fmt.Errorf("delivered among: %w", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, fmt.Errorf("delivered among: %w", err)
			}
			for _, n := range byKey[k] {
				done[n] = true
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("delivered among: %w", err)
		}
	}
	return done, nil
}

// CommitPull records the invoices one export delivered and advances the cursor past them in ONE
// transaction, so a crash can never leave the cursor ahead of what was delivered (which would skip
// invoices) nor deliveries without their cursor (DeliveredAmong dedupes those on the next pull).
// A zero cursor records the deliveries and leaves the cursor as it is; otherwise the cursor only
// moves forward: a cursor at or before the stored one is ignored, so a slow pull finishing after a
// faster one can never rewind it. Marking an already delivered KSeF number again keeps the first
// record and is not an error.
func (j *Journal) CommitPull(ctx context.Context, nip, subject string, cursor time.Time, delivered []Delivered) error {
	err := j.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range delivered {
			if err := j.markDelivered(ctx, tx, nip, d); err != nil {
				return err
			}
		}
		if cursor.IsZero() {
			return nil
		}
		return j.putCursor(ctx, tx, nip, subject, cursor)
	})
	if err != nil {
		return fmt.Errorf("commit pull %s: %w", subject, err)
	}
	return nil
}

func (j *Journal) markDelivered(ctx context.Context, tx *sql.Tx, nip string, d Delivered) error {
	if ksefNumberKey(d.KsefNumber) == "" {
		return errors.New("empty KSeF number")
	}
	psd, err := encodeTime(d.PermanentStorageDate)
	if err != nil {
		return fmt.Errorf("%s: %w", d.KsefNumber, err)
	}
	now, err := encodeTime(j.now())
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO delivered
		(nip, ksef_number_key, ksef_number, subject, path, permanent_storage_date, delivered_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(nip, ksef_number_key) DO NOTHING`,
		nip, ksefNumberKey(d.KsefNumber), d.KsefNumber, d.Subject, d.Path, psd, now)
	if err != nil {
		return fmt.Errorf("%s: %w", d.KsefNumber, err)
	}
	return nil
}

// Cursor returns the pull cursor of nip and subject and whether one was ever committed.
func (j *Journal) Cursor(ctx context.Context, nip, subject string) (time.Time, bool, error) {
	var s string
	err := j.db.QueryRowContext(ctx, `SELECT cursor FROM cursors WHERE nip = ? AND subject = ?`, nip, subject).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cursor %s: %w", subject, err)
	}
	t, err := decodeTime(s)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cursor %s: %w", subject, err)
	}
	return t, true, nil
}

func (j *Journal) putCursor(ctx context.Context, tx *sql.Tx, nip, subject string, cursor time.Time) error {
	if cursor.IsZero() {
		return errors.New("zero cursor")
	}
	var enc timeEncoder
	c, now := enc.time(cursor), enc.time(j.now())
	if enc.err != nil {
		return enc.err
	}
	// Fixed-width UTC text compares like the times it encodes, so SQL can do the "forward only" check.
	_, err := tx.ExecContext(ctx, `INSERT INTO cursors(nip, subject, cursor, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT(nip, subject) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
		WHERE excluded.cursor > cursors.cursor`, nip, subject, c, now)
	return err
}

// Cursors returns every pull cursor of nip by subject.
func (j *Journal) Cursors(ctx context.Context, nip string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := j.eachRow(ctx, `SELECT subject, cursor FROM cursors WHERE nip = ?`, []any{nip}, func(rows *sql.Rows) error {
		var subject, s string
		if err := rows.Scan(&subject, &s); err != nil {
			return err
		}
		t, err := decodeTime(s)
		if err != nil {
			return fmt.Errorf("cursor %s: %w", subject, err)
		}
		out[subject] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cursors: %w", err)
	}
	return out, nil
}
